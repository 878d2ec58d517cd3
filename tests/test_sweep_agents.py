"W&B's engine: the sweep file `wandb sweep` reads, and the argument list W&B's agent builds from it, run by `fnn train`."
import json
from unittest import mock
import pytest
import yaml
from fnn_nbdev import cli
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.sweep_space import load_sweep_config, sample_params, sweep_space
from fnn_nbdev.sweep_agents import FNN_COMMAND, agent_command, wandb_sweep, wandb_sweep_config, write_wandb_sweep_file

wandb_utils = pytest.importorskip("wandb.sdk.launch.sweeps.utils")   # W&B's own reader of sweep files and macro expansion

# a cheap trial: one epoch on 200 points, with every kind of value an agent passes: numbers, names, a list, a bool, a dict
CHEAP = {"method": "bayes", "metric": {"name": "val_acc"},
         "early_terminate": {"type": "hyperband", "min_iter": 3},
         "parameters": {"dataset": {"value": "moons"}, "n_samples": {"value": 200}, "epochs": {"value": 1},
                        "hidden": {"values": [[8], [8, 8]]}, "activation": {"values": ["relu", "tanh"]},
                        "lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 0.1},
                        "standardize": {"values": [True, False]},
                        "lr_schedule": {"parameters": {"name": {"value": "step"}, "step_size": {"values": [1, 2]}}}}}
WANDB_TOP_KEYS = {"program", "command", "method", "metric", "parameters", "name", "description", "early_terminate",
                  "run_cap", "project", "entity"}   # W&B's documented top-level keys that this package uses
WANDB_SPEC_KEYS = {"value", "values", "probabilities", "distribution", "min", "max", "mu", "sigma", "q", "a", "b", "parameters"}

def test_wandb_sweep_file_has_the_shape_wandb_expects(tmp_path):
    path = write_wandb_sweep_file(CHEAP, tmp_path / "sweep.yaml")
    data = wandb_utils.load_sweep_config(str(path))                 # what `wandb sweep sweep.yaml` reads
    assert data == yaml.safe_load(path.read_text()) == load_sweep_config(path)
    assert set(data) <= WANDB_TOP_KEYS and {"program", "method", "metric", "parameters"} <= set(data)
    assert data["program"] == "fnn" and data["command"] == FNN_COMMAND == ["${env}", "fnn", "train", "${args}"]
    assert data["metric"] == {"name": "val_accuracy", "goal": "maximize"}          # the logged name, the goal explicit
    assert data["parameters"] == CHEAP["parameters"] and data["early_terminate"] == CHEAP["early_terminate"]
    def spec_keys(ps): return {k for s in ps.values() for k in s} | {k for s in ps.values() if "parameters" in s for k in spec_keys(s["parameters"])}
    assert spec_keys(data["parameters"]) <= WANDB_SPEC_KEYS
    own = write_wandb_sweep_file({**CHEAP, "program": "train.py"}, tmp_path / "own.yaml")
    assert "command" not in yaml.safe_load(own.read_text())          # a program of one's own runs under W&B's default command
    with pytest.raises(ConfigError, match="early_terminate.type"):
        write_wandb_sweep_file({**CHEAP, "early_terminate": {"type": "median", "min_iter": 2}}, tmp_path / "m.yaml")

@pytest.mark.parametrize("seed", [0, 1])
def test_fnn_train_accepts_the_argv_wandb_agent_builds(seed, tmp_path, capsys):
    path = write_wandb_sweep_file(CHEAP, tmp_path / "sweep.yaml")
    params = sample_params(sweep_space(load_sweep_config(path)), seed=seed)
    argv = agent_command(path, params)
    wandb_args = wandb_utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    assert argv == ["/usr/bin/env", "fnn", "train", *wandb_args["args"]]          # W&B's own ${args} expansion
    assert cli.main(argv[2:] + ["--no-progress", "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert {k: ran["config"][k] for k in params} == params

def test_every_macro_expands_as_wandbs_agent_expands_it(monkeypatch):
    monkeypatch.setenv("FNN_TEST_FLAG", "--quiet")
    macros = ["args", "args_no_hyphens", "args_no_equals", "args_no_boolean_flags", "args_json", "args_append_hydra",
              "args_override_hydra"]
    params = {"lr": 0.01, "standardize": False, "hidden": [8, 8], "lr_schedule": {"name": "step"}}
    wandb_args = wandb_utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    for m in macros:
        assert agent_command({**CHEAP, "command": ["x", "${" + m + "}"]}, params) == ["x", *wandb_args[m]], m
    cmd = agent_command({**CHEAP, "program": "train.py", "command": ["${env}", "${interpreter}", "${program}", "${envvar:FNN_TEST_FLAG}"]}, params)
    assert cmd == ["/usr/bin/env", "python", "train.py", "--quiet"]
    assert agent_command({**CHEAP, "program": "train.py"}, {"lr": 0.1}) == ["/usr/bin/env", "python", "train.py", "--lr=0.1"]
    with pytest.raises(ConfigError, match="program: expected the program"): agent_command(CHEAP, params)

def test_wandb_sweep_registers_the_checked_config_and_runs_an_agent():
    import wandb
    with mock.patch.object(wandb, "sweep", return_value="k3x9p2") as sw, mock.patch.object(wandb, "agent") as ag:
        path = wandb_sweep({**CHEAP, "metric": {"name": "val_accuracy"}}, count=3, project="p", entity="e", print_fn=lambda *a: None)
    assert path == "e/p/k3x9p2" and sw.call_args.args[0] == wandb_sweep_config(CHEAP)
    assert sw.call_args.args[0]["metric"] == {"name": "val_accuracy", "goal": "maximize"}
    assert ag.call_args.args[0] == "k3x9p2" and ag.call_args.kwargs["count"] == 3
