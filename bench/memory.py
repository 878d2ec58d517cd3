"""Peak memory (RSS) of fnn_nbdev while training on, and predicting on, 60 000 × 784 float32 samples.

    python bench/memory.py [--n 60000] [--epochs 1]

Each measurement runs in a fresh subprocess: it makes the data, then resets the kernel's peak-RSS counter
(/proc/self/clear_refs) so that the peak measured afterwards is that of the work alone, and reports
    data     — the bytes of X and y,
    baseline — RSS once the data is there (interpreter, NumPy, fnn_nbdev and the data),
    peak     — the highest RSS during `fit` (or `predict`),
    overhead — peak − baseline: what training (or prediction) needs on top of the data.
The project's budget: overhead ≤ 64 MiB, i.e. peak ≤ baseline + 64 MiB. Linux only (reads /proc).
"""
import argparse, json, os, subprocess, sys
from pathlib import Path

MiB = 2 ** 20
SIZES = [784, 256, 128, 10]

def rss(field):
    "VmRSS (current) or VmHWM (peak) of this process, in bytes."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"): return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")

def child(task, n, epochs):
    import numpy as np
    from fnn_nbdev.model import FNN
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n)
    model = FNN(SIZES, "relu", seed=0)
    model.fit(X[:256], y[:256], epochs=1, batch_size=128, progress=False)   # imports and first-call costs out of the way
    Path("/proc/self/clear_refs").write_text("5")                          # peak RSS := current RSS
    base = rss("VmRSS")
    if task == "train": model.fit(X, y, epochs=epochs, batch_size=128, optimizer="adam", progress=False)
    else: model.predict(X)
    peak = rss("VmHWM")
    print(json.dumps({"task": task, "data": X.nbytes + y.nbytes, "baseline": base, "peak": peak}))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60_000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--child", choices=["train", "predict"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child: return child(args.child, args.n, args.epochs)
    if not Path("/proc/self/clear_refs").exists(): sys.exit("memory.py: needs Linux (/proc/self/clear_refs)")
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    print(f"fnn_nbdev peak memory: {SIZES}, {args.n} × {SIZES[0]} float32, batch 128 (Adam), predict in chunks of 4096")
    print(f"{'task':<9}{'data MiB':>10}{'baseline MiB':>14}{'peak MiB':>10}{'overhead MiB':>14}{'budget':>9}")
    ok = True
    for task in ("train", "predict"):
        out = subprocess.run([sys.executable, __file__, "--child", task, "--n", str(args.n), "--epochs", str(args.epochs)],
                             capture_output=True, text=True, env=env)
        if out.returncode: sys.exit(f"memory.py: the {task} subprocess failed:\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        over = r["peak"] - r["baseline"]
        ok &= over <= 64 * MiB
        print(f"{task:<9}{r['data'] / MiB:>10.1f}{r['baseline'] / MiB:>14.1f}{r['peak'] / MiB:>10.1f}{over / MiB:>14.1f}"
              f"{'ok' if over <= 64 * MiB else 'OVER':>9}")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
