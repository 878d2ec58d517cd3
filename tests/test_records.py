"Local run records: written as the run goes, read back exactly, never mixing two runs in one folder."
import json, threading, warnings
import numpy as np
import pytest
from fnn_nbdev import records
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.model import FNN
from fnn_nbdev.data import make_spirals, make_regression_1d, split
from fnn_nbdev.train import Callback
from fnn_nbdev.records import RunRecorder, load_run, list_runs, new_run_dir, best_epoch, RECORD_FILES

X, y = make_spirals(400, classes=3, noise=0.2, seed=0)
(XT, YT), (XV, YV) = split(X, y, (0.75, 0.25), seed=0)

def fit(run_dir, epochs=3, seed=0, **kw):
    return FNN([2, 8, 3], "relu", seed=seed).fit(XT, YT, epochs=epochs, progress=False, callbacks=[RunRecorder(run_dir, **kw)])

def snapshot(folder):
    "Every file below `folder` with its bytes."
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

def test_local_record_round_trip(tmp_path):
    model = FNN([2, 16, 3], "tanh", seed=1)
    cfg = {"dataset": "spirals", "hidden": [16], "lr": 0.01, "note": np.float32(0.5)}
    hist = model.fit(XT, YT, epochs=6, lr=1e-2, validation_data=(XV, YV), progress=False,
                     callbacks=[RunRecorder(tmp_path / "r1", cfg)])
    run = load_run(tmp_path / "r1")
    assert run.config == {"dataset": "spirals", "hidden": [16], "lr": 0.01, "note": 0.5}
    assert run.status == "finished" and run.epochs == [1, 2, 3, 4, 5, 6]
    for k, v in hist.history.items(): assert run.history[k] == v
    assert run.summary["best"] == {"metric": "val_accuracy", "value": max(hist.history["val_accuracy"]),
                                   "epoch": int(np.argmax(hist.history["val_accuracy"])) + 1}
    np.testing.assert_array_equal(run.load_model().predict_proba(XV), model.predict_proba(XV))
    FNN([2, 4, 3], "relu", seed=0).fit(XT, YT, epochs=1, progress=False, callbacks=[RunRecorder(tmp_path / "sub" / "r2")])
    assert [r.name for r in list_runs(tmp_path)] == ["r1", "r2"]
    assert load_run(tmp_path / "sub" / "r2").config["model"]["sizes"] == [2, 4, 3]   # a plain fit records its own config
    assert not [p for p in (tmp_path / "r1").iterdir() if p.name.startswith(".")]   # no temporary files left

class Raise(Callback):
    order = 100                           # after the recorder: the epoch's row is written first
    def __init__(self, at, exc): self.at, self.exc = at, exc
    def on_epoch_end(self, trainer):
        if trainer.epoch == self.at: raise self.exc

class CountRows(Callback):
    order = 65
    def __init__(self, path): self.path, self.seen = path, []
    def on_epoch_end(self, trainer): self.seen.append(len(self.path.read_text().splitlines()))

def test_history_is_flushed_each_epoch_and_kept_when_the_run_dies(tmp_path):
    rd = tmp_path / "dies"
    counter = CountRows(rd / "history.jsonl")
    with pytest.raises(RuntimeError, match="disk on fire"):
        FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=20, progress=False,
                                          callbacks=[RunRecorder(rd), counter, Raise(4, RuntimeError("disk on fire"))])
    assert counter.seen == [1, 2, 3, 4, 5]               # on disk while the run was still going
    run = load_run(rd)
    assert run.status == "failed" and len(run.rows) == 5
    assert run.summary["error"]["type"] == "RuntimeError" and "disk on fire" in run.summary["error"]["traceback"]
    with open(rd / "history.jsonl", "a") as f: f.write('{"epoch": 6, "loss": 0.')      # a row cut short by a crash
    assert len(load_run(rd).rows) == 5 and load_run(rd).skipped_rows == 1

def test_interrupted_and_diverged_status(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=5, progress=False,
                                          callbacks=[RunRecorder(tmp_path / "ctrl-c"), Raise(1, KeyboardInterrupt())])
    assert load_run(tmp_path / "ctrl-c").status == "interrupted"
    XR, YR = make_regression_1d(200, seed=0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        FNN([1, 32, 1], "relu", loss="mse", seed=0).fit(XR, YR, epochs=20, batch_size=16, optimizer="sgd", lr=1e3,
                                                        progress=False, on_divergence="warn", callbacks=[RunRecorder(tmp_path / "nan")])
    run = load_run(tmp_path / "nan")
    assert run.status == "diverged" and len(run.rows) < 20
    assert all(np.isfinite(p).all() for p in run.load_model().params)

def test_unwritable_run_dir_warns_once_and_training_completes(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        hist = fit(tmp_path / "file" / "run", epochs=4)
    msgs = [str(m.message) for m in w if "RunRecorder" in str(m.message)]
    assert len(msgs) == 1 and "Training continues" in msgs[0]
    assert len(hist.history["loss"]) == 4

def test_probe_statistics_with_per_neuron_activations(tmp_path):
    acts = [["relu"] * 4 + ["tanh"] * 4 + ["sigmoid"] * 4, "softmax"]
    m = FNN([2, 12, 3], acts, seed=0)
    m.layers[0].b[:] = -100.0                              # every hidden unit pushed into its flat region
    m.fit(XT, YT, epochs=2, optimizer="sgd", lr=1e-9, progress=False, callbacks=[RunRecorder(tmp_path / "mixed")])
    h = load_run(tmp_path / "mixed").history
    assert h["dead_frac/layer1"] == [1.0, 1.0] and h["sat_frac/layer1"] == [1.0, 1.0]

# -- one folder, one run -----------------------------------------------------------------------------------------

def test_a_second_run_into_a_used_folder_is_refused_and_the_first_is_untouched(tmp_path):
    rd = tmp_path / "run"
    fit(rd, epochs=4)
    before = snapshot(rd)
    for make in (lambda: RunRecorder(rd), lambda: RunRecorder(rd, monitor="val_acc")):
        with pytest.raises(ConfigError) as e:
            FNN([2, 16, 3], "tanh", seed=1).fit(XT, YT, epochs=2, progress=False, callbacks=[make()])
        msg = str(e.value)
        assert msg.startswith(f"run_dir: expected a folder without a run record, got '{rd}'") and "\n" not in msg
        assert "overwrite=True" in msg and "--overwrite" in msg and "resume=True" in msg
    assert snapshot(rd) == before
    # a folder with other files but no record is fine, and those files stay
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README").write_text("mine")
    fit(tmp_path / "notes", epochs=1)
    assert (tmp_path / "notes" / "README").read_text() == "mine" and load_run(tmp_path / "notes").status == "finished"

def test_a_recorder_used_for_a_second_fit_is_refused_too(tmp_path):
    rec = RunRecorder(tmp_path / "r")
    model = FNN([2, 8, 3], "relu", seed=0)
    model.fit(XT, YT, epochs=2, progress=False, callbacks=[rec])
    with pytest.raises(ConfigError, match="without a run record"):
        FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=2, progress=False, callbacks=[rec])
    assert len(load_run(tmp_path / "r").rows) == 2

def test_overwrite_removes_the_old_record_whole(tmp_path):
    rd = tmp_path / "run"
    fit(rd, epochs=5, seed=0)
    (rd / "wandb" / "offline-run-old").mkdir(parents=True)                 # the first run's W&B folder
    (rd / "wandb" / "offline-run-old" / "run-old.wandb").write_bytes(b":W&B")
    (rd / "mine.txt").write_text("not part of the record")
    hist = fit(rd, epochs=2, seed=3, overwrite=True)
    run = load_run(rd)
    assert run.history["loss"] == hist.history["loss"] and run.epochs == [1, 2]
    assert not (rd / "wandb").exists() and (rd / "mine.txt").exists()
    assert sorted(p.name for p in rd.iterdir()) == sorted([*RECORD_FILES[:4], "mine.txt"])

def test_a_resumed_fit_appends_to_its_record(tmp_path):
    rd = tmp_path / "run"
    model = FNN([2, 8, 3], "relu", seed=0)
    model.fit(XT, YT, epochs=4, validation_data=(XV, YV), progress=False, callbacks=[RunRecorder(rd)])
    full = model.fit(XT, YT, epochs=9, resume=True, validation_data=(XV, YV), progress=False, callbacks=[RunRecorder(rd)])
    run = load_run(rd)
    assert run.epochs == list(range(1, 10)) and run.history["val_loss"] == full.history["val_loss"]
    assert run.summary["epochs_done"] == 9
    assert run.summary["best"]["epoch"] == int(np.argmax(full.history["val_accuracy"])) + 1

def test_generated_run_folders_are_unique_within_one_second(tmp_path, monkeypatch):
    monkeypatch.setattr(records.time, "strftime", lambda fmt, *a: "20250101-120000")   # every call in the same second
    made = [new_run_dir(tmp_path / "runs", "moons") for _ in range(3)]
    assert [p.name for p in made] == ["moons-20250101-120000", "moons-20250101-120000-2", "moons-20250101-120000-3"]
    got, lock = [], threading.Lock()
    def make():
        p = new_run_dir(tmp_path / "runs", "spirals")
        with lock: got.append(p)
    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(set(got)) == 8 and all(p.is_dir() and not any(p.iterdir()) for p in got)

def test_best_epoch_follows_metric_goal():
    rows = [{"epoch": e, "val_loss": v, "val_r2": r} for e, v, r in [(1, 0.5, 0.2), (2, 0.3, 0.6), (3, 0.4, 0.9)]]
    assert best_epoch(rows, "val_loss")["epoch"] == 2          # minimised
    assert best_epoch(rows, "val_r2")["epoch"] == 3            # maximised
    assert best_epoch(rows)["metric"] == "val_loss"            # no val_accuracy logged
    with pytest.raises(ConfigError, match="direction of 'val_speed'"): best_epoch(rows, "val_speed")
    with pytest.raises(ConfigError, match="direction of 'val_speed'"): RunRecorder("x", monitor="val_speed")

def test_other_trackers_note_themselves_through_run_info(tmp_path):
    class Mirror(Callback):
        run_info = {"mirror": {"id": "abc", "url": None}}
    FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=1, progress=False, callbacks=[RunRecorder(tmp_path / "r"), Mirror()])
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["mirror"] == {"id": "abc", "url": None}
