"""Cost of tracking: epoch time with W&B logging (offline) and a local run record, against no tracking, in one run.

    python bench/tracking.py [--epochs 7] [--n 20000] [--batch-size 32] [--threads 1]

Trains 784-256-128-10 (ReLU, Adam) on synthetic float32 data with fit's default batch size (32). On a shared machine
the speed changes from minute to minute, so the comparison is made inside one `fit`: the tracking callbacks are
switched on in odd epochs and off in even ones (the first epoch, a warm-up, is dropped), and the ratio of the median
epoch times, tracked / untracked, is printed — in CPU time of this process (all its threads, so W&B's own threads
count) and in wall time. BLAS runs on `--threads` threads (1 by default: on a busy machine multi-threaded BLAS makes
epoch times swing by a factor of ten, which drowns what is measured here). An epoch is timed from the first callback of `on_epoch_begin` to the
last of `on_epoch_end`, so it includes all logging. Also printed: the share of epoch time spent inside the tracking
callbacks' hooks, the CPU seconds of W&B's background process (wandb-core) per epoch, and the one-off costs
(`wandb.init`, `finish`) outside the epochs. W&B writes into a temporary folder; nothing goes over the network.
Nothing is asserted.
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
            self.wall.append(time.perf_counter() - self.t0)
            self.cpu.append(time.process_time() - self.c0)
            self.child.append(_children_cpu() - self.k0)
    class Start(Callback):
        order = -10**9
        def __init__(self, clock): self.clock = clock
        def on_epoch_begin(self, trainer):
            c = self.clock
            c.t0, c.c0, c.k0 = time.perf_counter(), time.process_time(), _children_cpu()
    clock = Clock()
    return clock, [Start(clock), clock]

def hook_timer(cbs):
    "Wrap the hooks of the tracking callbacks: the wall time spent in them, per epoch."
    spent = {}
    for cb in cbs:
        for h in ("on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end"):
            f = getattr(cb, h)
            def timed(trainer, f=f):
                t = time.perf_counter()
                f(trainer)
                spent[trainer.epoch] = spent.get(trainer.epoch, 0.0) + time.perf_counter() - t
            setattr(cb, h, timed)
    return spent

def alternate(cbs):
    "Wrap the epoch and batch hooks of `cbs` so that they run in odd epochs only (fit begin/end always run)."
    for cb in cbs:
        for h in ("on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end"):
            f = getattr(cb, h)
            setattr(cb, h, lambda trainer, f=f: f(trainer) if trainer.epoch % 2 == 1 else None)
    return cbs

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
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
        alternate(cbs)
        model = FNN([784, 256, 128, 10], "relu", seed=0)
        t = time.perf_counter()
        model.fit(X, y, epochs=a.epochs, batch_size=a.batch_size, lr=1e-3, validation_data=(Xv, yv), progress=False,
                  callbacks=[*tcbs, *cbs])
        finish_tracking(cbs)
        oneoff = time.perf_counter() - t - sum(clock.wall)
        odd = lambda v: statistics.median(x for e, x in enumerate(v) if e % 2 == 1)
        even = lambda v: statistics.median(x for e, x in enumerate(v) if e % 2 == 0 and e > 0)
        child_on = statistics.mean(c for e, c in enumerate(clock.child) if e % 2 == 1)
        return dict(label=label, on=odd(clock.wall), off=even(clock.wall), cpu_on=odd(clock.cpu), cpu_off=even(clock.cpu),
                    hooks=statistics.median(v for e, v in spent.items() if e % 2 == 1), child=child_on, oneoff=oneoff)

    settings = [("WandbCallback (offline, defaults)", lambda: [WandbCallback(project="bench", dir=tmp / "w")]),
                ("RunRecorder + WandbCallback (tracking_callbacks)",
                 lambda: tracking_callbacks({"bench": True}, run_dir=tmp / "run", wandb="offline", project="bench", finish=False))]
    from threadpoolctl import threadpool_limits
    with threadpool_limits(a.threads): res = [run(*s) for s in settings]
    steps = -(-a.n // a.batch_size)
    print(f"784-256-128-10, {a.n} samples, batch {a.batch_size} ({steps} steps/epoch), {a.epochs} epochs "
          f"(tracking on in odd epochs), BLAS threads {a.threads}, W&B offline")
    print(f"{'setting':50} {'CPU off':>8} {'CPU on':>7} {'CPU ratio':>9} {'wall off':>8} {'wall on':>8} {'wall ratio':>10} "
          f"{'in hooks':>8} {'hooks ms':>8} {'wandb-core':>10} {'one-off':>7}")
    for r in res:
        print(f"{r['label']:50} {r['cpu_off']:7.2f}s {r['cpu_on']:6.2f}s {r['cpu_on'] / r['cpu_off']:9.3f} {r['off']:7.2f}s "
              f"{r['on']:7.2f}s {r['on'] / r['off']:10.3f} {100 * r['hooks'] / r['on']:7.2f}% "
              f"{1000 * r['hooks']:8.1f} {r['child']:8.2f}s {r['oneoff']:6.2f}s")
    worst = max(res, key=lambda r: r["cpu_on"] / r["cpu_off"])
    print(f"logging overhead at default settings: {100 * (worst['cpu_on'] / worst['cpu_off'] - 1):+.1f} % CPU time per epoch "
          f"(target <= 10 %), {100 * (worst['on'] / worst['off'] - 1):+.1f} % wall time; "
          f"time inside the tracking hooks {100 * max(r['hooks'] / r['on'] for r in res):.2f} % of a tracked epoch; "
          "wandb-core = CPU s per epoch of W&B's background process; one-off = init/finish outside the epochs")

if __name__ == "__main__":
    main()
