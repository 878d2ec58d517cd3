"W&B logging, checked by reading back what was really written (W&B offline, no network), and tracked runs."
import argparse, subprocess, sys, warnings
from pathlib import Path
import numpy as np
import pytest
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.metrics import metric_goal
from fnn_nbdev.model import FNN
from fnn_nbdev.data import make_spirals, split
from fnn_nbdev.config import RunConfig
from fnn_nbdev.records import RunRecorder, load_run, read_rows
from fnn_nbdev.tracking import WandbCallback, run_tracked, tracking_callbacks, finish_tracking, resolve_mode
from fnn_nbdev.cli import add_tracking_args, tracking_callbacks_from_args
from fnn_nbdev.wandb_file import read_wandb_records, read_wandb_run, epoch_rows

X, y = make_spirals(400, classes=3, noise=0.2, seed=0)
(XT, YT), (XV, YV) = split(X, y, (0.75, 0.25), seed=0)

@pytest.fixture
def offline(monkeypatch, tmp_path):
    "W&B offline, every W&B folder inside this test's temp dir, no credentials anywhere."
    for k in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"): monkeypatch.setenv(k, str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return tmp_path

def rows_with(wb, key): return [r for r in wb["history"] if key in r]

def test_wandb_offline_logs_exactly_the_history(offline):
    model = FNN([2, 32, 32, 3], "relu", seed=0)
    cb = WandbCallback(project="t", dir=offline, log_every=5, class_names=["a", "b", "c"])
    hist = model.fit(XT, YT, epochs=12, batch_size=16, lr=1e-2, validation_data=(XV, YV), callbacks=[cb], progress=False)
    h = hist.history
    assert cb.info["mode"] == "offline" and cb.info["url"] is None and cb.info["sync"].startswith("wandb sync ")
    assert cb.run_info == {"wandb": cb.info}
    folder = cb.info["dir"]
    records = read_wandb_records(folder, wait=20)
    kinds = [r.WhichOneof("record_type") for r in records]
    assert kinds[-1] == "exit" and "header" in kinds
    wb = read_wandb_run(folder)
    epochs = epoch_rows(wb)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"): assert [r[key] for r in epochs] == h[key], key
    assert [r["epoch"] for r in epochs] == list(range(1, 13))
    assert not {"train_loss", "val_acc", "train_acc"} & {k for r in wb["history"] for k in r}   # one vocabulary
    for r in epochs:
        for i in (1, 2, 3):
            for k in (f"params/W{i}", f"params/b{i}", f"grads/W{i}", f"grads/b{i}"):
                assert r[k]["_type"] == "histogram" and sum(r[k]["values"]) > 0
            assert r[f"grad_norm/layer{i}"] > 0
        assert r["grad_norm/global"] ** 2 == pytest.approx(sum(r[f"grad_norm/layer{i}"] ** 2 for i in (1, 2, 3)), rel=1e-6)
        assert 0 <= r["dead_frac/layer1"] <= 1 and "act_std/layer2" in r
    assert sum(epochs[0]["params/W2"]["values"]) == 32 * 32                     # every weight counted
    steps = 12 * -(-len(XT) // 16)
    assert [r["step"] for r in rows_with(wb, "batch_loss")] == list(range(5, steps + 1, 5))
    cm = rows_with(wb, "confusion_matrix_table")
    assert len(cm) == 1 and cm[0]["confusion_matrix_table"]["_type"] == "table-file"
    best = int(np.argmax(h["val_accuracy"]))
    assert wb["summary"]["best_val_accuracy"] == h["val_accuracy"][best]
    assert wb["summary"]["best_val_accuracy_epoch"] == best + 1
    assert wb["summary"]["status"] == "finished"
    assert wb["config"]["model"]["sizes"] == [2, 32, 32, 3] and wb["config"]["epochs"] == 12
    assert "evaluate" not in vars(model)                        # the model is left as it was: nothing patched onto it

def test_every_curve_of_the_record_is_in_the_wandb_file_under_the_same_name(offline):
    res, run = run_tracked(dict(dataset="spirals", epochs=8, hidden=[16]), run_dir=offline / "runs" / "a", wandb="offline",
                           group="g")
    rows = read_rows(run.path / "history.jsonl")[0]
    wb = read_wandb_run(run.summary["wandb"]["dir"], wait=20)
    logged = epoch_rows(wb)
    assert len(rows) == len(logged) == 8
    for row, w in zip(rows, logged):
        scalars = {k: v for k, v in w.items() if not k.startswith("_") and not isinstance(v, dict)}
        assert set(scalars) == set(row), set(scalars) ^ set(row)
        assert scalars == row
    assert {"loss", "val_loss", "val_accuracy", "grad_norm/layer1", "dead_frac/layer1"} <= set(rows[0])
    # the final metrics: the same names in both summaries, ExperimentResult.final's
    assert run.summary["final"] == res.final
    assert {k: wb["summary"][k] for k in res.final} == res.final
    assert "test_accuracy" in res.final and not [k for k in wb["summary"] if "/" in k and k.split("/")[0] in ("train", "val", "test")]
    assert run.summary["wandb"]["mode"] == "offline" and str(offline / "runs" / "a" / "wandb") in run.summary["wandb"]["dir"]
    assert wb["config"]["hidden"] == [16] and wb["config"]["dataset"] == "spirals"
    assert rows_with(wb, "confusion_matrix_table")

@pytest.mark.parametrize("monitor", ["val_loss", "val_acc"])
def test_best_epoch_of_record_and_wandb_follow_metric_goal(offline, monitor):
    key = {"val_acc": "val_accuracy"}.get(monitor, monitor)
    cbs = [RunRecorder(offline / "r", monitor=monitor), WandbCallback(dir=offline / "w", monitor=monitor)]
    h = FNN([2, 16, 3], "relu", seed=0).fit(XT, YT, epochs=15, lr=3e-2, validation_data=(XV, YV), progress=False,
                                           callbacks=cbs).history
    v = np.asarray(h[key])
    pick = np.argmin if metric_goal(key) == "min" else np.argmax
    other = np.argmax if pick is np.argmin else np.argmin
    want = int(pick(v)) + 1
    assert want != int(other(v)) + 1                                   # the direction matters on this run
    assert load_run(offline / "r").summary["best"] == {"metric": key, "value": h[key][want - 1], "epoch": want}
    wb = read_wandb_run(cbs[1].info["dir"], wait=20)
    assert wb["summary"][f"best_{key}_epoch"] == want and wb["summary"][f"best_{key}"] == h[key][want - 1]

def test_run_tracked_checks_the_config_once(tmp_path, monkeypatch):
    seen = []
    check = RunConfig.__post_init__
    def counted(self):
        seen.append(1)
        check(self)
    monkeypatch.setattr(RunConfig, "__post_init__", counted)
    res, run = run_tracked({"dataset": "xor", "hidden": [4], "epochs": 2}, run_dir=tmp_path / "r")
    assert len(seen) == 1 and run.config == res.config
    seen.clear()
    run_tracked(RunConfig(dataset="xor", epochs=2), run_dir=tmp_path / "r2")
    assert len(seen) == 1                                             # the one check of the RunConfig itself

def test_run_tracked_records_a_failure_before_training(tmp_path):
    with pytest.raises(ConfigError, match="learning_rate"):
        run_tracked({"dataset": "moons", "learning_rate": 0.1}, run_dir=tmp_path / "bad")
    run = load_run(tmp_path / "bad")
    assert run.status == "failed" and run.summary["error"]["type"] == "ConfigError" and run.rows == []

def test_run_tracked_refuses_a_used_folder_before_anything_runs(tmp_path):
    run_tracked({"dataset": "xor", "epochs": 3}, run_dir=tmp_path / "r")
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    for bad in ({"dataset": "xor", "epochs": 2}, {"dataset": "moons", "learning_rate": 0.1}):   # a good and a bad config
        with pytest.raises(ConfigError, match=r"^run_dir: expected a folder without a run record"):
            run_tracked(bad, run_dir=tmp_path / "r")
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before
    res, run = run_tracked({"dataset": "xor", "epochs": 2}, run_dir=tmp_path / "r", overwrite=True)
    assert run.epochs == [1, 2] and run.summary["final"] == res.final

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
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb = WandbCallback()
        FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=2, validation_data=(XV, YV), progress=False, callbacks=[cb])
    assert cb.info["mode"] == "disabled"
    np.testing.assert_array_equal(np.random.get_state()[1], before)

def test_mode_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_mode() == "offline"                        # not logged in: offline
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode() == "disabled"
    assert resolve_mode("offline") == "offline"               # an explicit mode wins over the environment
    with pytest.warns(RuntimeWarning, match="no API key"): assert resolve_mode("online") == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "x" * 40 + "\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.delenv("WANDB_MODE")
    assert resolve_mode() == "online"
    with pytest.raises(ConfigError, match="mode"): resolve_mode("cloud")

def test_cli_flags_give_the_callbacks(tmp_path):
    from fnn_nbdev.config import make_config
    from fnn_nbdev.experiment import run_experiment
    p = add_tracking_args(argparse.ArgumentParser())
    args = p.parse_args(["--run_dir", str(tmp_path / "cli"), "--wandb", "disabled", "--wandb-group", "g1"])
    assert (args.wandb, args.wandb_group, args.wandb_project, args.overwrite) == ("disabled", "g1", "fnn_nbdev", False)
    cfg = make_config(dataset="xor", epochs=5)
    cbs = tracking_callbacks_from_args(args, cfg)
    assert [type(c).__name__ for c in cbs] == ["ActivationStats", "RunRecorder", "WandbCallback"]
    res = run_experiment(cfg, callbacks=cbs, progress=False)
    lines = finish_tracking(cbs, res)
    run = load_run(tmp_path / "cli")
    assert lines == [f"run record: {tmp_path / 'cli'}"] and run.config == cfg
    assert run.summary["final"] == res.final and run.summary["wandb"]["mode"] == "disabled"
    assert tracking_callbacks_from_args(p.parse_args([]), cfg) == []
    with pytest.raises(ConfigError, match="--overwrite"): tracking_callbacks_from_args(args, cfg)   # claimed at once
    assert len(tracking_callbacks_from_args(p.parse_args(["--run-dir", str(tmp_path / "cli"), "--overwrite"]), cfg)) == 2

def fnn(*args):
    return subprocess.run([str(Path(sys.executable).with_name("fnn")), *args], capture_output=True, text=True, timeout=180)

def test_cli_refuses_a_used_run_dir_and_overwrite_leaves_no_trace(offline):
    rd = offline / "run"
    first = fnn("train", "--dataset=xor", "--epochs=4", "--no-progress", "--run-dir", str(rd), "--wandb", "offline")
    assert first.returncode == 0, first.stderr
    old_wandb = sorted(p.name for p in (rd / "wandb").iterdir() if p.name.startswith("offline-run"))
    before = {str(p.relative_to(rd)): p.read_bytes() for p in rd.rglob("*") if p.is_file()}
    again = fnn("train", "--dataset=xor", "--epochs=2", "--run-dir", str(rd))       # progress bar on: still one line
    assert again.returncode == 2, again.stderr
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fnn train: error: run_dir: expected a folder without a run record, got '{rd}'")
    assert "--overwrite" in lines[0] and again.stdout == ""
    assert {str(p.relative_to(rd)): p.read_bytes() for p in rd.rglob("*") if p.is_file()} == before
    new = fnn("train", "--dataset=xor", "--epochs=2", "--no-progress", "--run-dir", str(rd), "--overwrite")
    assert new.returncode == 0, new.stderr
    run = load_run(rd)
    assert run.epochs == [1, 2] and run.config["epochs"] == 2 and "wandb" not in run.summary
    assert sorted(p.name for p in rd.iterdir()) == ["config.json", "history.jsonl", "model.npz", "summary.json"]
    assert old_wandb and not (rd / "wandb").exists()

def test_importing_the_tracking_floor_loads_neither_wandb_nor_matplotlib():
    code = ("import sys, fnn_nbdev.records, fnn_nbdev.tracking, fnn_nbdev.wandb_file, fnn_nbdev.run_panel, fnn_nbdev.plots; "
            "print(sorted(m for m in ('wandb', 'matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
