"""Cost of tracking: epoch time with W&B logging (offline) and a local run record, against no tracking, in one run.

    python bench/tracking.py [--epochs 3] [--n 20000] [--batch-size 32]

Trains 784-256-128-10 (ReLU, Adam) on synthetic float32 data with fit's default batch size. Each setting trains a
fresh model with the same seed for `--epochs` epochs; the epoch wall time is measured from the first callback of
`on_epoch_begin` to the last callback of `on_epoch_end` (so it includes all logging), and the first epoch is dropped
(warm-up). W&B start-up and finish (`wandb.init`, `finish`) are one-off costs, printed separately. Everything W&B
writes goes to a temporary folder; nothing goes over the network. Nothing is asserted: the ratios are printed.
"""
import argparse, os, statistics, tempfile, time
from pathlib import Path
import numpy as np

def _children_cpu():
    "CPU seconds used so far by this process's children (wandb-core), if psutil is there."
    try:
        import psutil
        return sum(sum(c.cpu_times()[:2]) for c in psutil.Process().children(recursive=True))
    except Exception: return 0.0

def timers():
    "Two callbacks, first and last in every hook: wall time, CPU time of this process and of its children per epoch."
    from fnn_nbdev.train import Callback
    class Clock(Callback):
        order = 10**9
        def __init__(self): self.wall, self.cpu, self.child = [], [], []
        def on_epoch_end(self, trainer):
            self.wall.append(time.perf_counter() - self.t0); self.cpu.append(time.process_time() - self.c0)
            self.child.append(_children_cpu() - self.k0)
    class Start(Callback):
        order = -10**9
        def __init__(self, clock): self.clock = clock
        def on_epoch_begin(self, trainer):
            c = self.clock; c.t0, c.c0, c.k0 = time.perf_counter(), time.process_time(), _children_cpu()
    clock = Clock()
    return clock, [Start(clock), clock]

def hook_timer(cbs):
    "Wrap the hooks of the tracking callbacks to add up the wall time spent in them during epochs."
    spent = {"epoch": 0.0}
    for cb in cbs:
        for h in ("on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end"):
            f = getattr(cb, h)
            def timed(trainer, f=f):
                t = time.perf_counter(); f(trainer); spent["epoch"] += time.perf_counter() - t
            setattr(cb, h, timed)
    return spent

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="fnn-bench-tracking-"))
    for k in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"): os.environ[k] = str(tmp / "wandb-home")
    os.environ["WANDB_MODE"], os.environ["WANDB_SILENT"] = "offline", "true"
    from fnn_nbdev.model import FNN
    from fnn_nbdev.tracking import WandbCallback, tracking_callbacks, finish_tracking
    rng = np.random.default_rng(0)
    X = rng.standard_normal((a.n, 784), dtype=np.float32)
    y = (X[:, :10] @ rng.standard_normal((10, 10)).astype(np.float32)).argmax(1)
    Xv, yv = X[: a.n // 10], y[: a.n // 10]

    def run(label, make_cbs):
        clock, tcbs = timers()
        cbs = make_cbs()
        spent = hook_timer(cbs)
        model = FNN([784, 256, 128, 10], "relu", seed=0)
        t = time.perf_counter()
        model.fit(X, y, epochs=a.epochs, batch_size=a.batch_size, lr=1e-3, validation_data=(Xv, yv), progress=False,
                  callbacks=[*tcbs, *cbs])
        finish_tracking(cbs)
        oneoff = time.perf_counter() - t - sum(clock.wall)
        keep = slice(1, None) if a.epochs > 1 else slice(None)    # drop the warm-up epoch
        med = lambda v: statistics.median(v[keep])
        hooks = spent["epoch"] / a.epochs
        return dict(label=label, wall=med(clock.wall), cpu=med(clock.cpu), child=med(clock.child), hooks=hooks,
                    hook_share=hooks / statistics.mean(clock.wall), oneoff=oneoff)

    settings = [("no tracking", lambda: []),
                ("WandbCallback (offline, defaults)", lambda: [WandbCallback(project="bench", dir=tmp / "w")]),
                ("RunRecorder + WandbCallback (tracking_callbacks)",
                 lambda: tracking_callbacks({"bench": True}, run_dir=tmp / "run", wandb="offline", project="bench", finish=False))]
    res = [run(*s) for s in settings]
    b = res[0]
    steps = -(-a.n // a.batch_size)
    print(f"784-256-128-10, {a.n} samples, batch {a.batch_size} ({steps} steps/epoch), {a.epochs} epochs, W&B offline")
    print(f"{'setting':50} {'epoch wall':>10} {'wall ratio':>10} {'CPU ratio':>9} {'in hooks':>9} {'wandb-core CPU':>14} {'one-off':>8}")
    for r in res:
        print(f"{r['label']:50} {r['wall']:9.2f}s {r['wall'] / b['wall']:10.3f} {r['cpu'] / b['cpu']:9.3f} "
              f"{100 * r['hook_share']:8.2f}% {r['child']:13.2f}s {r['oneoff']:7.2f}s")
    worst = max(res[1:], key=lambda r: r["hook_share"])
    print(f"logging cost per epoch (time in the tracking callbacks / epoch time, same run): {100 * worst['hook_share']:.2f} % "
          f"(target <= 10 %); CPU-time ratio tracked/none: {max(r['cpu'] for r in res[1:]) / b['cpu']:.3f}; "
          "wall ratio is noisy on a shared machine; one-off = wandb.init + finish + setup, outside the epochs")

if __name__ == "__main__":
    main()
