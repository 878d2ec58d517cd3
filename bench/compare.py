"""fnn_nbdev `fit` against PyTorch CPU on the same MLP, data, batch and optimiser, measured in one run.

    python bench/compare.py [--pairs 5] [--threads 1,2] [--dtypes float32,float64] [--optimizers sgd,adam]

Trains 784-256-128-10 (ReLU, softmax + cross-entropy), batch 128, on 60 000 synthetic samples, one epoch at a time,
both libraries starting from the same weights. fnn_nbdev is timed through its public `fit(..., epochs=1)` (checks,
callbacks and all); PyTorch through the usual loop (randperm, gather, zero_grad, forward, loss, backward, step, and
the loss and accuracy read back per batch, as fnn_nbdev's history does). The two alternate in A/B pairs (the order
flips every pair) so that the load of a shared machine falls on both alike; the table gives the median seconds per
epoch of each and the median and min–max of the per-pair ratios fnn_nbdev / PyTorch (< 1: fnn_nbdev is faster).
BLAS threads are set for NumPy through threadpoolctl and for PyTorch through `torch.set_num_threads`.

PyTorch is not a dependency of fnn_nbdev: where it cannot be imported, bench/torch_side.py makes bench/.venv-torch
(torch==2.13.0 from a local wheel only) and runs the script again there; where that is impossible it says so and
exits 0.
"""
import argparse, os, statistics, time
from torch_side import ensure_torch, torch_mlp, torch_epoch

SIZES, BATCH, N = [784, 256, 128, 10], 128, 60_000
LR = {"sgd": 0.01, "adam": 1e-3}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=5, help="A/B pairs per configuration (after one warm-up epoch each)")
    ap.add_argument("--threads", default="1,2", help="BLAS thread counts, comma-separated")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--optimizers", default="sgd,adam")
    ap.add_argument("--n", type=int, default=N, help="training samples")
    args = ap.parse_args()
    ensure_torch(__file__)
    import torch
    import numpy as np
    from threadpoolctl import threadpool_limits
    from fnn_nbdev.model import FNN

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
    print(head)
    print("-" * len(head))
    rows = []
    flops = 2 * (2 * sum(a * b for a, b in zip(SIZES[:-1], SIZES[1:])) + sum(a * b for a, b in zip(SIZES[1:-1], SIZES[2:])))
    def sgemm_rate(k=1024, reps=10):
        "The machine's float32 matmul rate (a 1024³ sgemm), for the share of it that fnn_nbdev's SGD epoch reaches."
        A = np.ones((k, k), np.float32)
        A @ A
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
                    tm = torch_mlp(fnn, tdtype)
                    topt = (torch.optim.SGD(tm.parameters(), lr=lr) if opt_name == "sgd"
                            else torch.optim.Adam(tm.parameters(), lr=lr))
                    def run_fnn(seed):
                        t = time.perf_counter()
                        fnn.fit(X, y, epochs=1, batch_size=BATCH, optimizer=opt_name, lr=lr, progress=False, seed=seed)
                        return time.perf_counter() - t
                    def run_torch(seed):
                        t = time.perf_counter()
                        torch_epoch(tm, topt, X_t, y_t, gen, BATCH)
                        return time.perf_counter() - t
                    run_fnn(0)
                    run_torch(0)  # warm-up: buffers, caches, lazy initialisation
                    a, b, peaks = [], [], []
                    for k in range(args.pairs):
                        peaks.append(sgemm_rate())
                        if k % 2:
                            b.append(run_torch(k))
                            a.append(run_fnn(k))
                        else:
                            a.append(run_fnn(k))
                            b.append(run_torch(k))
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
