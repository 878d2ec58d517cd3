"`diagnose`: every finding planted and found, healthy setups clean, the model never changed, typed errors, the HTML report."
import base64, io, re
import numpy as np
import pytest
from fnn_nbdev.activations import Activation
from fnn_nbdev.config import RunConfig
from fnn_nbdev.data import load_dataset, make_regression_1d, make_spirals, split, Standardizer
from fnn_nbdev.diagnose import DiagnosisReport, Finding, diagnose, diagnose_config
from fnn_nbdev.errors import ArgTypeError, ConfigError, ShapeError
from fnn_nbdev.model import FNN
from fnn_nbdev.optim import get_optimizer

QUIET = {"lr_suggestion", "short_run"}   # the info findings every run has


@pytest.fixture(scope="module")
def digits():
    "Standardised digits: train, validation, and the raw training pixels (0..1)."
    X, y = load_dataset("digits")
    (Xt, yt), (Xv, yv) = split(X, y, (0.75, 0.25), stratify=True, seed=0)
    s = Standardizer().fit(Xt)
    return dict(X=s.transform(Xt), y=yt, val=(s.transform(Xv), yv), raw=Xt)


@pytest.fixture(scope="module")
def spirals():
    X, y = make_spirals(600, seed=0)
    (Xt, yt), (Xv, yv) = split(X, y, (0.75, 0.25), seed=0)
    s = Standardizer().fit(Xt)
    return s.transform(Xt), yt, (s.transform(Xv), yv)


@pytest.fixture(scope="module")
def healthy(digits):
    return diagnose(FNN([64, 64, 10], "relu", seed=0), digits["X"], digits["y"], validation_data=digits["val"])


def net(**kw): return FNN([64, 64, 10], kw.pop("activation", "relu"), seed=0, **kw)


def test_healthy_setups_find_nothing_wrong(healthy, spirals):
    assert healthy.ok and set(healthy.codes) == QUIET
    assert healthy.data["gradcheck"]["bad"] == [] and healthy.data["finder"]["usable"]
    Xs, ys, val = spirals
    r = diagnose(FNN([2, 64, 64, 3], "relu", seed=0), Xs, ys, validation_data=val)
    assert r.ok and set(r.codes) == QUIET, r


def test_report_structure_and_text(healthy):
    assert isinstance(healthy, DiagnosisReport) and all(isinstance(f, Finding) for f in healthy.findings)
    f = healthy["short_run"]
    assert f.severity == "info" and f.evidence["steps"] == 500 and f.evidence["train_loss"] < f.evidence["trivial_loss"]
    lines = repr(healthy).splitlines()
    assert lines[0].startswith("diagnose: 0 error(s), 0 warning(s), 2 info — FNN 64-64-10 [relu, softmax], adam lr=0.001")
    assert [l.split()[0] for l in lines[1:]] == ["info", "info"] and len(lines) == len(healthy.findings) + 1
    with pytest.raises(KeyError): healthy["lr_too_high"]


def test_html_holds_a_table_and_decodable_pngs(digits):
    import matplotlib.image as mpimg
    r = diagnose(net(), digits["raw"] * 255, digits["y"], lr=1.0)
    page = r._repr_html_()
    assert "<table>" in page and page.count("<tr>") == len(r.findings) + 1
    for f in r.findings: assert f"<code>{f.code}</code>" in page
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(pngs) >= 4
    for p in pngs:
        img = mpimg.imread(io.BytesIO(base64.b64decode(p)), format="png")
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 200
    names = re.findall(r'<img alt="(\w+)"', page)
    assert len(names) == len(set(names)) and {"inputs", "units", "finder", "short_run"} <= set(names)


def test_the_model_is_never_changed(digits):
    m = FNN([64, 32, 10], "relu", dropout=0.2, l2=1e-4, seed=3)
    m.fit(digits["X"], digits["y"], epochs=1, progress=False)
    def state():
        opt = {k: v.tobytes() if isinstance(v, np.ndarray) else v for k, v in m.optimizer.state_dict().items()}
        return [p.tobytes() for p in m.params], opt, repr(m.train_state), m.rng.bit_generator.state, m.optimizer.lr
    before = state()
    diagnose(m, digits["X"], digits["y"], optimizer={"name": "sgd", "momentum": 0.9}, lr=0.05, validation_data=digits["val"])
    assert state() == before
    m.fit(digits["X"], digits["y"], epochs=2, progress=False, resume=True)   # the run goes on as if nothing happened


def test_same_seed_same_report(digits):
    a, b = (diagnose(net(), digits["X"][:300], digits["y"][:300], seed=5) for _ in range(2))
    assert a.codes == b.codes and [f.message for f in a.findings] == [f.message for f in b.findings]
    assert np.array_equal(a.data["short_run"]["losses"], b.data["short_run"]["losses"])


# --- every code planted and found ---------------------------------------------------------------------------------

def test_unscaled_inputs_and_high_initial_loss(digits):
    r = diagnose(net(), digits["raw"] * 255, digits["y"])
    assert {"unscaled_inputs", "high_initial_loss"} <= set(r.codes)
    assert r["unscaled_inputs"].evidence["rms"] > 100 and r["high_initial_loss"].evidence["loss"] > 50
    assert not r.data["finder"]["usable"]   # the finder's dip is the outputs collapsing: no suggestion


def test_label_imbalance(digits):
    r = diagnose(FNN([64, 32, 2], "relu", seed=0), digits["X"], (digits["y"] == 0).astype(int))
    f = r["label_imbalance"]
    assert f.severity == "warning" and f.evidence["ratio"] > 8 and f.evidence["majority_accuracy"] > 0.88


def test_dead_units(digits):
    m = net()
    m.layers[0].b[:] = -50
    f = diagnose(m, digits["X"], digits["y"])["dead_units"]
    assert f.severity == "error" and f.evidence["layers"]["layer1"] == dict(units=64, start=64, end=64)
    assert "layer 1: 64 of 64" in f.message


def test_saturated_units(digits):
    f = diagnose(net(activation="tanh", init="xavier_normal"), digits["raw"] * 255, digits["y"])["saturated_units"]
    assert f.evidence["layers"]["layer1"]["start"] == 64 and "pinned" in f.message


def test_vanishing_gradients(digits):
    r = diagnose(FNN([64] + [32] * 10 + [10], "sigmoid", init="xavier_normal", seed=0), digits["X"], digits["y"])
    assert r["vanishing_gradients"].evidence["ratio_start"] < 1e-4
    assert "gradient_mismatch" not in r   # gradients that vanished are not wrong


def test_exploding_gradients(digits):
    r = diagnose(FNN([64] + [32] * 10 + [10], "tanh", init="normal:1", seed=0), digits["X"], digits["y"])
    assert r["exploding_gradients"].evidence["ratio_start"] > 50
    assert "xavier_normal" in r["exploding_gradients"].message and "fewer layers" in r["exploding_gradients"].message


def test_advice_leaves_out_what_the_setup_already_does(digits):
    "A remedy the network already uses is not advised: Xavier for a Xavier net, ReLU for a ReLU net, fewer layers for one layer."
    sig = diagnose(FNN([64] + [32] * 10 + [10], "sigmoid", init="xavier_normal", seed=0), digits["X"], digits["y"])["vanishing_gradients"]
    assert "ReLU-family" in sig.message and "fewer layers" in sig.message and "Xavier" not in sig.message
    relu = diagnose(FNN([64] + [32] * 10 + [10], "relu", init="normal:0.05", seed=0), digits["X"], digits["y"])["vanishing_gradients"]
    assert "ReLU-family" not in relu.message and "He/Xavier" in relu.message
    tanh = diagnose(net(activation="tanh", init="xavier_normal"), digits["raw"] * 255, digits["y"])["saturated_units"]
    assert "xavier" not in tanh.message and "Standardise" in tanh.message


class Softsign(Activation):
    "z / (1 + |z|), f' = 1 / (1 + |z|)²."
    name, saturates = "softsign", "both"
    def forward(self, z, out=None): return np.divide(z, 1 + np.abs(z), out=out)
    def derivative(self, z): return 1 / (1 + np.abs(z)) ** 2

class SoftsignWrongDerivative(Softsign):
    def derivative(self, z): return 1 / (1 + np.abs(z))          # the square forgotten

class SoftsignWrongBackward(Softsign):
    def backward(self, z, a, grad, out=None): return np.multiply(grad, 1 - a * a, out=out)   # tanh's, not softsign's


@pytest.mark.parametrize("act, wrong", [(Softsign, False), (SoftsignWrongDerivative, True), (SoftsignWrongBackward, True)])
def test_gradient_mismatch_catches_a_custom_activation(digits, act, wrong):
    m = FNN([64, 16, 16, 10], ["relu", act(), "softmax"], seed=0)
    r = diagnose(m, digits["X"][:400], digits["y"][:400])
    assert ("gradient_mismatch" in r) == wrong, r
    if wrong:
        f = r["gradient_mismatch"]
        assert f.severity == "error" and not r.ok and f.evidence["layer"] == 2 and "activation of layer 2" in f.message
        assert {"W2", "b2"} <= {x["name"] for x in f.evidence["rows"] if x["bad"]} <= {"W1", "b1", "W2", "b2"}


def test_vanished_signal_is_not_a_mismatch(digits):
    "Pre-activations of 1e-8 are inside the finite-difference step: ReLU kinks, not wrong code."
    r = diagnose(FNN([64] + [32] * 10 + [10], "relu", init="normal:0.05", seed=0), digits["X"], digits["y"])
    assert "gradient_mismatch" not in r and "vanishing_gradients" in r


def test_lr_too_high(digits):
    r = diagnose(net(), digits["X"], digits["y"], lr=1.0)
    assert r["lr_too_high"].severity == "error" and not r.ok and "diverged" in r["lr_too_high"].message
    r = diagnose(net(), digits["X"], digits["y"], optimizer="sgd", lr=1.0)
    assert r["lr_too_high"].severity == "warning" and r["lr_too_high"].evidence["spike"] > 5


def test_lr_too_low(digits):
    f = diagnose(net(), digits["X"], digits["y"], lr=1e-6)["lr_too_low"]
    assert f.severity == "warning" and f.evidence["lr"] < 1e-4 * f.evidence["lr_at_finder_min"]


@pytest.mark.parametrize("case", ["identical inputs", "one-unit bottleneck"])
def test_cannot_overfit_batch(digits, case):
    X, m = digits["X"], net()
    if case == "identical inputs": X = np.repeat(X[:1], len(X), 0)
    else: m = FNN([64, 1, 10], "relu", seed=0)
    f = diagnose(m, X, digits["y"])["cannot_overfit_batch"]
    assert f.severity == "error" and f.evidence["final_loss"] > 0.05 * f.evidence["trivial_loss"]


def test_overfitting(digits):
    (X60, y60), _ = split(digits["X"], digits["y"], (60 / len(digits["y"]), 1 - 60 / len(digits["y"])), stratify=True, seed=0)
    f = diagnose(FNN([64, 128, 10], "relu", seed=0), X60, y60, validation_data=digits["val"])["overfitting"]
    assert f.evidence["train_accuracy"] == 1.0 and f.evidence["val_accuracy"] < 0.9


def test_shuffled_labels_leave_validation_at_the_trivial_loss(digits, healthy):
    "Labels permuted against their rows: the training loss falls, the validation loss (true labels) does not."
    shuffled = np.random.default_rng(0).permutation(digits["y"])
    for lr in (1e-3, 1e-2):   # at 1e-3 the network has barely begun to memorise; at 1e-2 its validation loss rises above the trivial one
        f = diagnose(net(), digits["X"], shuffled, lr=lr, validation_data=digits["val"])["chance_validation"]
        e, drop = f.evidence, f.evidence["trivial_loss"] - f.evidence["train_loss"]
        assert f.severity == "warning" and e["train_loss"] <= 0.95 * e["trivial_loss"] and e["trivial_loss"] - e["val_loss"] < 0.25 * drop
    assert "chance_validation" not in healthy.codes


def test_confident_mistakes_are_not_chance_validation(digits):
    "A rate too high throws a few answers to extreme confidence: validation loss high, accuracy carried over — not chance."
    seen = 0
    for lr in (0.1, 0.15, 0.19):   # Adam this fast is chaotic: which rates show the pattern depends on the BLAS kernel
        r = diagnose(net(), digits["X"], digits["y"], lr=lr, validation_data=digits["val"])
        assert "chance_validation" not in r.codes and "lr_too_high" in r.codes
        e = r["short_run"].evidence if "short_run" in r else None
        seen += e is not None and e["val_loss"] > 0.75 * e["trivial_loss"] and e["val_accuracy"] > 0.8
    assert seen, "no rate gave a high validation loss at a high accuracy: the test no longer tests the veto"


def test_an_unstable_run_is_not_called_overfitting(digits):
    "Validation and training loss rising together is a rate too high, not memorisation."
    r = diagnose(FNN([64, 64, 64, 10], "relu", seed=0), digits["X"], digits["y"], optimizer="momentum", lr=0.1, validation_data=digits["val"])
    run = r.data["short_run"]
    val = [v["loss"] for v in run["val"]]
    assert not run["diverged"] and val[-1] > 1.5 * min(val)               # the validation loss rose as much as overfitting's rule asks ...
    assert run["train"][-1]["loss"] > 1.2 * min(t["loss"] for t in run["train"])   # ... but the training loss rose with it
    assert "overfitting" not in r.codes and "lr_too_high" in r.codes


def test_underfitting(spirals):
    Xs, ys, val = spirals
    f = diagnose(FNN([2, 3], "relu", seed=0), Xs, ys, validation_data=val)["underfitting"]
    assert f.evidence["train_loss"] > 0.9 * f.evidence["trivial_loss"]


def test_nonfinite_weights_and_overflowing_outputs(digits):
    m = net()
    m.layers[1].W[0, 0] = np.nan
    r = diagnose(m, digits["X"], digits["y"])
    assert r.codes == ["nonfinite_loss"] and not r.ok and r["nonfinite_loss"].evidence["layers"] == [2]
    with pytest.raises(ConfigError, match="a figure this report has the data for: inputs, classes"): r.figure("short_run")
    m = FNN([64, 64, 1], "relu", loss="mse", seed=0)
    m.layers[0].W *= 1e19   # finite weights whose outputs overflow float32
    assert diagnose(m, digits["X"], digits["y"].astype(np.float32)).codes == ["nonfinite_loss"]


def test_regression_and_bce_run():
    X, y = make_regression_1d(300, seed=0)
    r = diagnose(FNN([1, 32, 32, 1], "tanh", loss="mse", init="xavier_normal", seed=0), X, y)
    assert r.ok and "classes" not in r.data and r.data["trivial"] == pytest.approx(float(np.var(y)), rel=1e-4)
    r = diagnose_config(RunConfig(dataset="moons", hidden=[32, 32], lr=1e-3, clip_norm=1.0))
    assert r.ok and r.setup["opt"] == {"name": "adam", "clip_norm": 1.0, "clip_per": "global"}
    assert r.setup["model"] == "FNN 2-32-32-1 [relu ×2, sigmoid]" and r.data["short_run"]["val"]


# --- typed errors -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(X=np.zeros((10, 3))), ShapeError, "X: expected 64 features"),
    (dict(X=np.zeros(64)), ShapeError, "X: expected a 2-D array"),
    (dict(y=np.zeros(7, int)), ShapeError, "y: expected 10 targets"),
    (dict(y=np.full(10, 12)), Exception, "y: expected class labels in 0..9"),
    (dict(optimizer="adamx"), ConfigError, "optimizer: expected one of"),
    (dict(optimizer={"name": "sgd", "momentun": 0.9}), ConfigError, "Did you mean 'momentum'"),
    (dict(optimizer={"name": "sgd", "lr": 0.1}), ConfigError, "optimizer['lr']: expected no learning rate"),
    (dict(optimizer=3), ArgTypeError, "optimizer: expected a name"),
    (dict(lr=0), ConfigError, "lr: expected a number > 0"),
    (dict(batch_size=0), ConfigError, "batch_size"),
    (dict(seed=-1), ConfigError, "seed"),
    (dict(validation_data=np.zeros((3, 64))), ArgTypeError, "validation_data: expected a pair"),
    (dict(validation_data=(np.zeros((3, 5)), np.zeros(3, int))), ShapeError, "validation_data[0]: expected 64 features"),
])
def test_bad_arguments_raise_typed_errors(kwargs, exc, text):
    args = {"X": np.zeros((10, 64), np.float32), "y": np.arange(10) % 10, **kwargs}
    with pytest.raises(exc, match=re.escape(text)):
        diagnose(net(), args.pop("X"), args.pop("y"), **args)


def test_non_fnn_model_and_optimizer_objects_are_refused():
    X, y = np.zeros((10, 2), np.float32), np.arange(10) % 2
    with pytest.raises(ArgTypeError, match="model: expected an FNN"): diagnose({"sizes": [2, 2]}, X, y)
    m = FNN([2, 4, 2], "relu", seed=0)
    with pytest.raises(ArgTypeError, match="optimizer: expected a name"):
        diagnose(m, X, y, optimizer=get_optimizer("adam", m.params, m.grads))
    with pytest.raises(ConfigError, match="optimiser: expected a run setting"): diagnose_config(dataset="moons", optimiser="sgd")
