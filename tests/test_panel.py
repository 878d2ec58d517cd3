"The hyperparameter panel without a browser: controls derived from RunConfig, the config it gives, training threads, tracking."
import json, time
import pytest

W = pytest.importorskip("ipywidgets")
from fnn_nbdev.config import RunConfig
from fnn_nbdev.panel import HyperparameterPanel, SETTINGS, HYPER, setting_control, control_value
from fnn_nbdev.records import new_run_dir


def test_import_fnn_nbdev_does_not_load_widgets():
    import subprocess, sys
    code = "import sys, fnn_nbdev, fnn_nbdev.experiment; print(any(m in sys.modules for m in ('ipywidgets', 'matplotlib')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_controls_come_from_the_settings_declarations():
    p = HyperparameterPanel(dataset="moons", init="xavier_uniform", epochs=12)
    start = p.config().to_dict()
    for name, w in p.controls.items():
        s = SETTINGS[name]
        assert w.tooltip == s.help, name                                       # help → tooltip
        if isinstance(w, W.Dropdown): assert tuple(w.options) == s.choices, name  # choices → options, nothing else
        if name not in HYPER: assert control_value(w) == start[name] or name == "lr", name
    assert set(p.controls) == set(SETTINGS) - {"hidden", "activation", "dropout", "n_layers", "width"}
    w, a, d, _ = p._layer_rows[0]
    assert tuple(a.options) == SETTINGS["activation"].choices and d.tooltip == SETTINGS["dropout"].help


def test_a_setting_value_outside_the_choices_is_still_shown():
    w = setting_control(SETTINGS["init"], "normal:0.1")                  # a parametrised initialiser
    assert w.value == "normal:0.1" and set(SETTINGS["init"].choices) < set(w.options)


def test_panel_config_is_the_runconfig():
    p = HyperparameterPanel(dataset="moons", hidden=[16, 8], activation=["relu", "tanh"], epochs=7, lr=0.02)
    assert isinstance(p.config(), RunConfig)
    assert p.config() == RunConfig(dataset="moons", hidden=[16, 8], activation=["relu", "tanh"], epochs=7, lr=0.02)
    assert json.loads(p.config_text.value) == p.config().to_dict()          # the copyable text is its to_dict()
    cfg = RunConfig(dataset="circles", hidden=[4], dropout=0.1, optimizer="sgd", momentum=0.5)
    assert HyperparameterPanel(cfg).config() == cfg                          # a RunConfig in, the same out


def test_panel_widgets_change_the_config():
    p = HyperparameterPanel(dataset="moons", hidden=[16], epochs=5)
    c = p.controls
    c["lr"].value, c["batch_size"].value, c["l2"].value, c["seed"].value = 0.003, 64, 0.001, 7
    p.add_layer.click()                                           # a second layer, same width
    p._layer_rows[1][1].value = "tanh"
    cfg = p.config()
    assert (cfg.hidden, cfg.activation, cfg.batch_size, cfg.l2, cfg.seed) == ((16, 16), ("relu", "tanh"), 64, 0.001, 7)
    assert cfg.lr == pytest.approx(0.003)
    assert '"tanh"' in p.config_text.value                       # the shown dict follows the widgets
    p._layer_rows[0][3].click()                                   # remove the first layer
    assert p.config().hidden == (16,) and p.config().activation == "tanh"


def test_dropout_per_layer_row():
    p = HyperparameterPanel(dataset="moons", hidden=[8, 8], dropout=0.2)
    assert [r[2].value for r in p._layer_rows] == [0.2, 0.2] and p.config().dropout == 0.2
    p._layer_rows[1][2].value = 0.5
    assert p.config().dropout == (0.2, 0.5)
    assert HyperparameterPanel(dataset="moons", hidden=[8, 8], dropout=[0.1, 0.3]).config().dropout == (0.1, 0.3)
    p._layer_rows[1][2].value = 1.2                               # RunConfig refuses it: shown, and Train reports it
    assert p.config_text.value.startswith("invalid: dropout[1]")
    p.train()
    assert "dropout[1]" in p.status.value and p.result is None and not p.running


def test_more_settings_are_text_fields_read_like_flags():
    p = HyperparameterPanel(dataset="moons")
    assert isinstance(p.controls["clip_norm"], W.Text) and p.config().clip_norm is None
    p.controls["clip_norm"].value = "1.5"
    p.controls["lr_schedule"].value = '{"name": "step", "step_size": 5}'
    p.controls["clip_per"].value = "layer"
    cfg = p.config()
    assert (cfg.clip_norm, cfg.lr_schedule, cfg.clip_per) == (1.5, {"name": "step", "step_size": 5}, "layer")
    assert all(w in p.more.children[0].children for n, w in p.controls.items() if n in ("clip_norm", "lr_schedule", "val_fraction"))


def test_panel_optimizer_hyperparameters_only_when_changed():
    p = HyperparameterPanel(optimizer="adam")
    h = p.hyper
    assert h["momentum"].layout.display == "none" and h["beta1"].layout.display is None
    assert p.config().beta1 is None and h["beta1"].value == 0.9   # shown at adam's default, not in the config
    h["beta1"].value = 0.8
    assert p.config().beta1 == 0.8
    p.controls["optimizer"].value = "momentum"
    assert h["momentum"].value == 0.9 and p.config().momentum is None and p.config().beta1 is None
    h["momentum"].value = 0.5
    assert p.config().momentum == 0.5
    assert HyperparameterPanel(optimizer="sgd", momentum=0.3).hyper["momentum"].value == 0.3


def test_changing_the_data_set_forgets_its_sample_count_and_noise():
    p = HyperparameterPanel(dataset="moons", n_samples=300, noise=0.2)
    assert (p.config().n_samples, p.config().noise) == (300, 0.2)
    p.controls["dataset"].value = "digits"                        # a fixed set: no noise setting
    assert (p.config().n_samples, p.config().noise) == (None, None)


def test_panel_train_click_shows_curves_and_metrics():
    p = HyperparameterPanel(dataset="moons", hidden=[8], epochs=5)
    assert p.curves.layout.display == "none"                       # no curves before a run
    p.train_button.click()                                         # runs in a thread
    p.wait(60)
    assert p.error is None and p.result is not None and p.result.config == p.config().to_dict()
    assert p.curves.value and p.curves.layout.display is None and p.final.value and "accuracy" in p.metrics.value
    assert len(p.history["loss"]) == 5 and p.progress.value == 5 and "finished 5/5" in p.status.value
    assert not p.train_button.disabled and p.stop_button.disabled


def test_panel_regression_shows_predicted_vs_true():
    p = HyperparameterPanel(dataset="regression", hidden=[8], epochs=3)
    p.train(block=True)
    assert p.result.model.task == "regression" and "r2" in p.metrics.value and p.final.value


def test_panel_stop_stops_within_one_epoch():
    p = HyperparameterPanel(dataset="spirals", hidden=[32, 32], epochs=2000, batch_size=8)
    p.train()
    deadline = time.time() + 30
    while p.progress.value < 2 and time.time() < deadline: time.sleep(0.01)
    assert p.running and not p.stop_button.disabled
    p.stop_button.click()
    pressed = p._stop_epoch
    p.wait(30)
    n = len(p.result.history["loss"])
    assert not p.running and n <= pressed and n < 2000 and f"stopped at epoch {n}/2000" in p.status.value


def test_panel_bad_value_is_reported_not_raised():
    p = HyperparameterPanel(dataset="moons", epochs=2)
    p.controls["val_fraction"].value, p.controls["test_fraction"].value = 0.6, 0.6
    assert p.config_text.value.startswith("invalid: val_fraction")
    p.train()
    assert "val_fraction" in p.status.value and p.result is None and not p.running


def test_new_run_dirs_are_unique_within_a_second(tmp_path):
    dirs = [new_run_dir(tmp_path, "moons") for _ in range(5)]
    assert len(set(dirs)) == 5 and all(d.is_dir() and d.parent == tmp_path for d in dirs)
    assert all(d.name.startswith("moons-") for d in dirs)


def test_panel_logs_the_run_through_tracking(tmp_path):
    p = HyperparameterPanel(dataset="moons", hidden=[8], epochs=4, run_root=tmp_path)
    p.track.value, p.wandb_mode.value = True, "off"
    p.train_button.click()
    p.wait(60)
    assert p.error is None and p.run is not None and p.run.status == "finished"
    assert p.run.config == p.config().to_dict() and len(p.run.history["loss"]) == 4
    assert (p.run_dir / "summary.json").exists() and p.run_dir.parent == tmp_path
    assert p.run_panel.widget in p.run_box.children and "run record" in p.run_info.value
    p.train_button.click()                                          # a second run, in the same second: its own folder
    p.wait(60)
    assert len(list(tmp_path.iterdir())) == 2


def test_panel_untracked_run_clears_the_previous_run_record(tmp_path):
    p = HyperparameterPanel(dataset="moons", hidden=[4], epochs=2, run_root=tmp_path)
    p.track.value, p.wandb_mode.value = True, "off"
    p.train(block=True)
    assert p.run_box.children and p.run is not None
    p.track.value = False
    p.train(block=True)
    assert p.run_box.children == () and p.run is None and p.result is not None

def test_diagnose_button_shows_the_report_without_training():
    p = HyperparameterPanel(dataset="breast_cancer", hidden=[16], epochs=3, standardize=False)
    p.diagnose_button.click()
    p.wait(120)
    assert not p.running and p.result is None                          # nothing was trained
    assert "unscaled_inputs" in p.report.codes and not p.report.ok
    assert p.status.value.startswith("diagnose: ") and "unscaled_inputs" in p.diagnosis.value and "<table" in p.diagnosis.value
    assert not p.train_button.disabled and not p.diagnose_button.disabled
