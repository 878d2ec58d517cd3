"Widget logic without a browser: click handlers, value changes, threads, the config dict, the Playground's state."
import io, json, time
import numpy as np
import pytest

W = pytest.importorskip("ipywidgets")
from fnn_nbdev.config import make_config
from fnn_nbdev.widgets import HyperparameterPanel, Playground, StepThrough, PALETTE, png, playground_data
from fnn_nbdev.model import FNN


def test_import_fnn_nbdev_does_not_load_widgets():
    import subprocess, sys
    code = "import sys, fnn_nbdev, fnn_nbdev.experiment; print(any(m in sys.modules for m in ('ipywidgets', 'matplotlib')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_png_roundtrip():
    from PIL import Image
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert (np.asarray(Image.open(io.BytesIO(png(rgb))).convert("RGB")) == rgb).all()


# --- HyperparameterPanel -----------------------------------------------------------------------------------------
def test_panel_config_matches_make_config():
    p = HyperparameterPanel(dataset="moons", hidden=[16, 8], activation=["relu", "tanh"], epochs=7, lr=0.02)
    assert p.config() == make_config(dataset="moons", hidden=[16, 8], activation=["relu", "tanh"], epochs=7, lr=0.02)
    assert json.loads(p.config_text.value) == p.config()          # the copyable text is the same dict


def test_panel_widgets_change_the_config():
    p = HyperparameterPanel(dataset="moons", hidden=[16], epochs=5)
    p.lr.value = 0.003; p.batch_size.value = 64; p.l2.value = 0.001; p.seed.value = 7
    p.add_layer.click()                                           # a second layer, same width
    p._layer_rows[1][1].value = "tanh"
    cfg = p.config()
    assert (cfg["hidden"], cfg["activation"], cfg["batch_size"], cfg["l2"], cfg["seed"]) == ([16, 16], ["relu", "tanh"], 64, 0.001, 7)
    assert cfg["lr"] == pytest.approx(0.003)
    assert '"tanh"' in p.config_text.value                       # the shown dict follows the widgets
    p._layer_rows[0][2].click()                                   # remove the first layer
    assert p.config()["hidden"] == [16] and p.config()["activation"] == "tanh"


def test_panel_optimizer_hyperparameters_only_when_changed():
    p = HyperparameterPanel(optimizer="adam")
    assert p.hyper["momentum"].layout.display == "none" and p.hyper["beta1"].layout.display is None
    assert p.config()["beta1"] is None
    p.hyper["beta1"].value = 0.8
    assert p.config()["beta1"] == 0.8
    p.optimizer.value = "momentum"
    assert p.hyper["momentum"].value == 0.9 and p.config()["momentum"] is None and p.config()["beta1"] is None
    p.hyper["momentum"].value = 0.5
    assert p.config()["momentum"] == 0.5


def test_panel_train_click_shows_curves_and_metrics():
    p = HyperparameterPanel(dataset="moons", hidden=[8], epochs=5)
    curves0 = p.curves.value
    p.train_button.click()                                         # runs in a thread
    p.wait(60)
    assert p.error is None and p.result is not None
    assert p.curves.value != curves0 and p.final.value and "accuracy" in p.metrics.value
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
    p.lr.value = 0                                                 # log slider clips to its minimum
    p.base = dict(p.base, val_fraction=0.6, test_fraction=0.6)
    p.train()
    assert "val_fraction" in p.status.value and p.result is None and not p.running


# --- Playground ----------------------------------------------------------------------------------------------
def test_playground_step_reset_and_boundary_changes():
    pg = Playground("circle", hidden=(4, 2))
    img0 = pg.boundary.value
    for _ in range(5): pg.step_button.click()
    assert pg.epoch == 5 and len(pg.test_losses) == 5 and pg.boundary.value != img0
    assert "<b class='fnn-epoch-count'>5</b>" in pg.epoch_label.value
    pg.reset_button.click()
    assert pg.epoch == 0 and pg.train_losses == [] and "<b class='fnn-epoch-count'>0</b>" in pg.epoch_label.value


def test_playground_lr_and_regularisation_change_in_place():
    pg = Playground("xor", hidden=(4,))
    pg.step(3)
    W0 = pg.model.params[0].copy(); model, opt = pg.model, pg.opt
    pg.lr.value = 0.3; pg.reg.value = "L1"; pg.reg_rate.value = 0.01
    assert pg.model is model and pg.opt is opt and pg.epoch == 3 and np.array_equal(pg.model.params[0], W0)
    assert pg.opt.lr == pytest.approx(0.3) and (pg.model.l1, pg.model.l2) == (0.01, 0.0)
    pg.reg.value = "L2"
    assert (pg.model.l1, pg.model.l2) == (0.0, 0.01)


def test_playground_architecture_and_features_rebuild():
    pg = Playground("circle", hidden=(4, 2))
    pg.step(2)
    pg.features["x1²"].value = True; pg.features["x2²"].value = True
    assert pg.epoch == 0 and pg.model.sizes == [4, 4, 2, 1]
    pg._layer_rows[0][0].value = 6
    assert pg.model.sizes == [4, 6, 2, 1] and len(pg._neuron_images[0]) == 6
    pg.add_layer.click()
    assert pg.model.sizes == [4, 6, 2, 4, 1]
    pg._layer_rows[1][2].value = "relu,sigmoid"                   # one activation per neuron
    assert pg.model.activations[1] == ["relu", "sigmoid"]
    pg._layer_rows[1][2].value = "relu"                            # wrong count: message, model kept
    assert "2 comma-separated names" in pg.message.value and pg.model.activations[1] == ["relu", "sigmoid"]
    for f in pg.features.values(): f.value = False
    assert "at least one input feature" in pg.message.value


def test_playground_three_classes_three_colours():
    pg = Playground("spirals (3 classes)", hidden=(8, 8), activation="relu", lr=0.1)
    assert pg.model.sizes[-1] == 3 and pg.model.loss_fn.name == "cross_entropy"
    pg.step(15)
    pix = pg.boundary_rgb().reshape(-1, 3).astype(float)
    nearest = np.argmin(((pix[:, None] - PALETTE[:3][None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=3)
    assert (counts > 0.02 * len(pix)).all(), counts


def test_playground_play_pause_advances_in_background():
    pg = Playground("gaussian", hidden=(2,))
    pg.play_button.click()
    deadline = time.time() + 20
    while pg.epoch < 3 and time.time() < deadline: time.sleep(0.02)
    pg.pause_button.click()
    e = pg.epoch
    assert e >= 3 and not pg._thread.is_alive() and not pg.play_button.disabled
    time.sleep(0.2); assert pg.epoch == e


def test_playground_learns_xor_with_product_feature():
    pg = Playground("xor", features=("x1·x2",), hidden=(2,), lr=0.1, noise=0.0)
    pg.step(30)
    assert pg.model.evaluate(pg._F_test, pg.y_test)["accuracy"] > 0.9


def test_playground_data_is_seeded():
    a, b = playground_data("spiral", 100, 0.2, seed=3), playground_data("spiral", 100, 0.2, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# --- StepThrough ---------------------------------------------------------------------------------------------
def test_stepthrough_navigation():
    st = StepThrough()
    t0, e0 = st.title.value, st.equation.value
    st.next_button.click()
    assert st.index == 1 and st.title.value != t0 and st.equation.value != e0 and "Z_1" in st.equation.value
    st.prev_button.click(); assert st.index == 0 and st.prev_button.disabled
    st.slider.value = len(st.steps) - 1; assert st.next_button.disabled
    st.go(999); assert st.index == len(st.steps) - 1


def test_stepthrough_gradient_checks_pass():
    st = StepThrough(FNN([3, 4, 3, 2], ["relu", ["tanh", "sigmoid", "tanh"], "softmax"], seed=1, l2=0.01),
                     np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 1, 0, 1]))
    checked = [i for i, s in enumerate(st.steps) if "check" in s]
    assert [st.steps[i]["check"]["name"] for i in checked] == ["W3", "b3", "W2", "b2", "W1", "b1"]
    for i in checked:
        st.go(i)
        assert "✓" in st.check.value and st.steps[i]["check"]["rel_error"] < 1e-6


def test_stepthrough_detects_a_wrong_gradient():
    st = StepThrough(tol=1e-6)
    i = next(i for i, s in enumerate(st.steps) if "check" in s)
    st.steps[i]["check"]["rel_error"] = 0.1
    st.go(i); st._show()
    assert "✗" in st.check.value


def test_panel_logs_the_run_through_tracking(tmp_path):
    p = HyperparameterPanel(dataset="moons", hidden=[8], epochs=4, run_root=tmp_path)
    p.track.value, p.wandb_mode.value = True, "off"
    p.train_button.click(); p.wait(60)
    assert p.error is None and p.run is not None and p.run.status == "finished"
    assert p.run.config == p.config() and len(p.run.history["loss"]) == 4
    assert (p.run_dir / "summary.json").exists() and p.run_dir.parent == tmp_path
    assert p.run_panel.widget in p.run_box.children and "run record" in p.run_info.value
    p.train_button.click(); p.wait(60)                              # a second run gets its own folder
    assert len(list(tmp_path.iterdir())) == 2


def test_panel_untracked_run_clears_the_previous_run_record(tmp_path):
    p = HyperparameterPanel(dataset="moons", hidden=[4], epochs=2, run_root=tmp_path)
    p.track.value, p.wandb_mode.value = True, "off"
    p.train(block=True)
    assert p.run_box.children and p.run is not None
    p.track.value = False
    p.train(block=True)
    assert p.run_box.children == () and p.run is None and p.result is not None
