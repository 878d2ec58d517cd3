"""fnn_nbdev `fit` against PyTorch CPU on the same MLP, data, batch and optimiser, measured in one run.

    python bench/compare.py [--pairs 5] [--threads 1,2] [--dtypes float32,float64] [--optimizers sgd,adam]

Trains 784-256-128-10 (ReLU, softmax + cross-entropy), batch 128, on 60 000 synthetic samples, one epoch at a time,
both libraries starting from the same weights. fnn_nbdev is timed through its public `fit(..., epochs=1)` (checks,
callbacks and all); PyTorch through the usual loop (randperm, gather, zero_grad, forward, loss, backward, step, and
the loss and accuracy read back per batch, as fnn_nbdev's history does). The two alternate in A/B pairs (the order
flips every pair) so that the load of a shared machine falls on both alike; the table gives the median seconds per
epoch of each and the median and min–max of the per-pair ratios fnn_nbdev / PyTorch (< 1: fnn_nbdev is faster).
BLAS threads are set for NumPy through threadpoolctl and for PyTorch through `torch.set_num_threads`.

PyTorch is not a dependency of fnn_nbdev. If it cannot be imported here, the script makes its own environment,
bench/.venv-torch, installs torch==2.13.0 (only if a local wheel of exactly that version is available, which
avoids downloading gigabytes) with the same NumPy, and runs itself again there with fnn_nbdev on PYTHONPATH.
Where that is impossible it says so and exits 0.
"""
import argparse, os, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-torch"
TORCH = "2.13.0"
SIZES, BATCH, N = [784, 256, 128, 10], 128, 60_000
LR = {"sgd": 0.01, "adam": 1e-3}

def skip(msg):
    print(f"compare.py: skipped: {msg}")
    sys.exit(0)

def venv_python(): return VENV / "bin" / "python"

def ensure_torch_env():
    "Run this script again under an environment that has torch==2.13.0 (created once), or skip."
    if os.environ.get("FNN_BENCH_REEXEC"): skip("torch is still not importable in the bench environment")
    import numpy
    py = venv_python()
    if not py.exists():
        print(f"creating {VENV.relative_to(ROOT)} for torch=={TORCH} (once)", flush=True)
        if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode: skip("could not create a virtual environment")
    pip = [str(py), "-m", "pip", "--disable-pip-version-check", "-q"]
    if subprocess.run([str(py), "-c", f"import torch, threadpoolctl; assert torch.__version__.split('+')[0] == '{TORCH}'"],
                      capture_output=True).returncode:
        # only a wheel already on this machine: the same version from an index is gigabytes of download
        probe = subprocess.run(pip + ["install", "--dry-run", "--no-index", "--no-deps", f"torch=={TORCH}"], capture_output=True)
        if probe.returncode: skip(f"no local wheel of torch=={TORCH} on this machine (pip's find-links); not downloading one")
        if subprocess.run(pip + ["install", "--only-binary=:all:", f"torch=={TORCH}", f"numpy=={numpy.__version__}",
                                 "threadpoolctl"]).returncode:
            skip(f"pip could not install torch=={TORCH} into {VENV}")
    env = dict(os.environ, FNN_BENCH_REEXEC="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    sys.exit(subprocess.run([str(py), __file__, *sys.argv[1:]], env=env).returncode)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=5, help="A/B pairs per configuration (after one warm-up epoch each)")
    ap.add_argument("--threads", default="1,2", help="BLAS thread counts, comma-separated")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--optimizers", default="sgd,adam")
    ap.add_argument("--n", type=int, default=N, help="training samples")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        ensure_torch_env()
    import numpy as np
    from threadpoolctl import threadpool_limits
    from fnn_nbdev.model import FNN

    def torch_model(fnn, dtype):
        "The same MLP in PyTorch, with fnn_nbdev's initial weights (nn.Linear stores W transposed)."
        layers = []
        for i, layer in enumerate(fnn.layers):
            lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy())); lin.bias.copy_(torch.from_numpy(layer.b))
            layers += [lin] + ([torch.nn.ReLU()] if i < len(fnn.layers) - 1 else [])
        return torch.nn.Sequential(*layers)

    def torch_epoch(model, opt, X, y, gen):
        loss_fn, total, correct, n = torch.nn.CrossEntropyLoss(), 0.0, 0, len(X)
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx); correct += int((out.argmax(1) == yb).sum())
        return total / n, correct / n

    rng = np.random.default_rng(0)
    n = args.n
    X64 = rng.standard_normal((n, SIZES[0]))
    y = rng.integers(0, SIZES[-1], n)
    y_t = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    print(f"fnn_nbdev vs PyTorch {torch.__version__} (CPU): {SIZES}, ReLU, softmax + CE, batch {BATCH}, {n} samples; "
          f"{args.pairs} interleaved pairs per row after a warm-up epoch; NumPy {np.__version__}")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)", flush=True)
    head = f"{'optimizer':<10}{'dtype':<9}{'threads':>7}{'fnn_nbdev s':>13}{'PyTorch s':>11}{'ratio median':>14}{'ratio min–max':>16}"
    print(head); print("-" * len(head))
    rows = []
    flops = 2 * (2 * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:])) + sum(a * b for a, b in zip(SIZES[1:-1], SIZES[2:])))
    def sgemm_rate(k=1024, reps=10):
        "The machine's float32 matmul rate (a 1024³ sgemm), for the share of it that fnn_nbdev's SGD epoch reaches."
        A = np.ones((k, k), np.float32); A @ A
        t = time.perf_counter()
        for _ in range(reps): A @ A
        return 2 * k ** 3 * reps / (time.perf_counter() - t)
    for threads in [int(t) for t in args.threads.split(",")]:
        for dtype in args.dtypes.split(","):
            X = X64.astype(dtype)
            X_t = torch.from_numpy(X)
            tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
            for opt_name in args.optimizers.split(","):
                lr = LR[opt_name]
                with threadpool_limits(limits=threads):
                    torch.set_num_threads(threads)
                    fnn = FNN(SIZES, "relu", seed=0, dtype=dtype)
                    tm = torch_model(fnn, tdtype)
                    topt = (torch.optim.SGD(tm.parameters(), lr=lr) if opt_name == "sgd"
                            else torch.optim.Adam(tm.parameters(), lr=lr))
                    def run_fnn(seed):
                        t = time.perf_counter()
                        fnn.fit(X, y, epochs=1, batch_size=BATCH, optimizer=opt_name, lr=lr, progress=False, seed=seed)
                        return time.perf_counter() - t
                    def run_torch(seed):
                        t = time.perf_counter()
                        torch_epoch(tm, topt, X_t, y_t, gen)
                        return time.perf_counter() - t
                    run_fnn(0); run_torch(0)   # warm-up: buffers, caches, lazy initialisation
                    a, b, peaks = [], [], []
                    for k in range(args.pairs):
                        peaks.append(sgemm_rate())
                        if k % 2: b.append(run_torch(k)); a.append(run_fnn(k))
                        else: a.append(run_fnn(k)); b.append(run_torch(k))
                ratios = [x / z for x, z in zip(a, b)]
                row = dict(optimizer=opt_name, dtype=dtype, threads=threads, fnn=statistics.median(a), torch=statistics.median(b),
                           ratio=statistics.median(ratios), lo=min(ratios), hi=max(ratios))
                rows.append(row)
                rate = n * flops / row["fnn"] / statistics.median(peaks)   # fnn_nbdev's matmul work per second / sgemm's
                print(f"{opt_name:<10}{dtype:<9}{threads:>7}{row['fnn']:>13.3f}{row['torch']:>11.3f}{row['ratio']:>14.2f}"
                      f"{row['lo']:>10.2f}–{row['hi']:.2f}" + (f"   fnn_nbdev at {100 * rate:.0f} % of the sgemm rate "
                      f"({statistics.median(peaks) / 1e9:.0f} GFLOP/s, measured between the pairs)" if dtype == "float32" else ""), flush=True)
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return rows

if __name__ == "__main__":
    main()
