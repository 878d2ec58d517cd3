"Training behaviour end to end: callbacks, divergence, checkpoints, resume, determinism."
import numpy as np
import pytest
from fnn_nbdev.errors import DivergenceError
from fnn_nbdev.model import FNN
from fnn_nbdev.data import make_spirals, make_moons, make_regression_1d
from fnn_nbdev.train import EarlyStopping, ModelCheckpoint, lr_find, Callback

X, y = make_spirals(300, seed=0)

def test_same_seed_same_weights_and_history():
    runs = []
    for _ in range(2):
        m = FNN([2, 16, 3], "relu", seed=7)
        h = m.fit(X, y, epochs=5, batch_size=16, lr=1e-2, progress=False)
        runs.append((m, h))
    for p, q in zip(runs[0][0].params, runs[1][0].params): np.testing.assert_array_equal(p, q)
    h0, h1 = ({k: v for k, v in h.history.items() if k != "epoch_time"} for _, h in runs)
    assert h0 == h1

XR, YR = make_regression_1d(200, seed=0)

def test_divergence_stops_restores_and_explains():
    m = FNN([1, 32, 1], "relu", loss="mse", seed=0)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as e:
        m.fit(XR, YR, epochs=20, batch_size=16, optimizer="sgd", lr=1e3, progress=False)
    assert "smaller learning rate" in str(e.value) and "restored" in str(e.value)
    assert all(np.isfinite(p).all() for p in m.params)
    assert np.isfinite(m.evaluate(XR, YR)["loss"])

def test_divergence_can_warn_instead():
    m = FNN([1, 32, 1], "relu", loss="mse", seed=0)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="diverged"):
        h = m.fit(XR, YR, epochs=20, batch_size=16, optimizer="sgd", lr=1e3, progress=False, on_divergence="warn")
    assert len(h.history.get("loss", [])) < 20 and all(np.isfinite(p).all() for p in m.params)

def test_checkpoints_every_epoch_and_resume_exactly(tmp_path):
    full = FNN([2, 16, 3], "tanh", seed=1)
    full.fit(X, y, epochs=6, batch_size=32, optimizer="momentum", lr=0.05, progress=False)
    part = FNN([2, 16, 3], "tanh", seed=1)
    ck = ModelCheckpoint(tmp_path / "ep{epoch}.npz", save_best_only=False)
    part.fit(X, y, epochs=3, batch_size=32, optimizer="momentum", lr=0.05, progress=False, callbacks=[ck])
    assert [p.split("/")[-1] for p in ck.saved] == ["ep1.npz", "ep2.npz", "ep3.npz"]
    resumed = FNN.load(tmp_path / "ep3.npz")
    resumed.fit(X, y, epochs=6, batch_size=32, progress=False, resume=True)
    for p, q in zip(full.params, resumed.params): np.testing.assert_array_equal(p, q)

def test_checkpoint_save_best_only(tmp_path):
    m = FNN([2, 16, 3], "relu", seed=0)
    ck = ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy", save_best_only=True)
    h = m.fit(X, y, epochs=15, lr=1e-2, validation_data=(X, y), callbacks=[ck], progress=False)
    best = max(h.history["val_accuracy"])
    assert FNN.load(tmp_path / "best.npz").evaluate(X, y)["accuracy"] == pytest.approx(best)

def test_early_stopping_restores_best_weights():
    Xm, ym = make_moons(200, noise=0.3, seed=0)
    Xv, yv = make_moons(200, noise=0.3, seed=1)
    m = FNN([2, 128, 128, 1], "relu", loss="bce", seed=0)
    es = EarlyStopping(patience=3)
    h = m.fit(Xm, ym, epochs=300, lr=1e-2, validation_data=(Xv, yv), callbacks=[es], progress=False)
    assert len(h.history["val_loss"]) < 300
    assert m.evaluate(Xv, yv)["loss"] == pytest.approx(min(h.history["val_loss"]), rel=1e-5)

def test_lr_finder_suggests_a_rate_and_leaves_the_model_alone():
    m = FNN([2, 32, 3], "relu", seed=0)
    before = [p.copy() for p in m.params]
    res = lr_find(m, X, y, num=80, batch_size=16, seed=0)
    assert 1e-5 < res.suggestion < 10
    for p, q in zip(m.params, before): np.testing.assert_array_equal(p, q)
    assert res.plot() is not None

def test_callbacks_see_every_stage_in_order():
    seen = []
    class Spy(Callback):
        def on_fit_begin(self, t): seen.append("fit")
        def on_epoch_begin(self, t): seen.append(f"e{t.epoch}")
        def on_batch_end(self, t): seen.append("b")
        def on_epoch_end(self, t): seen.append(f"/e{t.epoch}:{sorted(t.logs)}")
        def on_fit_end(self, t): seen.append("end")
    FNN([2, 4, 3], "relu", seed=0).fit(X[:64], y[:64], epochs=2, batch_size=32, callbacks=[Spy()], progress=False)
    keys = "['accuracy', 'epoch_time', 'loss', 'lr']"
    assert seen == ["fit", "e0", "b", "b", f"/e0:{keys}", "e1", "b", "b", f"/e1:{keys}", "end"]

def test_progress_bar_writes_to_stderr(capsys):
    FNN([2, 4, 3], "relu", seed=0).fit(X, y, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss=" in err

def test_float64_and_per_neuron_models_train():
    m = FNN([2, 24, 3], [["relu", "tanh", "elu"] * 8, "softmax"], seed=0, dtype="float64")
    h = m.fit(X, y, epochs=80, lr=1e-2, progress=False)
    assert m.params[0].dtype == np.float64 and h.history["accuracy"][-1] > 0.9

# ---------------------------------------------------------------------------------------------------------------
# One rule for "better": early stopping and checkpoints follow metric_goal for every name of the vocabulary

from fnn_nbdev.metrics import METRIC_GOALS, metric_goal, metric_name

class _FakeTrainer:
    "Just enough of a Trainer to drive callbacks through a given sequence of epoch logs."
    def __init__(self, model): self.model, self.stop_training, self.epochs_done, self.logs = model, False, 0, {}

VOCABULARY = [p + m for p in ("", "val_", "test_") for m in METRIC_GOALS] + ["train_loss", "train_acc", "val_acc", "test_acc"]

@pytest.mark.parametrize("name", VOCABULARY)
def test_early_stopping_and_checkpoints_follow_the_direction_of_every_metric(name, tmp_path):
    good = {"min": [3.0, 2.0, 1.0, 2.0, 3.0, 4.0], "max": [1.0, 2.0, 3.0, 2.0, 1.0, 0.0]}[metric_goal(name)]
    model = FNN([2, 3, 3], "relu", seed=0)
    es = EarlyStopping(name, patience=2, restore_best_weights=False)
    ck = ModelCheckpoint(tmp_path / "ep{epoch}.npz", monitor=name, save_best_only=True)
    t = _FakeTrainer(model)
    es.on_fit_begin(t)
    for e, v in enumerate(good):
        t.epoch, t.logs = e, {metric_name(name): v}
        es.on_epoch_end(t)
        ck.on_epoch_end(t)
        t.epochs_done = e + 1
        if t.stop_training: break
    assert es.best_epoch == 2 and es.stopped_epoch == 4, (name, es.best_epoch, es.stopped_epoch)
    assert [p.rsplit("/", 1)[-1] for p in ck.saved] == ["ep1.npz", "ep2.npz", "ep3.npz"], (name, ck.saved)

def test_a_metric_of_unknown_direction_asks_for_mode():
    from fnn_nbdev.errors import ConfigError
    with pytest.raises(ConfigError, match="mode: expected 'min' or 'max'"): EarlyStopping("val_margin")
    with pytest.raises(ConfigError, match="mode: expected 'min' or 'max'"): ModelCheckpoint("m.npz", "margin", save_best_only=True)
    assert EarlyStopping("val_margin", mode="min").sign == 1 and ModelCheckpoint("m.npz", "margin").sign == 1  # not best-only: unused
