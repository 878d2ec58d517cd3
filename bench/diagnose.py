"""Seconds per `diagnose` call on digits-sized data (1797 × 64, standardised), against one epoch of `fit`, measured in the same run.

    python bench/diagnose.py [--rounds 5] [--threads 1]

Three networks (64-64-10, 64-128-64-10 and 64-256-256-10 ReLU, Adam at 1e-3, batch 32) on the whole of digits, with
20 % held out as validation data. For each: the median wall and CPU seconds of a `diagnose` call, the median
epoch of `fit` (from its own `epoch_time`, inside a 3-epoch fit of the same network), and their ratio; then how the
call's time splits between its parts. Prints the BLAS kernel (threadpoolctl) next to the numbers. Nothing here is
asserted: numbers are printed.
"""
import argparse, statistics, time
from threadpoolctl import threadpool_info, threadpool_limits
from fnn_nbdev import diagnose as D
from fnn_nbdev.data import load_dataset, split, Standardizer
from fnn_nbdev.model import FNN

NETS = ([64, 64, 10], [64, 128, 64, 10], [64, 256, 256, 10])

def data():
    X, y = load_dataset("digits")
    (Xt, yt), (Xv, yv) = split(X, y, (0.8, 0.2), stratify=True, seed=0)
    s = Standardizer().fit(Xt)
    return s.transform(Xt), yt, (s.transform(Xv), yv)

def timed(f, *a, **kw):
    "`(wall seconds, cpu seconds, result)` of one call."
    w, c = time.perf_counter(), time.process_time()
    out = f(*a, **kw)
    return time.perf_counter() - w, time.process_time() - c, out

def parts(sizes, X, y, val):
    "Wall seconds spent in each part of one call, by wrapping the module's steps."
    spent, names = {}, ["_look_at_data", "unit_activity", "gradient_norms", "_check_derivatives", "_short_run", "_find_lr", "_overfit_batch"]
    originals = {n: getattr(D, n) for n in names}
    def wrap(n):
        def f(*a, **kw):
            t = time.perf_counter()
            try: return originals[n](*a, **kw)
            finally: spent[n] = spent.get(n, 0.0) + time.perf_counter() - t
        return f
    for n in names: setattr(D, n, wrap(n))
    try: total = timed(D.diagnose, FNN(sizes, "relu", seed=0), X, y, validation_data=val)[0]
    finally:
        for n, f in originals.items(): setattr(D, n, f)
    spent["_short_run"] -= spent.get("_overfit_batch", 0.0)   # the one-batch check runs through _short_run too
    return total, spent

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="calls per network (the median is reported)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (0: the library's default)")
    args = ap.parse_args()
    X, y, val = data()
    with threadpool_limits(args.threads or None):
        blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]
        print(f"digits {len(X) + len(val[0])} × {X.shape[1]} (train {len(X)}, validation {len(val[0])}); BLAS {blas}")
        print(f"{'network':>16}  {'diagnose wall':>13}  {'cpu':>6}  {'fit epoch':>9}  {'ratio':>6}")
        for sizes in NETS:
            D.diagnose(FNN(sizes, "relu", seed=0), X, y, validation_data=val)   # warm-up
            runs = [timed(D.diagnose, FNN(sizes, "relu", seed=0), X, y, validation_data=val)[:2] for _ in range(args.rounds)]
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            h = FNN(sizes, "relu", seed=0).fit(X, y, epochs=3, batch_size=32, validation_data=val, progress=False, seed=0)
            epoch = statistics.median(h.history["epoch_time"])
            print(f"{'-'.join(map(str, sizes)):>16}  {wall:>11.2f} s  {cpu:>4.2f} s  {epoch * 1e3:>6.1f} ms  {wall / epoch:>5.0f}×")
        total, spent = parts(NETS[0], X, y, val)
        print(f"\none call on {'-'.join(map(str, NETS[0]))}, {total:.2f} s: " +
              ", ".join(f"{n.strip('_')} {v / total:.0%}" for n, v in sorted(spent.items(), key=lambda kv: -kv[1])))

if __name__ == "__main__":
    main()
