"""Hardening: bad input anywhere in the public API, properties of predict/save/load, divergence, interruption,
hostile files, determinism across processes. (tests/test_errors.py covers the model, fit and load basics.)"""
import json, os, pickle, signal, subprocess, sys, textwrap, time, warnings
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from fnn_nbdev.errors import FNNError, ConfigError, ShapeError, DataError, ArgTypeError, ModelFileError, DivergenceError
from fnn_nbdev import optim as O, data as D, metrics as M, train as T, experiment as E, config as C
from fnn_nbdev.model import FNN

rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 3)).astype(np.float32), rng.integers(0, 4, size=40)
P = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
G = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
def clf(): return FNN([3, 8, 4], "relu", seed=0)
def fit(X=X, y=y, **kw): return clf().fit(X, y, **{"epochs": 1, "progress": False, **kw})

try: from fnn_nbdev import sweep_space
except ImportError: sweep_space = None
SWEEP = {"method": "random", "metric": {"name": "val_loss", "goal": "minimize"}, "parameters": {"lr": {"values": [0.01]}}}

# ---------------------------------------------------------------------------------------------------------------
# A table of bad inputs: (id, call, error class, text the message must contain)
CASES = [
    # optimisers, clipping, schedules
    ("optimizer unknown", lambda: O.get_optimizer("adagrad", P, G), ConfigError, "optimizer: expected one of 'adam', 'adamw'"),
    ("optimizer config type", lambda: O.get_optimizer(3, P, G), ArgTypeError, "expected a name or a config dict"),
    ("optimizer lr nan", lambda: O.get_optimizer("sgd", P, G, lr=float("nan")), ConfigError, "lr: expected a finite number, got nan"),
    ("adam beta1 = 1", lambda: O.Adam(P, G, beta1=1.0), ConfigError, "beta1: expected a number in [0, 1), got 1.0"),
    ("rmsprop eps 0", lambda: O.RMSprop(P, G, eps=0), ConfigError, "eps: expected a number > 0, got 0"),
    ("nesterov without momentum", lambda: O.SGD(P, G, nesterov=True), ConfigError, "momentum: expected a number > 0 when nesterov=True"),
    ("nesterov not bool", lambda: O.SGD(P, G, momentum=0.9, nesterov="yes"), ArgTypeError, "nesterov: expected True or False, got 'yes'"),
    ("adamw weight decay < 0", lambda: O.AdamW(P, G, weight_decay=-1), ConfigError, "weight_decay: expected a number >= 0, got -1"),
    ("params not a list", lambda: O.SGD(np.zeros(3), G), ArgTypeError, "params: expected a list of NumPy arrays"),
    ("grads count", lambda: O.SGD(P, G[:1]), ShapeError, "grads: expected as many arrays as params (2), got 1"),
    ("grad shape", lambda: O.SGD(P, [np.zeros((2, 3), np.float32), G[1]]), ShapeError, "grads[0]: expected shape (3, 2) like params[0]"),
    ("integer params", lambda: O.SGD([np.zeros(3, int)], [np.zeros(3, int)]), ArgTypeError, "params[0]: expected a float NumPy array"),
    ("clip_norm < 0", lambda: O.SGD(P, G, clip_norm=-1), ConfigError, "clip_norm: expected a number > 0, got -1"),
    ("state of another optimizer", lambda: O.SGD(P, G).load_state_dict({"name": "adam", "t": 0, "lr": 0.1}), ConfigError, "state_dict: expected the state of a 'sgd' optimizer, got 'adam'"),
    ("schedule unknown", lambda: O.get_schedule("linear_decay"), ConfigError, "schedule: expected one of"),
    ("step decay size 0", lambda: O.StepDecay(0), ConfigError, "step_size: expected an integer >= 1, got 0"),
    ("exponential gamma > 1", lambda: O.ExponentialDecay(2.0), ConfigError, "gamma: expected a number <= 1, got 2.0"),
    ("schedule unknown setting", lambda: O.get_schedule("step", step_size=3, gama=0.5), ConfigError, "gama: expected a hyperparameter of schedule 'step'"),
    # data helpers
    ("xor n = 1", lambda: D.make_xor(1), ConfigError, "n: expected at least 2 samples (one per class), got 1"),
    ("moons noise < 0", lambda: D.make_moons(noise=-0.1), ConfigError, "noise: expected a number >= 0, got -0.1"),
    ("spirals one class", lambda: D.make_spirals(classes=1), ConfigError, "classes: expected an integer >= 2, got 1"),
    ("circles factor > 1", lambda: D.make_circles(factor=1.5), ConfigError, "factor: expected a number <= 1, got 1.5"),
    ("blobs centers vs n_features", lambda: D.make_blobs(centers=[[0, 0], [1, 1]], n_features=3), ShapeError, "centers: expected 3 columns (n_features=3)"),
    ("regression fn unknown", lambda: D.make_regression_1d(fn="tan"), ConfigError, "fn: expected one of"),
    ("seed string", lambda: D.make_moons(seed="abc"), ArgTypeError, "seed: expected an integer, got 'abc'"),
    ("load_dataset unknown setting", lambda: D.load_dataset("moons", n_samples=10), ConfigError, "load_dataset('moons'): expected"),
    ("split y length", lambda: D.split(X, y[:5]), ShapeError, "y: expected 40 rows, one per row of X"),
    ("split too few samples", lambda: D.split(X[:2], y[:2], (0.3, 0.3, 0.4)), DataError, "X: expected at least 3 samples to fill 3 parts"),
    ("standardizer unfitted", lambda: D.Standardizer().transform(X), ConfigError, "Standardizer: expected a fitted Standardizer"),
    ("standardizer columns", lambda: D.Standardizer().fit(X).transform(X[:, :2]), ShapeError, "X: expected 3 columns, as in fit"),
    ("standardizer negative scale", lambda: D.Standardizer.from_dict({"mean": [0.0], "scale": [-1.0]}), ConfigError, "scale: expected positive values"),
    ("one_hot fractional", lambda: D.one_hot([0, 1.5]), DataError, "y: expected whole-number class labels, got 1.5"),
    ("one_hot label >= n_classes", lambda: D.one_hot([0, 3], n_classes=2), DataError, "y: expected labels in 0..1 (n_classes=2), got 3"),
    ("batches larger than data", lambda: D.BatchIterator(X, y, 100, drop_last=True), ConfigError, "batch_size: expected at most 40"),
    ("batch iterator state", lambda: D.BatchIterator(X, y, 4).load_state_dict(7), ConfigError, "state: expected a dict from BatchIterator.state_dict(), got 7"),
    # metrics
    ("accuracy lengths", lambda: M.accuracy([0, 1, 1], [0, 1]), ShapeError, "y_pred: expected 3 predictions, one per label in y_true"),
    ("accuracy negative label", lambda: M.accuracy([0, -1], [0, 1]), DataError, "y_true: expected class labels >= 0, got -1"),
    ("accuracy NaN", lambda: M.accuracy([0, np.nan], [0, 1]), DataError, "y_true: expected finite values"),
    ("accuracy text", lambda: M.accuracy("01", "01"), ArgTypeError, "y_true: expected an array of numbers, got '01'"),
    ("confusion normalize", lambda: M.confusion_matrix([0, 1], [0, 1], normalize="rows"), ConfigError, "normalize: expected one of 'all', 'pred', 'true', got 'rows'"),
    ("confusion n_classes too small", lambda: M.confusion_matrix([0, 3], [0, 1], n_classes=2), DataError, "expected labels in 0..1 (n_classes=2), got 3"),
    ("f1 average", lambda: M.precision_recall_f1([0, 1], [0, 1], average="mean"), ConfigError, "average: expected one of 'macro', 'micro', 'weighted'"),
    ("report class names", lambda: M.classification_report([0, 1], [0, 1], class_names="ab"), ArgTypeError, "class_names: expected a list of names"),
    ("mse shapes", lambda: M.mse([1, 2, 3], [1, 2]), ShapeError, "y_pred: expected the shape of y_true (3,)"),
    ("r2 empty", lambda: M.r2_score([], []), DataError, "y_true: expected at least one sample"),
    # callbacks, fit and model extras
    ("early stopping mode", lambda: T.EarlyStopping(mode="up"), ConfigError, "mode: expected one of 'auto', 'max', 'min', got 'up'"),
    ("early stopping monitor absent", lambda: fit(callbacks=[T.EarlyStopping()]), ConfigError, "monitor: expected a metric logged each epoch"),
    ("lr scheduler per", lambda: T.LRScheduler("cosine", per="batch"), ConfigError, "per: expected one of 'epoch', 'step', got 'batch'"),
    ("lr finder range", lambda: T.LRFinder(start_lr=1, end_lr=0.1), ConfigError, "end_lr: expected a value greater than start_lr=1"),
    ("callback not a Callback", lambda: fit(callbacks=[print]), ArgTypeError, "callbacks: expected a list of train.Callback objects"),
    ("callbacks not a list", lambda: fit(callbacks=T.History()), ArgTypeError, "callbacks: expected a list of train.Callback objects"),
    ("shuffle not bool", lambda: fit(shuffle="no"), ArgTypeError, "shuffle: expected True or False, got 'no'"),
    ("lr_schedule unknown", lambda: fit(lr_schedule="cosinus"), ConfigError, "schedule: expected one of"),
    ("optimizer of another model", lambda: fit(optimizer=O.SGD(P, G)), ConfigError, "optimizer: expected an Optimizer built on this model's params"),
    ("validation triple", lambda: fit(validation_data=(X, y, y)), ArgTypeError, "validation_data: expected a pair (X_val, y_val)"),
    ("validation columns", lambda: fit(validation_data=(X[:, :2], y)), ShapeError, "validation_data[0]: expected 3 features per sample"),
    ("targets None", lambda: fit(y=None), (DataError, ArgTypeError), "y: expected"),
    ("complex X", lambda: fit(X=X + 1j), ArgTypeError, "X: expected an array of numbers"),
    ("ragged X", lambda: fit(X=[[1, 2, 3], [1, 2]], y=[0, 1]), ArgTypeError, "X: expected an array of numbers"),
    ("epochs fractional", lambda: fit(epochs=2.5), ArgTypeError, "epochs: expected an integer, got 2.5"),
    ("epochs True", lambda: fit(epochs=True), ArgTypeError, "epochs: expected an integer, got True"),
    ("predict chunk_size 0", lambda: clf().predict(X, chunk_size=0), ConfigError, "chunk_size: expected an integer >= 1, got 0"),
    ("backward before forward", lambda: clf().backward(y), ConfigError, "backward: expected a call to forward(X) first"),
    ("sizes as text", lambda: FNN("3,8,4", "relu"), ConfigError, "sizes: expected a list"),
    ("activation parameter", lambda: FNN([3, 8, 4], "leaky_relu:abc"), ConfigError, "'leaky_relu:<number>'"),
    ("init parameter", lambda: FNN([3, 8, 4], "relu", init="normal:-1"), ConfigError, "init: expected a positive standard deviation"),
    ("seed negative", lambda: FNN([3, 8, 4], "relu", seed=-1), ConfigError, "seed: expected an integer >= 0, got -1"),
    ("from_config unknown key", lambda: FNN.from_config({**clf().config(), "colour": 1}), ConfigError, "config['colour']: expected a key of FNN.config()"),
    ("save into a missing folder", lambda: clf().save("/no/such/folder/m.npz"), ModelFileError, "path: expected a file in an existing folder"),
    ("save path type", lambda: clf().save(5), ArgTypeError, "path: expected a file path (str or pathlib.Path), got 5"),
    ("load a folder", lambda: FNN.load("/tmp"), ModelFileError, "path: expected an existing file (a model file written by FNN.save), got '/tmp'"),
    ("load None", lambda: FNN.load(None), ArgTypeError, "path: expected a file path (str or pathlib.Path), got None"),
    # experiment config
    ("config not a dict", lambda: C.make_config([("lr", 1)]), ArgTypeError, "config: expected a dict of run settings"),
    ("config momentum", lambda: C.make_config(optimizer="sgd", momentum=2), ConfigError, "momentum: expected a number in [0, 1), got 2"),
    ("config momentum text", lambda: C.make_config(momentum="high"), ArgTypeError, "momentum: expected a number, got 'high'"),
    ("config nesterov alone", lambda: C.make_config(optimizer="sgd", nesterov=True), ConfigError, "momentum: expected a number > 0 when nesterov=True"),
    ("config eps", lambda: C.make_config(eps=-1), ConfigError, "eps: expected a number > 0, got -1"),
    ("config l2 text", lambda: C.make_config(l2="x"), ArgTypeError, "l2: expected a number, got 'x'"),
    ("config schedule", lambda: C.make_config(lr_schedule="cosinus"), ConfigError, "lr_schedule: expected one of 'constant', 'cosine'"),
    ("config schedule setting", lambda: C.make_config(lr_schedule={"name": "step"}), ConfigError, "lr_schedule.step_size: expected a value"),
    ("config clip_norm", lambda: C.make_config(clip_norm=0), ConfigError, "clip_norm: expected a number > 0, got 0"),
    ("config seed", lambda: C.make_config(seed="x"), ArgTypeError, "seed: expected an integer, got 'x'"),
    ("config standardize", lambda: C.make_config(standardize="yes"), ArgTypeError, "standardize: expected True or False, got 'yes'"),
    ("config dtype", lambda: C.make_config(dtype="float16"), ConfigError, "dtype: expected one of 'float32', 'float64', got 'float16'"),
    ("config n_samples", lambda: C.make_config(n_samples=0), ConfigError, "n_samples: expected an integer >= 1, got 0"),
    ("config activation per layer", lambda: C.make_config(hidden=[4, 4], activation=["relu"]), ConfigError, "activation: expected one name, or one per hidden layer (2)"),
    ("config early stopping without validation", lambda: C.make_config(early_stopping=3, val_fraction=0), ConfigError, "early_stopping: expected 0 when val_fraction=0"),
    ("config width alone", lambda: C.make_config(width=8), ConfigError, "n_layers/width: expected both n_layers and width"),
    ("experiment noise on a fixed set", lambda: E.run_experiment(dataset="iris", noise=0.1, epochs=1, progress=False), ConfigError, "noise: expected no noise setting for the fixed data set 'iris'"),
    ("experiment callbacks", lambda: E.run_experiment(dataset="xor", epochs=1, progress=False, callbacks=5), ArgTypeError, "callbacks: expected a list of train.Callback objects, got 5"),
]
if sweep_space is not None:
    CASES += [
        ("sweep method", lambda: sweep_space.load_sweep_config({**SWEEP, "method": "genetic"}), ConfigError, "method: expected one of"),
        ("sweep metric", lambda: sweep_space.load_sweep_config({**SWEEP, "metric": "val_loss"}), ConfigError, "metric: expected a mapping {name: ..., goal: minimize|maximize}"),
        ("sweep unknown key", lambda: sweep_space.load_sweep_config({**SWEEP, "paramters": {}}), ConfigError, "paramters: expected a sweep config key"),
        ("sweep config type", lambda: sweep_space.load_sweep_config(42), ConfigError, "config: expected a mapping"),
    ]

@pytest.mark.parametrize("call,cls,text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_typed_error_naming_argument_expectation_and_value(call, cls, text):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(FNNError) as e: call()
    assert isinstance(e.value, cls), (type(e.value), str(e.value))
    msg = str(e.value)
    assert msg.startswith(e.value.arg + ": expected ") and ", got " in msg, msg
    assert text in msg, msg

def test_the_table_is_large_and_distinct_from_test_errors():
    import importlib.util
    spec = importlib.util.spec_from_file_location("_test_errors", Path(__file__).with_name("test_errors.py"))
    te = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(te)
    assert len({c[0] for c in CASES}) == len(CASES) >= 40
    assert not {c[0] for c in CASES} & {c[0] for c in te.CASES}

FNN_CMD = [str(Path(sys.executable).with_name("fnn"))]

def test_cli_flags_exit_2_with_one_line_each(tmp_path):
    "Bad flags not covered in test_cli: each run exits with code 2 and a one-line message naming the flag."
    (tmp_path / "list.json").write_text("[1, 2]")
    cases = [(["--batch-size=0"], "batch_size: expected an integer >= 1, got 0"),
             (["--lr=fast"], "lr: expected a number, got 'fast'"),
             (["--dtype=float16"], "dtype: expected one of 'float32', 'float64'"),
             (["--val-fraction=0.7", "--test-fraction=0.3"], "val_fraction: expected val_fraction + test_fraction < 0.95"),
             (["--optimizer=sgd", "--momentum=1.5"], "momentum: expected a number in [0, 1), got 1.5"),
             (["--config", str(tmp_path / "list.json")], "expected a mapping of settings (a run config), got 'list'")]
    for args, text in cases:
        r = subprocess.run([*FNN_CMD, "train", *args, "--epochs=1", "--no-progress"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert text in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)

def test_a_yaml_payload_never_runs(tmp_path):
    "YAML files (run configs, sweeps) are read with safe_load: a python/object tag is refused, not executed."
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    r = subprocess.run([*FNN_CMD, "train", "--config", str(evil), "--epochs=1", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "python/object/apply" in r.stderr
    if sweep_space is not None:
        with pytest.raises(FNNError): sweep_space.load_sweep_config(evil)
    assert not marker.exists()

# ---------------------------------------------------------------------------------------------------------------
# Properties over random architectures and data

@st.composite
def problems(draw):
    loss = draw(st.sampled_from(["mse", "bce", "cross_entropy"]))
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(2, 4) if loss == "cross_entropy" else st.integers(1, 3))
    sizes = [n_in, *draw(st.lists(st.integers(1, 16), min_size=0, max_size=3)), n_out]
    act = draw(st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu", "softplus", "identity"]))
    seed, n = draw(st.integers(0, 2**31 - 1)), draw(st.integers(1, 50))
    r = np.random.default_rng(seed)
    Xp = r.normal(size=(n, n_in)) * draw(st.sampled_from([1e-3, 1.0, 30.0]))          # float64 input on purpose
    yp = {"mse": lambda: r.normal(size=(n, n_out)), "bce": lambda: r.integers(0, 2, size=(n, n_out)),
          "cross_entropy": lambda: r.integers(0, n_out, size=n)}[loss]()
    opt = draw(st.sampled_from(["sgd", "adam", "rmsprop", {"name": "sgd", "momentum": 0.9, "nesterov": True}]))
    return dict(sizes=sizes, activations=act, loss=loss, seed=seed, l2=draw(st.sampled_from([0.0, 1e-3]))), Xp, yp, opt

def _snapshot(m):
    opt = m.optimizer.state_dict() if m.optimizer is not None else {}
    return [p.copy() for p in m.params], {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.items()}, json.dumps(m.train_state)

@pytest.mark.filterwarnings("ignore:X. the inputs are far off scale")      # random data of any scale: the warning is right
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fit_predict_evaluate_save_load_properties(tmp_path_factory, problem):
    cfg, Xp, yp, opt = problem
    m = FNN(**cfg)
    hist = m.fit(Xp, yp, epochs=2, batch_size=8, optimizer=opt, lr=1e-3, progress=False)
    assert all(np.isfinite(hist.history["loss"]))                                   # finite losses
    assert all(p.dtype == np.float32 for p in m.params)                            # float64 data, float32 model
    before = _snapshot(m)
    pred = m.predict(Xp)
    n, n_out = len(Xp), cfg["sizes"][-1]
    if m.task == "multiclass": assert pred.shape == (n,) and pred.dtype.kind == "i" and pred.max() < n_out
    elif m.task == "binary": assert pred.shape == ((n,) if n_out == 1 else (n, n_out)) and set(np.unique(pred)) <= {0, 1}
    else: assert pred.shape == ((n,) if n_out == 1 else (n, n_out)) and pred.dtype == np.float32
    if m.task != "regression":
        proba = m.predict_proba(Xp)
        assert proba.shape == (n, n_out) and proba.dtype == np.float32 and ((proba >= 0) & (proba <= 1)).all()
    res = m.evaluate(Xp, yp)
    assert np.isfinite(res["loss"]) and set(res) == ({"loss", "accuracy"} if m.task != "regression" else {"loss", "mae", "rmse", "r2"})
    after = _snapshot(m)                                                            # predict/evaluate change nothing
    for a, b in zip(before[0], after[0]): np.testing.assert_array_equal(a, b)
    assert before[1].keys() == after[1].keys() and before[2] == after[2]
    for k in before[1]: np.testing.assert_array_equal(before[1][k], after[1][k])
    path = tmp_path_factory.mktemp("m") / "m.npz"
    m2 = FNN.load(m.save(path))                                                     # exact round trip
    assert m2.config() == m.config() and m2.train_state == m.train_state
    for a, b in zip(m.params, m2.params):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    s1, s2 = m.optimizer.state_dict(), m2.optimizer.state_dict()
    assert s1.keys() == s2.keys() and m.optimizer.config() == m2.optimizer.config()
    for k in s1: np.testing.assert_array_equal(s1[k], s2[k])
    np.testing.assert_array_equal(m2.predict(Xp), pred)

# ---------------------------------------------------------------------------------------------------------------
# Divergence

def test_divergence_in_run_experiment_stops_at_once_and_says_what_to_try():
    t0 = time.perf_counter()
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as e:
        E.run_experiment(dataset="regression", optimizer="sgd", lr=1e4, standardize=False, epochs=200, progress=False)
    assert time.perf_counter() - t0 < 10
    msg = str(e.value)
    assert msg.startswith("loss: expected a finite value") and "diverged in epoch 1" in msg
    assert "weights from the start of that epoch were restored" in msg and "Try a smaller learning rate (lr=10000 now)" in msg
    assert len(e.value.history.history.get("loss", [])) == 0                      # no epoch finished

@pytest.mark.filterwarnings("ignore:X. the inputs are far off scale")      # the inputs are scaled up on purpose
def test_divergence_restores_the_last_good_weights():
    class Keep(T.Callback):
        "Copies the weights at the start of every epoch (after the guard took its own copy)."
        def on_epoch_begin(self, trainer): self.start = [p.copy() for p in trainer.model.params]
    Xr = rng.normal(size=(64, 2))
    yr = Xr @ [3.0, -1.0]
    m, keep = FNN([2, 8, 1], "tanh", loss="mse", seed=0), Keep()
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as e:
        m.fit(Xr * 30, yr * 1e3, epochs=200, optimizer="sgd", lr=0.5, callbacks=[keep], progress=False)
    done = len(e.value.history.history.get("loss", []))
    assert done < 200 and f"diverged in epoch {done + 1}" in str(e.value)      # stopped in the epoch it happened
    for p, g in zip(m.params, keep.start): np.testing.assert_array_equal(p, g)  # weights from the start of that epoch
    assert all(np.isfinite(p).all() for p in m.params)

# ---------------------------------------------------------------------------------------------------------------
# Interruption, resume and determinism across processes

SCRIPT = textwrap.dedent("""
    import sys, time, hashlib, numpy as np
    from fnn_nbdev.model import FNN
    from fnn_nbdev.train import Callback, ModelCheckpoint
    from fnn_nbdev.data import make_spirals
    mode, path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    X, y = make_spirals(600, seed=1)
    class Slow(Callback):                        # slows the epochs down (numerics untouched) so a kill lands mid-epoch
        def on_batch_end(self, trainer): time.sleep(0.01)
    m = FNN([2, 32, 32, 3], "tanh", seed=5)
    cbs = [ModelCheckpoint(path), Slow()] if mode == "checkpoint" else []
    m.fit(X, y, epochs=epochs, batch_size=32, lr=1e-2, progress=False, callbacks=cbs)
    if mode == "save": m.save(path)
    print(hashlib.sha256(b"".join(p.tobytes() for p in m.params)).hexdigest())
""")

def _reference(epochs):
    X_, y_ = D.make_spirals(600, seed=1)
    m = FNN([2, 32, 32, 3], "tanh", seed=5)
    m.fit(X_, y_, epochs=epochs, batch_size=32, lr=1e-2, progress=False)
    return m, (X_, y_)

def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=120)

def test_same_seed_same_weights_across_processes_and_resume_across_processes(tmp_path):
    import hashlib
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    a, b = _run(script, "save", tmp_path / "a.npz", 5), _run(script, "save", tmp_path / "b.npz", 5)
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout                                                     # two processes, identical weights
    ref5, (X_, y_) = _reference(5)
    assert a.stdout.strip() == hashlib.sha256(b"".join(p.tobytes() for p in ref5.params)).hexdigest()
    ref10, _ = _reference(10)
    m = FNN.load(tmp_path / "a.npz")                                                # 5 epochs in another process ...
    m.fit(X_, y_, epochs=10, batch_size=32, resume=True, progress=False)            # ... + 5 here == 10 in one go
    for p, q in zip(m.params, ref10.params): np.testing.assert_array_equal(p, q)

@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_mid_epoch_leaves_a_loadable_checkpoint_that_resumes_exactly(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    ckpt = tmp_path / "ckpt.npz"
    proc = subprocess.Popen([sys.executable, str(script), "checkpoint", str(ckpt), "50"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while not ckpt.exists():                                                   # first checkpoint written
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
            time.sleep(0.02)
        time.sleep(0.25 + 0.1 * (os.getpid() % 3))                                 # well inside a later epoch (~0.2 s each)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None: proc.kill()
    assert proc.returncode == -signal.SIGKILL
    m = FNN.load(ckpt)                                                              # the last complete checkpoint loads
    done = m.train_state["epoch"]
    assert 1 <= done < 50 and m.train_state["data"]["batch"] == 0                   # saved at an epoch boundary
    ref, (X_, y_) = _reference(done + 2)
    m.fit(X_, y_, epochs=done + 2, batch_size=32, resume=True, progress=False)      # resume == uninterrupted run
    for p, q in zip(m.params, ref.params): np.testing.assert_array_equal(p, q)

def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    m = clf()
    path = m.save(tmp_path / "m.npz")
    before = path.read_bytes()
    m.fit(X, y, epochs=1, progress=False)
    def disk_full(*a, **k): raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError): m.save(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]   # no temp file left

# ---------------------------------------------------------------------------------------------------------------
# Hostile files

class _Payload:
    "Unpickling this creates a file: the proof that code ran."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))

def test_pickle_payloads_never_run(tmp_path):
    marker = tmp_path / "pwned"
    assert not marker.exists()
    np.savez(tmp_path / "object.npz", config=np.array([_Payload(marker)], dtype=object))    # .npz with a pickled array
    (tmp_path / "raw.npz").write_bytes(pickle.dumps(_Payload(marker)))                        # a bare pickle named .npz
    ok = FNN([2, 3, 2], "relu", seed=0)
    arrays = ok._arrays()
    arrays["param_0"] = np.array([_Payload(marker)], dtype=object)                            # a real model, one poisoned array
    np.savez(tmp_path / "poisoned.npz", **arrays)
    for name in ("object.npz", "raw.npz", "poisoned.npz"):
        with pytest.raises(ModelFileError, match="refused"): FNN.load(tmp_path / name)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()  # the payload is real: it does run when unpickled

def _data_offset(raw, member):
    "Where `member`'s bytes start in a zip archive (after its local header: name and extra field lengths vary)."
    import io, struct, zipfile
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo(member)
    n_name, n_extra = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    return info.header_offset + 30 + n_name + n_extra

@pytest.mark.parametrize("damage", ["zeros", "flip", "empty", "npy", "nan params", "bad config", "wrong shape"])
def test_corrupt_or_foreign_model_files_give_a_clear_error(tmp_path, damage):
    m = clf()
    m.fit(X, y, epochs=1, progress=False)
    path = m.save(tmp_path / "m.npz")
    raw = bytearray(path.read_bytes())
    if damage == "zeros": raw[len(raw) // 3: len(raw) // 3 + 200] = bytes(200)
    elif damage == "flip": raw[_data_offset(raw, "param_0.npy") + 140] ^= 0xFF   # a byte of W1's values: the CRC catches it
    elif damage == "empty": raw = b""
    elif damage == "npy":
        np.save(tmp_path / "x.npy", np.zeros(3))
        raw = (tmp_path / "x.npy").read_bytes()
    else:
        arrays = m._arrays()
        if damage == "nan params": arrays["param_0"] = np.full_like(arrays["param_0"], np.nan)
        if damage == "bad config": arrays["config"] = np.array("{not json")
        if damage == "wrong shape": arrays["param_2"] = np.zeros((2, 2), np.float32)
        np.savez(tmp_path / "x.npz", **arrays)
        raw = (tmp_path / "x.npz").read_bytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError) as e: FNN.load(path)
    assert str(e.value).startswith("path: expected ") and str(path) in str(e.value)

def test_no_eval_exec_or_unsafe_loading_in_the_package():
    pkg = Path(__file__).parents[1] / "fnn_nbdev"
    import re   # ast.literal_eval is fine: it parses literals only
    bad = re.compile(r"(?<![\w.])(eval|exec)\(|pickle\.loads?\(|yaml\.(unsafe_)?load\(|allow_pickle=True|shell=True|os\.system\(")
    hits = [(f.name, m.group()) for f in pkg.glob("*.py") if f.name != "_modidx.py" for m in bad.finditer(f.read_text())]
    assert not hits, hits

# ---------------------------------------------------------------------------------------------------------------
# Tracking failures (tests/test_tracking.py covers wandb missing, wandb.init raising, a run dir that is a file)

@pytest.fixture
def disk_full(tmp_path, monkeypatch):
    "Every write under tmp_path/run fails with ENOSPC (the folder itself can still be made)."
    import builtins, errno, io
    run_dir, real_open = tmp_path / "run", builtins.open
    def full_open(file, mode="r", *a, **k):
        if str(file).startswith(str(run_dir)) and any(c in mode for c in "wax+"):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *a, **k)
    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(io, "open", full_open)
    return run_dir

def _one_tracking_warning(w):
    msgs = [str(m.message) for m in w if issubclass(m.category, RuntimeWarning)]
    assert len(msgs) == 1 and "No space left on device" in msgs[0] and "Training continues" in msgs[0], msgs

def test_disk_full_in_the_run_folder_training_completes_with_one_warning(disk_full):
    "The CLI's path: run_experiment with tracking callbacks, then finish_tracking."
    tracking = pytest.importorskip("fnn_nbdev.tracking", reason="tracking module not built yet")
    cfg = C.make_config(dataset="xor", hidden=[8], epochs=3)
    cbs = tracking.tracking_callbacks(cfg, run_dir=disk_full)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res = E.run_experiment(cfg, callbacks=cbs, progress=False)
        tracking.finish_tracking(cbs, res)
    _one_tracking_warning(w)
    assert len(res.history["loss"]) == 3 and "test" in res.metrics
    assert not any(p.is_file() for p in disk_full.rglob("*"))                 # nothing half-written left behind

def test_disk_full_through_run_tracked(disk_full):
    tracking = pytest.importorskip("fnn_nbdev.tracking", reason="tracking module not built yet")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        res, run = tracking.run_tracked({"dataset": "xor", "hidden": [8], "epochs": 3}, run_dir=disk_full)
    _one_tracking_warning(w)
    assert len(res.history["loss"]) == 3 and run is None          # no record could be written: said once, not raised

def _npy(array) -> bytes:
    import io
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()

def _lying_npy(shape, descr="<f4") -> bytes:
    "An .npy member whose header declares `shape` and `descr`, followed by 16 bytes."
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + bytes(16)

@pytest.mark.parametrize("member,shape,descr,why", [
    ("param_0", (100_000, 100_000), "<f4", "declares shape (100000, 100000)"),        # 37 GiB claimed for a 3×8 matrix
    ("param_0", (3, 8), "<i8", "has dtype int64, expected float32 or float64"),
    ("opt/m.0", (100_000, 100_000), "<f4", "declares shape (100000, 100000)"),        # the optimiser's state too
    ("train/0", (100_000, 100_000), "<f4", "should have the shape of a parameter"),  # and the training state's arrays
])
def test_a_lying_npy_header_is_refused_before_its_data_is_read(tmp_path, member, shape, descr, why):
    import zipfile, tracemalloc
    m = clf()
    m.fit(X, y, epochs=1, progress=False, callbacks=[T.EarlyStopping("loss", patience=3)])
    arrays = m._arrays()
    assert "train/0" in arrays                                        # early stopping's best weights are saved
    if member.startswith("train/"):                                   # the training state's reference lies as well
        state = json.loads(str(arrays["train_state"]))
        state["callbacks"][0]["state"]["best_params"][0]["shape"] = list(shape)
        arrays["train_state"] = np.array(json.dumps(state))
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items(): z.writestr(k + ".npy", _lying_npy(shape, descr) if k == member else _npy(v))
    tracemalloc.start()
    with pytest.raises(ModelFileError) as e: FNN.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert why in str(e.value) and str(path) in str(e.value)
    assert peak < 50 * 2**20, f"{peak:,} bytes allocated while refusing the file"

def test_from_weights_round_trip():
    "Weights in, the same arrays in params (the user's order, per-neuron layers too), predictions computed by hand."
    r = np.random.default_rng(5)
    W1, b1, W2, b2 = r.normal(size=(3, 4)), r.normal(size=4), r.normal(size=(4, 2)), r.normal(size=2)
    acts = [["relu", "tanh", "sigmoid", "identity"], "softmax"]
    m = FNN.from_weights([(W1, b1), (W2, b2)], acts)
    assert m.dtype == "float64" and m.sizes == [3, 4, 2]
    for p, q in zip(m.params, [W1, b1, W2, b2]): np.testing.assert_array_equal(p, q)
    Xh = r.normal(size=(6, 3))
    Z = Xh @ W1 + b1
    H = np.column_stack([np.maximum(Z[:, 0], 0), np.tanh(Z[:, 1]), 1 / (1 + np.exp(-Z[:, 2])), Z[:, 3]])
    logits = H @ W2 + b2
    P = np.exp(logits - logits.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    np.testing.assert_allclose(m.predict_proba(Xh), P, rtol=1e-12)
    m32 = FNN.from_weights([W1, b1, W2, b2], acts, dtype="float32")             # the flat list works too
    np.testing.assert_allclose(m32.params[0], W1.astype(np.float32))
    with pytest.raises(ShapeError, match=r"weights\[1\]\[0\]: expected 4 rows"): FNN.from_weights([(W1, b1), (W2.T, b2)], "relu")
