"Sweep configs: W&B's schema checked key by key, every W&B distribution, one metric vocabulary and one direction."
import math
import numpy as np
import pytest
import yaml
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.sweep_space import (DISTRIBUTIONS, load_sweep_config, sweep_space, sample_params, grid_points,
                                   optuna_distributions, check_metric)

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
    (with_(metric={"name": "val_loss", "goal": "maximize"}), "metric.goal"),
    (with_(metric={"name": "val_acc", "goal": "minimize"}), "metric.goal"),
    (with_(metric={"name": "f1"}), "metric.name"),
    (with_(metric={"name": "batch_loss"}), "metric.name"),
    (with_(metric={"name": "val_loss", "impute": "median"}), "metric.impute"),
    (params(lr={"distribution": "uniform"}), "parameters.lr.min"),
    (params(lr={"distribution": "log_uniform_values", "min": 0.1}), "parameters.lr.max"),
    (params(epochs={"min": 20, "max": 5}), "parameters.epochs.min"),
    (params(epochs={"min": 5.0, "max": 20.0}), "parameters.epochs.distribution"),
    (params(lr={"distribution": "uniform", "min": 0.1, "max": 0.01}), "parameters.lr.min"),
    (params(learning_rate={"values": [0.1, 0.01]}), "parameters.learning_rate"),
    (params(activation={"values": []}), "parameters.activation.values"),
    (params(activation={"values": ["relu", "swish2"]}), "parameters.activation.values[1]"),
    (params(lr={"distribution": "gaussian", "mu": 0, "sigma": 1}), "parameters.lr.distribution"),
    (params(lr={"distribution": "normal", "mu": 0.01, "sigma": -1}), "parameters.lr.sigma"),
    (params(dropout={"distribution": "beta", "a": 0, "b": 1}), "parameters.dropout.a"),
    (params(lr={"value": 0.1, "vals": [1]}), "parameters.lr.vals"),
    (params(lr={"distribution": "categorical", "values": [0.1], "probabilities": [1.0]}), "parameters.lr.probabilities"),
    (params(optimizer={"values": ["sgd", "adam"], "probabilities": [0.5, 0.4]}), "parameters.optimizer.probabilities"),
    (params(n_layers={"values": [1, 2]}), "parameters.width"),
    (params(hidden={"parameters": {"a": {"value": 1}}}), "parameters.hidden.parameters"),
    (with_(method="grid", parameters={"lr": {"min": 0.001, "max": 0.1}}), "parameters.lr"),
    (with_(early_terminate={"type": "asha", "min_iter": 2}), "early_terminate.type"),
    (with_(early_terminate={"type": "hyperband", "max_iter": 27}), "early_terminate.min_iter"),
    (with_(parameter=GOOD["parameters"]), "parameter"),
    (with_(command="fnn train"), "command"),
]

@pytest.mark.parametrize("cfg,key", BAD, ids=[f"{i}-{k}" for i, (_, k) in enumerate(BAD)])
def test_bad_config_names_the_key(cfg, key):
    with pytest.raises(ConfigError) as e: load_sweep_config(cfg)
    assert str(e.value).startswith(key + ": expected"), str(e.value)

def test_unknown_parameters_are_listed_with_a_suggestion():
    with pytest.raises(ConfigError) as e: load_sweep_config(params(learning_rate={"value": 0.1}, epoch={"value": 3}))
    msg = str(e.value)
    assert msg.startswith("parameters: expected run settings (dataset,") and "['learning_rate', 'epoch']" in msg
    assert "Did you mean epochs?" in msg

def test_bad_yaml_names_the_file_and_line(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("method: grid\nmetric: {name: val_loss\nparameters: {}\n")
    with pytest.raises(ConfigError, match=r"s.yaml: expected valid YAML, got 'a YAML error at line 3"): load_sweep_config(f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="s.yaml: expected a mapping of settings"): load_sweep_config(f)
    f.write_text("!!python/object/apply:os.system ['echo hi']\n")       # safe_load never builds objects
    with pytest.raises(ConfigError, match="expected valid YAML"): load_sweep_config(f)
    with pytest.raises(ConfigError, match="nope.yaml: expected a readable sweep config"): load_sweep_config(tmp_path / "nope.yaml")

def test_yaml_and_json_files_equal_the_dict(tmp_path):
    import json
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "s.json").write_text(json.dumps(GOOD))
    assert load_sweep_config(tmp_path / "s.yaml") == load_sweep_config(tmp_path / "s.json") == load_sweep_config(GOOD)

@pytest.mark.parametrize("old,new", [("val_acc", "val_accuracy"), ("train_loss", "loss"), ("train_acc", "accuracy"),
                                     ("test_acc", "test_accuracy")])
def test_both_metric_vocabularies_give_the_same_sweep(old, new):
    a, b = load_sweep_config(with_(metric={"name": old})), load_sweep_config(with_(metric={"name": new}))
    assert a == b and a["metric"]["name"] == new

@pytest.mark.parametrize("name,goal", [("val_loss", "minimize"), ("val_accuracy", "maximize"), ("loss", "minimize"),
                                       ("val_rmse", "minimize"), ("val_mae", "minimize"), ("test_r2", "maximize")])
def test_a_missing_goal_comes_from_the_vocabulary(name, goal):
    assert load_sweep_config(with_(metric={"name": name}))["metric"] == {"name": name, "goal": goal}
    assert check_metric({"name": name, "goal": goal})["goal"] == goal

def test_a_goal_against_the_metric_is_refused_and_says_why():
    with pytest.raises(ConfigError) as e: load_sweep_config(with_(metric={"name": "val_loss", "goal": "maximize"}))
    assert str(e.value).startswith("metric.goal: expected 'minimize' (val_loss is better when smaller), got 'maximize'")

# W&B's distributions, as its sweep configuration documents them, each with a spec for the learning rate
WANDB = {"constant": {"value": 0.01}, "categorical": {"values": [0.1, 0.01]},
         "categorical_w_probabilities": {"values": [0.1, 0.01], "probabilities": [0.25, 0.75]},
         "int_uniform": {"min": 1, "max": 3}, "uniform": {"min": 0.001, "max": 0.1},
         "q_uniform": {"min": 0.001, "max": 0.1, "q": 0.001}, "log_uniform": {"min": -7, "max": -2},
         "q_log_uniform": {"min": -7, "max": -2, "q": 0.0001}, "log_uniform_values": {"min": 1e-4, "max": 0.1},
         "q_log_uniform_values": {"min": 1e-4, "max": 0.1, "q": 1e-4}, "inv_log_uniform": {"min": 2, "max": 7},
         "inv_log_uniform_values": {"min": 1e-4, "max": 0.1}, "normal": {"mu": 0.01, "sigma": 0.001},
         "q_normal": {"mu": 0.01, "sigma": 0.001, "q": 0.001}, "log_normal": {"mu": -4.6, "sigma": 0.5},
         "q_log_normal": {"mu": -4.6, "sigma": 0.5, "q": 0.001}, "beta": {"a": 2, "b": 5}, "q_beta": {"a": 2, "b": 5, "q": 0.01}}
RANGE = {"uniform": (0.001, 0.1), "log_uniform": (math.exp(-7), math.exp(-2)), "log_uniform_values": (1e-4, 0.1),
         "inv_log_uniform": (math.exp(-7), math.exp(-2)), "inv_log_uniform_values": (1e-4, 0.1), "beta": (0, 1)}

def test_every_wandb_distribution_is_known():
    assert set(DISTRIBUTIONS) == set(WANDB)

@pytest.mark.parametrize("dist", sorted(WANDB))
def test_every_wandb_distribution_loads_draws_and_maps_to_optuna(dist):
    cfg = load_sweep_config(params(lr={"distribution": dist, **WANDB[dist]}))
    space = sweep_space(cfg)
    draws = np.array([sample_params(space, seed=i)["lr"] for i in range(200)])
    base = dist[2:] if dist.startswith("q_") else dist
    if base in RANGE:
        lo, hi = RANGE[base]
        q = WANDB[dist].get("q", 0)
        assert lo - q <= draws.min() and draws.max() <= hi + q, (draws.min(), draws.max())
    if "q" in WANDB[dist]:
        np.testing.assert_allclose(np.round(draws / WANDB[dist]["q"]) * WANDB[dist]["q"], draws, atol=1e-12)
    if dist != "constant": assert "lr" in optuna_distributions(space)

def test_grid_points_cover_the_grid():
    cfg = load_sweep_config(with_(method="grid", parameters={"activation": {"values": ["relu", "tanh"]},
                                                               "epochs": {"min": 1, "max": 3}, "lr": {"value": 0.1}}))
    pts = grid_points(sweep_space(cfg))
    assert len(pts) == 6 and pts[0] == {"activation": "relu", "epochs": 1, "lr": 0.1}
