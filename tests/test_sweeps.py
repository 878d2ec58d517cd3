"Sweeps: config checks, the local engine (parallel, W&B offline, resume after a kill, failures), the CLI hooks."
import argparse, contextlib, io, json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
from unittest import mock
import pytest
import yaml
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.sweeps import (load_sweep_config, run_sweep, load_sweep, sample_params, sweep_space, agent_command,
                              wandb_sweep_config, add_sweep_parser)
from fnn_nbdev.records import list_runs, load_run

GOOD = {"method": "random", "metric": {"name": "val_accuracy", "goal": "maximize"},
        "parameters": {"dataset": {"value": "spirals"}, "epochs": {"value": 30},
                       "lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 0.1},
                       "activation": {"values": ["relu", "tanh"]},
                       "n_layers": {"distribution": "int_uniform", "min": 1, "max": 2}, "width": {"values": [16, 32]},
                       "batch_size": {"values": [16, 32]}}}

def with_(**kw): return {**GOOD, **kw}
def params(**kw): return with_(parameters=kw)

BAD = [  # (config, the key the message must start with)
    (with_(method="hyperband"), "method"),
    ({k: v for k, v in GOOD.items() if k != "metric"}, "metric"),
    (with_(metric={"name": "val_loss", "goal": "smallest"}), "metric.goal"),
    (with_(metric={"name": "f1"}), "metric.name"),
    (params(lr={"distribution": "uniform"}), "parameters.lr.min"),
    (params(lr={"distribution": "log_uniform_values", "min": 0.1}), "parameters.lr.max"),
    (params(epochs={"min": 20, "max": 5}), "parameters.epochs.min"),
    (params(lr={"distribution": "uniform", "min": 0.1, "max": 0.01}), "parameters.lr.min"),
    (params(learning_rate={"values": [0.1, 0.01]}), "parameters.learning_rate"),
    (params(activation={"values": []}), "parameters.activation.values"),
    (params(activation={"values": ["relu", "swish2"]}), "parameters.activation.values[1]"),
    (params(lr={"distribution": "gaussian", "mu": 0, "sigma": 1}), "parameters.lr.distribution"),
    (params(lr={"distribution": "normal", "mu": 0.01, "sigma": -1}), "parameters.lr.sigma"),
    (params(lr={"value": 0.1, "vals": [1]}), "parameters.lr.vals"),
    (params(n_layers={"values": [1, 2]}), "parameters.width"),
    (params(hidden={"parameters": {"a": {"value": 1}}}), "parameters.hidden.parameters"),
    (with_(method="grid", parameters={"lr": {"min": 0.001, "max": 0.1}}), "parameters.lr"),
    (with_(early_terminate={"type": "asha", "min_iter": 2}), "early_terminate.type"),
    (with_(parameter=GOOD["parameters"]), "parameter"),
    (with_(command="fnn train"), "command"),
]

@pytest.mark.parametrize("cfg,key", BAD, ids=[k for _, k in BAD])
def test_bad_config_names_the_key(cfg, key):
    with pytest.raises(ConfigError) as e: load_sweep_config(cfg)
    assert str(e.value).startswith(key + ": expected"), str(e.value)

def test_bad_yaml_names_the_file_and_line(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("method: grid\nmetric: {name: val_loss\nparameters: {}\n")
    with pytest.raises(ConfigError, match=r"s.yaml: expected valid YAML, got 'a YAML error \(line 3"): load_sweep_config(f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="config: expected a mapping"): load_sweep_config(f)
    f.write_text("!!python/object/apply:os.system ['echo hi']\n")       # safe_load never builds objects
    with pytest.raises(ConfigError, match="expected valid YAML"): load_sweep_config(f)

def test_yaml_file_equals_dict_and_program_command_pass_through(tmp_path):
    cfg = {**GOOD, "program": "fnn", "command": ["${env}", "fnn", "train", "${args}"]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg))
    loaded = load_sweep_config(tmp_path / "s.yaml")
    assert loaded == load_sweep_config(cfg) and loaded["command"] == cfg["command"]
    assert wandb_sweep_config(loaded)["command"] == cfg["command"]

def test_agent_command_runs_fnn_train(capsys):
    "What W&B's agent executes for `command: [${env}, fnn, train, ${args}]`, given to the real CLI."
    from fnn_nbdev import cli
    cfg = load_sweep_config({**params(dataset={"value": "moons"}, epochs={"value": 5}, hidden={"values": [[8, 8]]},
                                      lr={"min": 0.01, "max": 0.1}), "command": ["${env}", "fnn", "train", "${args}"]})
    p = sample_params(sweep_space(cfg), seed=1)
    cmd = agent_command(cfg, p)
    assert cmd[:3] == ["/usr/bin/env", "fnn", "train"] and f"--lr={p['lr']}" in cmd and "--hidden=[8, 8]" in cmd
    assert cli.main(cmd[2:] + ["--no-progress", "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert {k: ran["config"][k] for k in p} == p

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
    fig = res.plot()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 5                           # one panel per swept parameter

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
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    sdir = files[0].parent
    before = {json.loads(l)["trial_id"] for l in files[0].read_text().splitlines()}
    assert 2 <= len(before) < 8
    stamps = {t: (sdir / t / "summary.json").stat().st_mtime_ns for t in before}
    status = json.loads((sdir / "sweep.json").read_text())["status"]
    if sig == signal.SIGINT: assert proc.returncode == -signal.SIGINT and status == "interrupted" and "KeyboardInterrupt" in proc.stderr.read().decode()
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
    assert args.func(args) == 2 and "config: expected a readable sweep config file" in capsys.readouterr().err

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
