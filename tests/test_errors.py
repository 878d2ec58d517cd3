"Bad input: every mistake raises an FNNError subclass whose message names the argument, the expectation and the value."
import pickle
import numpy as np
import pytest
from fnn_nbdev.errors import FNNError, ConfigError, ShapeError, DataError, ArgTypeError, ModelFileError
from fnn_nbdev.model import FNN
from fnn_nbdev.data import split, load_dataset, BatchIterator
from fnn_nbdev.config import make_config
from fnn_nbdev.gradcheck import gradcheck

rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 3)).astype(np.float32), rng.integers(0, 4, size=40)

def clf(): return FNN([3, 8, 4], "relu", seed=0)
def reg(): return FNN([3, 8, 2], "tanh", loss="mse", seed=0)
def fit(**kw):
    args = dict(X=X, y=y, epochs=1, progress=False)
    args.update(kw)
    return clf().fit(args.pop("X"), args.pop("y"), **args)

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    m = clf()
    m.fit(X, y, epochs=1, progress=False)
    m.save(d / "ok.npz")
    (d / "corrupt.npz").write_bytes(b"garbage, not a zip archive")
    (d / "truncated.npz").write_bytes((d / "ok.npz").read_bytes()[:300])
    np.savez(d / "pickled.npz", config=np.array([{"x": 1}], dtype=object))
    (d / "raw.pkl").write_bytes(pickle.dumps({"a": 1}))
    np.savez(d / "foreign.npz", weights=np.zeros(3))
    return d

CASES = [  # (id, call, error class, text the message must contain)
    ("size zero", lambda f: FNN([3, 0, 4], "relu"), ConfigError, "sizes[1]: expected an integer >= 1, got 0"),
    ("size negative", lambda f: FNN([3, -2, 4], "relu"), ConfigError, "sizes[1]: expected an integer >= 1, got -2"),
    ("size fractional", lambda f: FNN([3, 2.5, 4], "relu"), ArgTypeError, "sizes[1]: expected an integer, got 2.5"),
    ("sizes too short", lambda f: FNN([3], "relu"), ConfigError, "sizes: expected a list"),
    ("activations count", lambda f: FNN([3, 8, 4], ["relu"]), ConfigError, "activations: expected one entry per layer (2"),
    ("unknown activation", lambda f: FNN([3, 8, 4], "rectifier"), ConfigError, "'gelu', 'identity', 'leaky_relu'"),
    ("per-neuron length", lambda f: FNN([3, 8, 4], [["relu"] * 7, "softmax"]), ConfigError,
     "activations[0]: expected one activation per neuron (8 names)"),
    ("softmax in a mix", lambda f: FNN([3, 2, 4], [["relu", "softmax"], "softmax"]), ConfigError, "softmax couples"),
    ("output vs loss", lambda f: FNN([3, 8, 4], ["relu", "tanh"]), ConfigError, "'softmax' on the output layer for loss='cross_entropy'"),
    ("unknown loss", lambda f: FNN([3, 8, 4], "relu", loss="hinge"), ConfigError, "loss: expected one of 'bce', 'cross_entropy', 'mse', got 'hinge'"),
    ("unknown init", lambda f: FNN([3, 8, 4], "relu", init="glorot"), ConfigError, "init: expected one of"),
    ("negative l2", lambda f: FNN([3, 8, 4], "relu", l2=-0.1), ConfigError, "l2: expected a number >= 0, got -0.1"),
    ("bad dtype", lambda f: FNN([3, 8, 4], "relu", dtype="float16"), ConfigError, "dtype: expected one of 'float32', 'float64'"),
    ("y length", lambda f: fit(y=y[:-1]), ShapeError, "y: expected 40 targets, one per row of X, got 39"),
    ("X columns", lambda f: fit(X=X[:, :2]), ShapeError, "X: expected 3 features per sample"),
    ("X 1-D", lambda f: clf().predict(X[0]), ShapeError, "X: expected a 2-D array"),
    ("X with NaN", lambda f: fit(X=np.where(X > 1, np.nan, X)), DataError, "X: expected finite values"),
    ("X with inf", lambda f: fit(X=np.where(X > 1, np.inf, X)), DataError, "X: expected finite values"),
    ("X strings", lambda f: fit(X=np.array([["a", "b", "c"]] * 40)), ArgTypeError, "X: expected an array of numbers"),
    ("empty data", lambda f: fit(X=np.zeros((0, 3)), y=np.zeros(0, int)), DataError, "X: expected at least one sample"),
    ("label too large", lambda f: fit(y=np.where(y == 3, 4, y)), DataError, "y: expected class labels in 0..3 for 4 outputs, got 4"),
    ("label negative", lambda f: fit(y=np.where(y == 3, -1, y)), DataError, "got -1"),
    ("label fractional", lambda f: fit(y=y + 0.5), DataError, "y: expected integer class labels"),
    ("one-hot not summing to 1", lambda f: fit(y=np.full((40, 4), 0.5)), DataError, "sum to 1"),
    ("bce targets", lambda f: FNN([3, 4, 1], "relu", loss="bce").fit(X, y, progress=False), DataError, "binary targets 0 or 1"),
    ("mse target width", lambda f: reg().fit(X, rng.normal(size=(40, 3)), progress=False), ShapeError, "y: expected targets of shape (n, 2)"),
    ("lr zero", lambda f: fit(lr=0), ConfigError, "lr: expected a number > 0, got 0"),
    ("lr negative", lambda f: fit(lr=-1e-3), ConfigError, "lr: expected a number > 0, got -0.001"),
    ("lr string", lambda f: fit(lr="fast"), ArgTypeError, "lr: expected a number, got 'fast'"),
    ("batch size zero", lambda f: fit(batch_size=0), ConfigError, "batch_size: expected an integer >= 1, got 0"),
    ("epochs zero", lambda f: fit(epochs=0), ConfigError, "epochs: expected an integer >= 1, got 0"),
    ("unknown optimizer", lambda f: fit(optimizer="adamm"), ConfigError, "optimizer: expected one of 'adam', 'adamw'"),
    ("unknown hyperparameter", lambda f: fit(optimizer={"name": "sgd", "momentun": 0.9}), ConfigError, "momentun: expected a hyperparameter"),
    ("bad momentum", lambda f: fit(optimizer={"name": "sgd", "momentum": 1.5}), ConfigError, "momentum: expected a number in [0, 1), got 1.5"),
    ("validation pair", lambda f: fit(validation_data=X), ArgTypeError, "validation_data: expected a pair"),
    ("validation labels", lambda f: fit(validation_data=(X, y + 9)), DataError, "validation_data[1]: expected class labels"),
    ("regression proba", lambda f: reg().predict_proba(X), ConfigError, "predict_proba: expected a classification model"),
    ("resume without state", lambda f: fit(resume=True), ConfigError, "resume: expected a model with a saved training state"),
    ("on_divergence", lambda f: fit(on_divergence="explode"), ConfigError, "on_divergence: expected one of 'raise', 'warn'"),
    ("missing model file", lambda f: FNN.load(f / "nope.npz"), ModelFileError, "path: expected an existing file (a model file"),
    ("corrupt model file", lambda f: FNN.load(f / "corrupt.npz"), ModelFileError, "not an .npz (zip) archive"),
    ("truncated model file", lambda f: FNN.load(f / "truncated.npz"), ModelFileError, "truncated or corrupt"),
    ("pickled payload", lambda f: FNN.load(f / "pickled.npz"), ModelFileError, "pickled Python objects (member"),
    ("raw pickle", lambda f: FNN.load(f / "raw.pkl"), ModelFileError, "Python pickle, which is refused"),
    ("foreign npz", lambda f: FNN.load(f / "foreign.npz"), ModelFileError, "without an fnn_nbdev model"),
    ("split fractions", lambda f: split(X, y, (0.5, 0.4)), ConfigError, "fractions: expected positive numbers that sum to 1"),
    ("unknown data set", lambda f: load_dataset("mnsit"), ConfigError, "name: expected one of"),
    ("batch iterator size", lambda f: BatchIterator(X, y, 0), ConfigError, "batch_size: expected an integer >= 1"),
    ("unknown run setting", lambda f: make_config(learning_rate=0.1), ConfigError, "learning_rate: expected a run setting"),
    ("gradcheck step", lambda f: gradcheck(clf(), X[:4], y[:4], h=0), ConfigError, "h: expected a number > 0, got 0"),
]

@pytest.mark.parametrize("call,cls,text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_typed_error(call, cls, text, files):
    with pytest.raises(cls) as e: call(files)
    assert isinstance(e.value, FNNError)
    assert text in str(e.value), str(e.value)
    assert e.value.arg in str(e.value) and str(e.value).startswith(e.value.arg + ": expected ")

def test_at_least_40_distinct_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 40

def test_builtin_compatibility():
    "Ordinary `except ValueError` / `except TypeError` code keeps working."
    with pytest.raises(ValueError): FNN([3, 0, 4], "relu")
    with pytest.raises(TypeError): fit(lr="fast")

def test_failed_fit_leaves_model_untouched():
    m = clf()
    before = [p.copy() for p in m.params]
    with pytest.raises(DataError): m.fit(X, np.where(y == 3, 7, y), progress=False)
    for p, q in zip(m.params, before): np.testing.assert_array_equal(p, q)
