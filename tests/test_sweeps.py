"The local sweep engine: parallel workers, W&B offline, resume after a kill or Ctrl-C, failing trials, pruning, the plot, the CLI hook."
import argparse, json, os, signal, subprocess, sys, time
from unittest import mock
import pytest
import yaml
from fnn_nbdev.sweep_space import load_sweep_config, sample_params, sweep_space
from fnn_nbdev.sweeps import run_sweep, load_sweep, Pruner
from fnn_nbdev.cli import add_sweep_parser
from fnn_nbdev.records import list_runs, load_run

from test_sweep_space import GOOD, with_      # one example config for the schema and the engine tests

def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    for k in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"): monkeypatch.setenv(k, str(tmp_path / "wandb-home"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

@pytest.mark.parametrize("method", ["random", "bayes"])
def test_six_trials_two_workers_local_records_and_wandb_offline_runs(method, tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    root = tmp_path / "sweeps"
    res = run_sweep(with_(method=method), count=6, workers=2, root=root, wandb="offline", progress=False)
    assert len(res.trials) == 6 and not res.failed
    runs = list_runs(root / res.sweep_id)
    assert sorted(r.path.name for r in runs) == [f"trial-{i:03d}" for i in range(6)]
    assert all(r.status == "finished" and len(r.history["val_loss"]) == 30 for r in runs)
    offline = sorted(tmp_path.rglob("offline-run-*"))
    assert len(offline) == 6, offline
    assert {r.summary["wandb"]["mode"] for r in runs} == {"offline"}
    assert len({json.dumps(t.params, sort_keys=True) for t in res.trials}) == 6          # six different trials
    assert [t.metric for t in res.trials] == sorted((t.metric for t in res.trials), reverse=True)
    assert res.best.metric > 0.6 and res.best_config["lr"] == res.best.params["lr"]
    assert res.best.metric == res.best.metrics["val_accuracy"] and {"loss", "val_loss", "test_accuracy"} <= set(res.best.metrics)
    from fnn_nbdev.wandb_file import read_wandb_run
    summary = read_wandb_run(res.best.run.summary["wandb"]["dir"], wait=20)["summary"]   # the final metrics, same names
    assert summary["val_accuracy"] == pytest.approx(res.best.metric)
    assert summary["test_accuracy"] == pytest.approx(res.best.metrics["test_accuracy"])
    fig = res.plot()
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in panels] == ["trial", "lr", "activation", "n_layers", "width", "batch_size"]
    for ax in panels:                                     # every point coloured by its trial's place in the order
        assert sorted(ax.collections[0].get_array().tolist()) == list(range(6))
    assert [c.get_offsets()[0, 1] for c in panels[0].collections[1:]] == [res.best.metric]    # the best, starred

def _children(pgid):
    "Processes still alive in the killed sweep's process group (spawned workers included)."
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True).stdout.split("\n")
    return [int(l.split()[0]) for l in out if l.strip() and not l.split()[1].startswith("Z")]

SCRIPT = """
import sys, json
from fnn_nbdev.sweeps import run_sweep
run_sweep(json.loads(sys.argv[1]), count=8, workers=2, root=sys.argv[2], wandb="disabled", progress=False)
"""

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_killed_sweep_resumes_without_repeating_a_trial(sig, tmp_path):
    "SIGKILL to the whole process group (a crash), or SIGINT to it (Ctrl-C in a terminal); then the sweep is resumed."
    cfg = with_(parameters={**GOOD["parameters"], "epochs": {"value": 150}})
    root = tmp_path / "sweeps"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(cfg), str(root)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            files = list(root.glob("*/trials.jsonl"))
            if files and len(files[0].read_text().splitlines()) >= 2: break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        else: pytest.fail("the sweep did not finish two trials in time")
    finally:
        os.killpg(proc.pid, sig)
        try: proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    sdir = files[0].parent
    before = {json.loads(l)["trial_id"] for l in files[0].read_text().splitlines()}
    assert 2 <= len(before) < 8
    stamps = {t: (sdir / t / "summary.json").stat().st_mtime_ns for t in before}
    status = json.loads((sdir / "sweep.json").read_text())["status"]
    if sig == signal.SIGINT:
        assert proc.returncode == -signal.SIGINT and status == "interrupted" and "KeyboardInterrupt" in proc.stderr.read().decode()
    else: assert status == "running"                                                   # killed: never marked done
    deadline = time.monotonic() + 10
    while _children(proc.pid) and time.monotonic() < deadline: time.sleep(0.1)
    assert not _children(proc.pid), "worker processes outlived the sweep"
    res = run_sweep(cfg, count=8, workers=2, root=root, wandb="disabled", progress=False)
    ids = [json.loads(l)["trial_id"] for l in files[0].read_text().splitlines()]
    assert sorted(ids) == [f"trial-{i:03d}" for i in range(8)]                            # each trial exactly once
    assert {t: (sdir / t / "summary.json").stat().st_mtime_ns for t in before} == stamps  # finished ones untouched
    assert len(res.trials) == 8 and res.status == "finished"
    assert all(load_run(sdir / f"trial-{i:03d}").status == "finished" for i in range(8))
    # the resumed trials are the ones a fresh sweep draws: same seed, same parameters
    assert all(t.params == sample_params(sweep_space(load_sweep_config(cfg)), seed=[0, t.index]) for t in res.trials)

def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path):
    cfg = {"method": "grid", "metric": {"name": "val_loss"},
           "parameters": {"dataset": {"value": "moons"}, "epochs": {"value": 5}, "hidden": {"value": [8, 8]},
                          "activation": {"values": ["relu", ["relu", "tanh", "relu"], "tanh"]}}}
    res = run_sweep(cfg, root=tmp_path, workers=2, wandb="disabled", progress=False)
    assert [t.status for t in res.trials] == ["finished", "finished", "failed"]
    bad = res.failed[0]
    assert bad.trial_id == "trial-001" and bad.error.startswith("ConfigError: activation: expected")
    run = load_run(bad.path)
    assert run.status == "failed" and "activation" in run.summary["error"]["message"]
    assert load_sweep(res.path).best.trial_id == res.best.trial_id

@pytest.mark.parametrize("old,new", [("val_acc", "val_accuracy"), ("train_loss", "loss")])
def test_both_metric_vocabularies_run_the_same_sweep(old, new, tmp_path):
    "The original project's name and the vocabulary's name are one sweep: the second call finds the first finished."
    cfg = {"method": "grid", "metric": {"name": old},
           "parameters": {"dataset": {"value": "xor"}, "epochs": {"value": 3}, "lr": {"values": [0.01, 0.1]}}}
    a = run_sweep(cfg, root=tmp_path, wandb="disabled", progress=False)
    b = run_sweep({**cfg, "metric": {"name": new}}, root=tmp_path, wandb="disabled", progress=False)
    assert a.sweep_id == b.sweep_id and (a.metric, b.metric) == (new, new)
    assert len((a.path / "trials.jsonl").read_text().splitlines()) == 2           # nothing ran again
    assert [t.metric for t in a.trials] == [t.metric for t in b.trials] == [t.metrics[new] for t in a.trials]

def test_a_goal_against_the_metric_stops_the_sweep_before_any_trial(tmp_path):
    from fnn_nbdev.errors import ConfigError
    with pytest.raises(ConfigError, match="metric.goal: expected 'minimize'"):
        run_sweep({**GOOD, "metric": {"name": "val_loss", "goal": "maximize"}}, count=2, root=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())

def test_pruner_direction_and_rungs_follow_the_config(tmp_path):
    p = Pruner.from_config({"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}, tmp_path, "t", "val_accuracy")
    assert [e for e in range(1, 40) if p.rung(e)] == [3, 9] and p.sign == -1
    assert Pruner.from_config({"type": "median", "min_iter": 2}, tmp_path, "t", "val_loss").sign == 1

def test_cli_local_and_wandb_online(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="fnn")
    add_sweep_parser(parser.add_subparsers(dest="command", required=True))
    f = tmp_path / "grid.yaml"
    f.write_text(yaml.safe_dump({"method": "grid", "metric": {"name": "val_loss"},
                                 "parameters": {"dataset": {"value": "xor"}, "epochs": {"value": 3}, "lr": {"values": [0.01, 0.1]}}}))
    args = parser.parse_args(["sweep", str(f), "--root", str(tmp_path / "s"), "--wandb", "disabled", "--quiet"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "| 1 | trial-00" in out and "best val_loss=" in out and "params.png" in out
    import wandb
    with mock.patch.object(wandb, "sweep", return_value="q1w2e3") as sw, mock.patch.object(wandb, "agent") as ag:
        args = parser.parse_args(["sweep", str(f), "--wandb", "online", "--entity", "lab", "--project", "fnn", "--count", "4"])
        assert args.func(args) == 0
    assert "wandb agent lab/fnn/q1w2e3" in capsys.readouterr().out
    assert sw.call_args.args[0]["metric"]["name"] == "val_loss" and sw.call_args.kwargs["project"] == "fnn"
    assert ag.call_args.args[0] == "q1w2e3" and ag.call_args.kwargs["count"] == 4
    args = parser.parse_args(["sweep", str(tmp_path / "nope.yaml"), "--wandb", "disabled"])
    assert args.func(args) == 2 and "nope.yaml: expected a readable sweep config" in capsys.readouterr().err

def test_nested_parameters_reach_the_run(tmp_path):
    "W&B's nested `parameters` build a dict setting (here the LR schedule), and the trial trains with it."
    cfg = {"method": "grid", "metric": {"name": "val_acc", "goal": "maximize"},
           "parameters": {"dataset": {"value": "moons"}, "epochs": {"value": 6}, "lr": {"value": 0.02},
                          "lr_schedule": {"parameters": {"name": {"value": "step"}, "step_size": {"values": [2, 3]},
                                                         "gamma": {"value": 0.5}}}}}
    res = run_sweep(cfg, root=tmp_path, wandb="disabled", progress=False)
    assert sorted(t.params["lr_schedule"]["step_size"] for t in res.trials) == [2, 3]
    for t in res.trials:
        k = t.params["lr_schedule"]["step_size"]
        lrs = t.run.history["lr"]
        assert lrs[:k] == pytest.approx([0.02] * k) and lrs[k] == pytest.approx(0.01)
    assert "lr_schedule.step_size" in res.table()
