"Run records on disk and W&B logging, checked by reading back what was really written (W&B offline, no network)."
import argparse, json, subprocess, sys, warnings
import numpy as np
import pytest
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.model import FNN
from fnn_nbdev.data import make_spirals, make_regression_1d, split
from fnn_nbdev.train import Callback
from fnn_nbdev.tracking import (RunRecorder, WandbCallback, load_run, list_runs, run_tracked, tracking_callbacks,
                                add_tracking_args, tracking_callbacks_from_args, finish_tracking, read_wandb_records,
                                read_wandb_run, resolve_mode)

X, y = make_spirals(400, classes=3, noise=0.2, seed=0)
(XT, YT), (XV, YV) = split(X, y, (0.75, 0.25), seed=0)

@pytest.fixture
def offline(monkeypatch, tmp_path):
    "W&B offline, every W&B folder inside this test's temp dir, no credentials anywhere."
    for k in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"): monkeypatch.setenv(k, str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_MODE", "offline"); monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False); monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return tmp_path

def rows_with(wb, key): return [r for r in wb["history"] if key in r]

def test_wandb_offline_logs_exactly_the_history(offline):
    model = FNN([2, 32, 32, 3], "relu", seed=0)
    cb = WandbCallback(project="t", dir=offline, log_every=5, class_names=["a", "b", "c"])
    hist = model.fit(XT, YT, epochs=12, batch_size=16, lr=1e-2, validation_data=(XV, YV), callbacks=[cb], progress=False)
    h = hist.history
    assert cb.info["mode"] == "offline" and cb.info["url"] is None and cb.info["sync"].startswith("wandb sync ")
    folder = cb.info["dir"]
    records = read_wandb_records(folder, wait=20)
    kinds = [r.WhichOneof("record_type") for r in records]
    assert kinds[-1] == "exit" and "header" in kinds
    wb = read_wandb_run(folder)
    epochs = rows_with(wb, "train_loss")
    # the original project's curves, value for value
    assert [r["train_loss"] for r in epochs] == h["loss"]
    assert [r["val_loss"] for r in epochs] == h["val_loss"]
    assert [r["accuracy"] for r in epochs] == h["accuracy"]
    assert [r["val_acc"] for r in epochs] == h["val_accuracy"]
    assert [r["lr"] for r in epochs] == h["lr"] and [r["epoch"] for r in epochs] == list(range(1, 13))
    for r in epochs:
        for i in (1, 2, 3):
            for k in (f"params/W{i}", f"params/b{i}", f"grads/W{i}", f"grads/b{i}"):
                assert r[k]["_type"] == "histogram" and sum(r[k]["values"]) > 0
            assert r[f"grad_norm/layer{i}"] > 0
        assert r["grad_norm/global"] ** 2 == pytest.approx(sum(r[f"grad_norm/layer{i}"] ** 2 for i in (1, 2, 3)), rel=1e-6)
        assert 0 <= r["dead_frac/layer1"] <= 1 and "act_std/layer2" in r
    assert sum(epochs[0]["params/W2"]["values"]) == 32 * 32                     # every weight counted
    steps = 12 * -(-len(XT) // 16)
    batch = rows_with(wb, "batch_loss")
    assert [r["step"] for r in batch] == list(range(5, steps + 1, 5))
    cm = rows_with(wb, "confusion_matrix_table")
    assert len(cm) == 1 and cm[0]["confusion_matrix_table"]["_type"] == "table-file"
    best = int(np.argmax(h["val_accuracy"]))
    assert wb["summary"]["best_val_acc"] == h["val_accuracy"][best]
    assert wb["summary"]["best_val_acc_epoch"] == best + 1
    assert wb["summary"]["status"] == "finished"
    assert wb["config"]["model"]["sizes"] == [2, 32, 32, 3] and wb["config"]["epochs"] == 12
    assert "evaluate" not in vars(model)                        # the evaluate hook is removed after fit

def test_run_tracked_offline_writes_both_records(offline):
    res, run = run_tracked(dict(dataset="spirals", epochs=8, hidden=[16]), run_dir=offline / "runs" / "a", wandb="offline",
                           group="g")
    assert run.status == "finished" and run.history["loss"] == res.history["loss"]
    assert run.summary["metrics"]["test"] == res.metrics["test"]
    info = run.summary["wandb"]
    assert info["mode"] == "offline" and str(offline / "runs" / "a" / "wandb") in info["dir"]
    wb = read_wandb_run(info["dir"], wait=20)
    assert wb["exited"] and [r["train_loss"] for r in rows_with(wb, "train_loss")] == res.history["loss"]
    assert wb["summary"]["test/accuracy"] == res.metrics["test"]["accuracy"]
    assert wb["config"]["hidden"] == [16] and wb["config"]["dataset"] == "spirals"
    assert rows_with(wb, "confusion_matrix_table")

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

def test_run_tracked_records_a_failure_before_training(tmp_path):
    with pytest.raises(ConfigError, match="learning_rate"):
        run_tracked({"dataset": "moons", "learning_rate": 0.1}, run_dir=tmp_path / "bad")
    run = load_run(tmp_path / "bad")
    assert run.status == "failed" and run.summary["error"]["type"] == "ConfigError" and run.rows == []

def test_unwritable_run_dir_warns_once_and_training_completes(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        hist = FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=4, progress=False,
                                                 callbacks=[RunRecorder(tmp_path / "file" / "run")])
    msgs = [str(m.message) for m in w if "RunRecorder" in str(m.message)]
    assert len(msgs) == 1 and "Training continues" in msgs[0]
    assert len(hist.history["loss"]) == 4

def _train_with_broken_wandb(tmp_path):
    cbs = tracking_callbacks({"what": "broken wandb"}, run_dir=tmp_path / "run", wandb="offline")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        hist = FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=3, validation_data=(XV, YV), progress=False, callbacks=cbs)
        finish_tracking(cbs)
    msgs = [str(m.message) for m in w if "W&B" in str(m.message)]
    assert len(msgs) == 1 and "local record only" in msgs[0], msgs
    run = load_run(tmp_path / "run")
    assert len(hist.history["loss"]) == 3 and run.status == "finished" and len(run.rows) == 3
    assert "wandb" not in run.summary
    return msgs[0]

def test_wandb_missing_warns_once_and_keeps_local_record(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)           # `import wandb` now raises ImportError
    assert "cannot be imported" in _train_with_broken_wandb(tmp_path)

def test_wandb_init_failure_warns_once_and_keeps_local_record(tmp_path, monkeypatch):
    import wandb
    def boom(*a, **k): raise RuntimeError("server on strike")
    monkeypatch.setattr(wandb, "init", boom)
    assert "server on strike" in _train_with_broken_wandb(tmp_path)

def test_disabled_mode_is_silent_and_global_random_state_untouched(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    np.random.seed(123); before = np.random.get_state()[1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb = WandbCallback()
        FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=2, validation_data=(XV, YV), progress=False, callbacks=[cb])
    assert cb.info["mode"] == "disabled"
    np.testing.assert_array_equal(np.random.get_state()[1], before)

def test_mode_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False); monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_mode() == "offline"                        # not logged in: offline
    monkeypatch.setenv("WANDB_MODE", "disabled"); assert resolve_mode() == "disabled"
    assert resolve_mode("offline") == "offline"               # an explicit mode wins over the environment
    with pytest.warns(RuntimeWarning, match="no API key"): assert resolve_mode("online") == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "x" * 40 + "\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc")); monkeypatch.delenv("WANDB_MODE")
    assert resolve_mode() == "online"
    with pytest.raises(ConfigError, match="mode"): resolve_mode("cloud")

def test_cli_flags_give_the_callbacks(tmp_path):
    from fnn_nbdev.config import make_config
    from fnn_nbdev.experiment import run_experiment
    p = add_tracking_args(argparse.ArgumentParser())
    args = p.parse_args(["--run_dir", str(tmp_path / "cli"), "--wandb", "disabled", "--wandb-group", "g1"])
    assert (args.wandb, args.wandb_group, args.wandb_project) == ("disabled", "g1", "fnn_nbdev")
    cfg = make_config(dataset="xor", epochs=5)
    cbs = tracking_callbacks_from_args(args, cfg)
    assert [type(c).__name__ for c in cbs] == ["ActivationStats", "RunRecorder", "WandbCallback"]
    res = run_experiment(cfg, callbacks=cbs, progress=False)
    lines = finish_tracking(cbs, res)
    run = load_run(tmp_path / "cli")
    assert lines == [f"run record: {tmp_path / 'cli'}"] and run.config == cfg
    assert run.summary["metrics"]["test"] == res.metrics["test"] and run.summary["wandb"]["mode"] == "disabled"
    assert tracking_callbacks_from_args(p.parse_args([]), cfg) == []

def test_reader_checks_the_framing(tmp_path):
    with pytest.raises(ConfigError, match="W&B run file"):
        (tmp_path / "x.wandb").write_bytes(b"PK\x03\x04junk"); read_wandb_records(tmp_path / "x.wandb")
    # a valid file, built by hand: a record split over two blocks (FIRST + LAST) and one in a single chunk (FULL)
    import struct, zlib
    from wandb.proto import wandb_internal_pb2 as pb
    def chunk(kind, data): return struct.pack("<IHB", zlib.crc32(data, zlib.crc32(bytes([kind]))), len(data), kind) + data
    big = pb.Record(); big.history.item.add(key="x", value_json=json.dumps("a" * 40000))
    small = pb.Record(); small.exit.exit_code = 0
    raw = big.SerializeToString()
    first = 32768 - 7 - 7
    data = b":W&B\xe1\xbe\x00" + chunk(2, raw[:first]) + chunk(4, raw[first:]) + chunk(1, small.SerializeToString())
    (tmp_path / "ok.wandb").write_bytes(data)
    recs = read_wandb_records(tmp_path / "ok.wandb")
    assert [r.WhichOneof("record_type") for r in recs] == ["history", "exit"]
    assert json.loads(recs[0].history.item[0].value_json) == "a" * 40000
    bad = bytearray(data); bad[100] ^= 1
    (tmp_path / "bad.wandb").write_bytes(bytes(bad))
    with pytest.raises(ConfigError, match="checksum"): read_wandb_records(tmp_path / "bad.wandb")

def test_importing_tracking_and_plots_loads_neither_wandb_nor_matplotlib():
    code = "import sys, fnn_nbdev.tracking, fnn_nbdev.plots; print(sorted(m for m in ('wandb', 'matplotlib', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

def test_show_run_online_is_an_iframe_and_offline_draws_the_curves(tmp_path, monkeypatch, capsys):
    import IPython.display as d
    from fnn_nbdev.tracking import show_run, RunPanel
    shown = []
    monkeypatch.setattr(d, "display", lambda obj, **k: shown.append(obj))
    FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=3, validation_data=(XV, YV), progress=False,
                                      callbacks=[RunRecorder(tmp_path / "r")])
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    summary["wandb"] = {"mode": "offline", "sync": "wandb sync X"}
    (tmp_path / "r" / "summary.json").write_text(json.dumps(summary))
    fig = show_run(tmp_path / "r")
    assert len(fig.axes[0].lines[0].get_ydata()) == 3 and "wandb sync X" in capsys.readouterr().out
    summary["wandb"]["url"] = "https://wandb.ai/me/p/runs/abc"
    (tmp_path / "r" / "summary.json").write_text(json.dumps(summary))
    show_run(tmp_path / "r")
    assert isinstance(shown[-1], d.IFrame) and shown[-1].src == "https://wandb.ai/me/p/runs/abc"

def test_probe_statistics_with_per_neuron_activations(tmp_path):
    acts = [["relu"] * 4 + ["tanh"] * 4 + ["sigmoid"] * 4, "softmax"]
    m = FNN([2, 12, 3], acts, seed=0)
    m.layers[0].b[:] = -100.0                              # every hidden unit pushed into its flat region
    m.fit(XT, YT, epochs=2, optimizer="sgd", lr=1e-9, progress=False, callbacks=[RunRecorder(tmp_path / "mixed")])
    h = load_run(tmp_path / "mixed").history
    assert h["dead_frac/layer1"] == [1.0, 1.0] and h["sat_frac/layer1"] == [1.0, 1.0]
