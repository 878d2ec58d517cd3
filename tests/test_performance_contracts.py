"""Performance contracts that can be checked without a clock: no allocation per training step, prediction in
bounded chunks, lazy imports. (Speed itself is measured by bench/epoch.py and bench/compare.py, never asserted.)"""
import subprocess, sys, tracemalloc
import numpy as np
import pytest
from fnn_nbdev.model import FNN
from fnn_nbdev.optim import get_optimizer
from fnn_nbdev.train import Callback

# A 512-row batch of a 256-wide layer is 512 KiB of float32 (a boolean mask of it 128 KiB). What a step may still
# allocate is bounded independently of the batch: NumPy's fixed-size iteration buffer (8192 elements, used by the
# broadcast bias add), reductions over a row, Python's small objects.
BATCH = 512
STEP_BOUND = 64 * 1024
MIXED = [["relu", "tanh", "sigmoid", "leaky_relu"] * 64, "relu", "softmax"]
# a per-neuron layer works on column slices (strided views): NumPy buffers those, up to three 32 KiB buffers at once
MIXED_BOUND = 128 * 1024

@pytest.fixture(autouse=True)
def _one_blas_thread():
    "One BLAS thread: on a loaded 2-core machine, more threads than cores make a step tens of times slower."
    try: from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1): yield

def _data(n, d, k, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.integers(0, k, n)

def _peak_over_steps(model, optimizer, X, y, steps=50, warmup=3):
    "Peak traced memory of `steps` training steps (train_step + optimizer step) after `warmup` steps."
    y = model.prepare_y(y, len(X))
    Xb, yb = np.ascontiguousarray(X[:BATCH]), y[:BATCH]
    opt = get_optimizer(optimizer, model.params, model.grads)
    for _ in range(warmup):
        model.train_step(Xb, yb)
        opt.step()
    tracemalloc.start()
    try:
        for _ in range(steps):
            model.train_step(Xb, yb)
            opt.step()
        return tracemalloc.get_traced_memory()[1]
    finally: tracemalloc.stop()

SGD, ADAM = {"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 1e-3}

@pytest.mark.parametrize("activations,kw,optimizer", [
    ("relu", {}, SGD),
    ("relu", {}, ADAM),
    ("relu", {}, {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True}),
    ("relu", {}, {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01}),
    ("relu", {}, {"name": "rmsprop", "lr": 1e-3, "momentum": 0.9}),
    ("tanh", {}, SGD),
    ("sigmoid", {}, SGD),
    ("leaky_relu", {}, SGD),
    (MIXED, {}, ADAM),                                  # per-neuron mixed layer
    ("relu", {"l1": 1e-4, "l2": 1e-3}, SGD),            # penalty temporaries
    ("relu", {"fused_softmax_ce": False}, SGD),         # through the softmax Jacobian
])
def test_training_step_allocates_nothing_per_batch(activations, kw, optimizer):
    X, y = _data(BATCH, 784, 10)
    model = FNN([784, 256, 128, 10], activations, seed=0, **kw)
    peak = _peak_over_steps(model, optimizer, X, y)
    assert peak < (MIXED_BOUND if activations is MIXED else STEP_BOUND), f"{peak:,} bytes traced over 50 steps"

@pytest.mark.parametrize("activations,dtype", [("relu", "float32"), ("relu", "float64"), (MIXED, "float32")])
def test_peak_does_not_grow_with_the_batch(activations, dtype):
    "A temporary of batch size would make the peak four times larger at a four times larger batch."
    X, y = _data(4 * BATCH, 784, 10, dtype=dtype)
    peaks = []
    for n in (BATCH, 4 * BATCH):
        model = FNN([784, 256, 128, 10], activations, seed=0, dtype=dtype)
        yp = model.prepare_y(y[:n], n)
        opt = get_optimizer("adam", model.params, model.grads)
        for _ in range(2):
            model.train_step(X[:n], yp)
            opt.step()
        tracemalloc.start()
        for _ in range(10):
            model.train_step(X[:n], yp)
            opt.step()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.25 * peaks[0] + 4096 and max(peaks) < MIXED_BOUND, peaks

class _TraceSteps(Callback):
    "Measures the traced peak between batch `start` and batch `stop` of the first epoch of a real `fit`."
    def __init__(self, start=5, stop=55): self.start, self.stop, self.peak = start, stop, None
    def on_batch_end(self, trainer):
        if trainer.epoch: return
        if trainer.batch == self.start: tracemalloc.start()
        elif trainer.batch == self.stop:
            self.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_loop_allocates_nothing_per_batch(optimizer):
    "The whole loop — batch gathering, step, optimiser, default callbacks (history, divergence guard) — per batch."
    X, y = _data(64 * 128, 784, 10)
    trace = _TraceSteps()
    FNN([784, 256, 128, 10], "relu", seed=0).fit(X, y, epochs=1, batch_size=128, optimizer=optimizer, lr=1e-3,
                                                  callbacks=[trace], progress=False)
    assert trace.peak is not None and trace.peak < STEP_BOUND, trace.peak

def test_fit_loop_with_progress_bar_allocates_little(capsys):
    X, y = _data(64 * 128, 784, 10)
    trace = _TraceSteps()
    FNN([784, 256, 128, 10], "relu", seed=0).fit(X, y, epochs=1, batch_size=128, callbacks=[trace], progress=True)
    assert trace.peak is not None and trace.peak < STEP_BOUND, trace.peak

# --- prediction in chunks ---------------------------------------------------------------------------------------

SIZES = [64, 512, 512, 10]

def _activation_bytes(n, sizes, itemsize=4):
    "z and a of every layer for n samples."
    return 2 * n * sum(sizes[1:]) * itemsize

@pytest.mark.parametrize("method", ["predict", "predict_proba", "evaluate"])
def test_predict_never_materialises_all_activations(method):
    n, chunk = 20_000, 500
    X, y = _data(n, SIZES[0], SIZES[-1])
    model = FNN(SIZES, "relu", seed=0)
    model.predict(X[:10])   # the small buffers, so that only what the call itself needs is traced
    args = (X, y) if method == "evaluate" else (X,)
    tracemalloc.start()
    try:
        getattr(model, method)(*args, chunk_size=chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally: tracemalloc.stop()
    everything = _activation_bytes(n, SIZES)                  # ~165 MB: what an unchunked forward would hold
    allowed = (X.size                                          # the finiteness check's boolean array
               + 8 * n * SIZES[-1]                             # the output (and labels)
               + 1.25 * _activation_bytes(chunk, SIZES)        # one chunk's buffers (and a little)
               + 1024 * 1024)
    assert peak < allowed < everything / 10, (peak, allowed, everything)
    for layer in model.layers:                                 # the layers' buffers hold one chunk, not the data set
        assert len(layer.a) <= chunk and len(layer.z) <= chunk

def test_chunked_prediction_equals_one_pass():
    X, y = _data(2500, SIZES[0], SIZES[-1])
    model = FNN(SIZES, "relu", seed=0, dtype="float64")
    whole = model.predict_proba(X, chunk_size=len(X))
    np.testing.assert_allclose(model.predict_proba(X, chunk_size=333), whole, rtol=1e-12, atol=0)
    a, b = model.evaluate(X, y, chunk_size=333), model.evaluate(X, y, chunk_size=len(X))
    assert a["accuracy"] == b["accuracy"] and abs(a["loss"] - b["loss"]) < 1e-12

# --- import laziness ----------------------------------------------------------------------------------------------

HEAVY = ("wandb", "matplotlib", "ipywidgets", "sklearn", "tqdm", "scipy", "pandas", "IPython", "torch", "optuna")

@pytest.mark.parametrize("modules", ["fnn_nbdev", "fnn_nbdev.model", "fnn_nbdev.train, fnn_nbdev.data, fnn_nbdev.metrics",
                                     "fnn_nbdev.gradcheck, fnn_nbdev.experiment"])
def test_import_is_lazy(modules):
    code = f"import sys; import {modules}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [], f"`import {modules}` imported {out}; import them inside the functions that use them"

def test_training_does_not_import_heavy_modules():
    "fit without a progress bar, predict and evaluate need NumPy only."
    code = ("import sys, numpy as np; from fnn_nbdev.model import FNN; X = np.random.default_rng(0).random((64, 4)); "
            "y = (X[:, 0] > 0.5).astype(int); m = FNN([4, 8, 2], 'relu', seed=0); m.fit(X, y, epochs=2, progress=False); "
            f"m.predict(X); m.evaluate(X, y); print(' '.join(x for x in {HEAVY!r} if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [], out
