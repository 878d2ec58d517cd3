"""Epoch throughput of fnn_nbdev's public `fit` against the machine's own sgemm rate, measured in the same run.

    python bench/epoch.py [--epochs 3] [--threads 1] [--dtype float32]

Trains 784-256-128-10 (ReLU, softmax + cross-entropy), batch 128, on 60 000 synthetic samples (float32, or float64 with
--dtype), with SGD and
with Adam, and variants whose first hidden layer mixes activations per neuron: the original project's four-way mix,
relu and tanh alternating (evenly spaced groups: strided views) and in random order (the worst case: every group
gathered into scratch buffers), next to the same neurons in two contiguous runs and to uniform relu and tanh layers. Prints samples/s, the
share of the sgemm rate (the same matmul work timed bare, and a large square sgemm as the machine's peak), and the
ratios the project tracks: Adam step / SGD step, mixed layer / uniform layer; and what the default callbacks cost: an epoch of
`fit` with and without the progress bar, and against a bare loop (batches, train_step, optimiser step, nothing else);
and where an Adam epoch's time goes: the matmuls of its steps alone (on the same gathered batches), Adam's update, the
rest. Nothing here is asserted: numbers are printed.
"""
import argparse, collections, contextlib, os, statistics, time
import numpy as np
from threadpoolctl import threadpool_limits
from fnn_nbdev.model import FNN
from fnn_nbdev.data import BatchIterator
from fnn_nbdev.optim import Adam, get_optimizer
from fnn_nbdev.train import Trainer

SIZES, BATCH, N = [784, 256, 128, 10], 128, 60_000

def useful_flops_per_sample(sizes):
    "Matmul FLOPs of one training sample: forward, weight gradients, and input gradients of every layer but the first."
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * (2 * sum(macs) + sum(macs[1:]))

def sgemm_peak(n=1024, reps=10, dtype=np.float32):
    a, b = np.ones((n, n), dtype), np.ones((n, n), dtype)
    a @ b
    t = time.perf_counter()
    for _ in range(reps): a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t)

def _step_matmuls(dtype):
    "A function doing the exact matmuls of one training step on a batch `Xb` (no bias, activation, loss or update)."
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((a, b)).astype(dtype) for a, b in zip(SIZES[:-1], SIZES[1:])]
    acts = [None] + [rng.standard_normal((BATCH, s)).astype(dtype) for s in SIZES[1:]]
    outs = [np.empty((BATCH, s), dtype) for s in SIZES]
    gW = [np.empty_like(W) for W in Ws]
    def step(Xb):
        acts[0] = Xb
        for i, W in enumerate(Ws): np.matmul(acts[i], W, out=outs[i + 1])
        for i in range(len(Ws) - 1, -1, -1):
            np.matmul(acts[i].T, acts[i + 1], out=gW[i])
            if i: np.matmul(acts[i + 1], Ws[i].T, out=outs[i])
    return step

def sgemm_model_shapes(reps=200, dtype=np.float32):
    "The matmul rate of one training step's matmuls, timed bare on one batch (kept in cache)."
    step, Xb = _step_matmuls(dtype), np.random.default_rng(1).standard_normal((BATCH, SIZES[0])).astype(dtype)
    step(Xb)
    t = time.perf_counter()
    for _ in range(reps): step(Xb)
    return useful_flops_per_sample(SIZES) * BATCH * reps / (time.perf_counter() - t)

def adam_epoch_split(model, X, y):
    "CPU seconds of one Adam epoch of `fit`: in total, in Adam's update, and in the same steps' matmuls alone (on the same gathered batches)."
    spent, original = [0.0], Adam._update
    def timed(self):
        c = time.process_time()
        original(self)
        spent[0] += time.process_time() - c
    Adam._update = timed
    try:
        c = time.process_time()
        model.fit(X, y, epochs=1, batch_size=BATCH, optimizer="adam", lr=1e-3, progress=False, seed=0)
        total = time.process_time() - c
    finally: Adam._update = original
    step = _step_matmuls(X.dtype)
    c = time.process_time()
    for Xb, _ in BatchIterator(X, y, BATCH, seed=0, drop_last=True, check_finite=False): step(Xb)
    full = len(X) // BATCH
    matmuls = (time.process_time() - c) * -(-len(X) // BATCH) / full   # the last, partial batch counted as a full one
    return total, spent[0], matmuls

def epoch_seconds(model, X, y, optimizer, lr, epochs, progress=False):
    "Median epoch time inside one `fit(epochs=...)` call (the one-off input checks of `fit` are not an epoch's cost)."
    h = model.fit(X, y, epochs=epochs, batch_size=BATCH, optimizer=optimizer, lr=lr, progress=progress, seed=0)
    return statistics.median(h.history["epoch_time"])

def callback_seconds(model, X, y, epochs):
    "Time spent inside each default callback's hooks (History, DivergenceGuard, ProgressBar) per epoch, measured directly."
    spent, original = collections.Counter(), Trainer._call
    def timed(self, hook):
        for f in self._hooks[hook]:
            t = time.perf_counter()
            f(self)
            spent[type(f.__self__).__name__] += time.perf_counter() - t
    Trainer._call = timed
    try: h = model.fit(X, y, epochs=epochs, batch_size=BATCH, optimizer="sgd", lr=0.01, progress=True, seed=0)
    finally: Trainer._call = original
    return {k: v / epochs for k, v in spent.items()}, statistics.median(h.history["epoch_time"])

def epoch_seconds_bare(model, X, y, lr):
    "The same epoch without fit: no checks, no Trainer, no callbacks — batches, train_step and SGD steps only."
    y = model.prepare_y(y, len(X))
    opt = get_optimizer("sgd", model.params, model.grads, lr=lr)
    t = time.perf_counter()
    for Xb, yb in BatchIterator(X, y, BATCH, seed=0, check_finite=False):
        model.train_step(Xb, yb)
        opt.step()
    return time.perf_counter() - t

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs per configuration and round (the median is kept)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all measurements (the best is reported)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    dt = np.dtype(args.dtype)
    X = rng.standard_normal((N, SIZES[0])).astype(dt)
    y = rng.integers(0, SIZES[-1], N)
    with threadpool_limits(args.threads):
        kw = dict(seed=0, dtype=args.dtype)
        uniform = FNN(SIZES, "relu", **kw)
        mixed_acts = [["relu", "tanh", "sigmoid", "leaky_relu"] * (SIZES[1] // 4), "relu", "softmax"]  # the original project's set
        mixed = FNN(SIZES, mixed_acts, **kw)
        half = SIZES[1] // 2
        alternating = FNN(SIZES, [["relu", "tanh"] * half, "relu", "softmax"], **kw)      # every group scattered
        grouped = FNN(SIZES, [["relu"] * half + ["tanh"] * half, "relu", "softmax"], **kw)  # two contiguous runs
        tanh = FNN(SIZES, ["tanh", "relu", "softmax"], **kw)
        shuffled = list(np.random.default_rng(0).permutation(["relu"] * half + ["tanh"] * half))
        scattered = FNN(SIZES, [shuffled, "relu", "softmax"], **kw)                      # irregular: gathered
        rows, peaks, shapes = {}, [], []
        # rounds interleave everything, the sgemm rates included, so that drift of a shared machine affects all alike;
        # each number is the best of the rounds (least disturbed)
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):   # tqdm still formats its bar
            for r in range(args.rounds):
                peaks.append(sgemm_peak(dtype=dt))
                shapes.append(sgemm_model_shapes(dtype=dt))
                runs = [("sgd", lambda: epoch_seconds(uniform, X, y, "sgd", 0.01, args.epochs)),
                        ("adam", lambda: epoch_seconds(uniform, X, y, "adam", 1e-3, args.epochs)),
                        ("sgd, mixed layer 1", lambda: epoch_seconds(mixed, X, y, "sgd", 0.01, args.epochs)),
                        ("sgd, relu/tanh alt.", lambda: epoch_seconds(alternating, X, y, "sgd", 0.01, args.epochs)),
                        ("sgd, relu|tanh runs", lambda: epoch_seconds(grouped, X, y, "sgd", 0.01, args.epochs)),
                        ("sgd, relu/tanh random", lambda: epoch_seconds(scattered, X, y, "sgd", 0.01, args.epochs)),
                        ("sgd, tanh layer 1", lambda: epoch_seconds(tanh, X, y, "sgd", 0.01, args.epochs)),
                        ("bare loop (SGD)", lambda: statistics.median(epoch_seconds_bare(uniform, X, y, 0.01) for _ in range(args.epochs))),
                        ("sgd, progress bar", lambda: epoch_seconds(uniform, X, y, "sgd", 0.01, args.epochs, progress=True))]
                for name, f in (runs if r % 2 == 0 else runs[::-1]): rows.setdefault(name, []).append(f())
            cb_times, cb_epoch = callback_seconds(uniform, X, y, args.epochs)
            splits = [adam_epoch_split(FNN(SIZES, "relu", **kw), X, y) for _ in range(args.rounds)]
        rows = {k: min(v) for k, v in rows.items()}
        peak, shapes = max(peaks), max(shapes)
    flops = useful_flops_per_sample(SIZES)
    gemm = "sgemm" if dt == np.float32 else "dgemm"
    print(f"fnn_nbdev epoch benchmark: {SIZES}, batch {BATCH}, {N} {args.dtype} samples, {args.threads} BLAS thread(s), "
          f"{args.rounds} interleaved rounds; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{gemm} peak (1024³): {peak / 1e9:6.1f} GFLOP/s   bare matmuls of a training step: {shapes / 1e9:6.1f} GFLOP/s")
    print(f"{'configuration':<22}{'s/epoch':>9}{'samples/s':>12}{'GFLOP/s':>9}{'% peak':>8}{'% bare':>8}")
    for name, sec in rows.items():
        rate = N * flops / sec
        print(f"{name:<22}{sec:>9.3f}{N / sec:>12,.0f}{rate / 1e9:>9.1f}{100 * rate / peak:>7.1f}%{100 * rate / shapes:>7.1f}%")
    print(f"Adam step / SGD step:          {rows['adam'] / rows['sgd']:.3f}")
    print(f"mixed layer / uniform (SGD):   {rows['sgd, mixed layer 1'] / rows['sgd']:.3f}")
    for key, what in (("sgd, relu/tanh alt.", "relu/tanh alternating (strided views)"),
                      ("sgd, relu/tanh random", "relu/tanh in random order (gathered)")):
        print(f"{what}: / uniform relu {rows[key] / rows['sgd']:.3f}, / uniform tanh {rows[key] / rows['sgd, tanh layer 1']:.3f}, "
              f"/ the same neurons in two runs {rows[key] / rows['sgd, relu|tanh runs']:.3f}")
    print(f"progress bar / epoch:          {100 * (rows['sgd, progress bar'] / rows['sgd'] - 1):+.1f} %")
    print(f"fit epoch (Trainer, history, divergence guard) / bare loop: {100 * (rows['sgd'] / rows['bare loop (SGD)'] - 1):+.1f} %")
    total = sum(cb_times.values())
    print("default callbacks, timed inside their hooks: " + ", ".join(f"{k} {1e3 * v:.2f} ms" for k, v in cb_times.items())
          + f" per epoch = {100 * total / cb_epoch:.2f} % of a {cb_epoch:.3f} s epoch")
    total, adam, matmuls = min(splits)   # the least disturbed round
    print(f"an Adam epoch of fit, CPU time: {total:.3f} s = its matmuls alone {100 * matmuls / total:.0f} % (on the same gathered "
          f"batches) + Adam's update {100 * adam / total:.0f} % + the rest {100 * (total - matmuls - adam) / total:.0f} % "
          "(bias, activations, loss, batches, loop)")

if __name__ == "__main__":
    main()
