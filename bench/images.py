"""fnn_nbdev, PyTorch and scikit-learn's MLPClassifier on real Fashion-MNIST: the same network, data, initial weights and recipe.

    python bench/images.py [--epochs N] [--parts plain,recipe] [--dtype float32] [--n-train N] [--seed 0]

Two comparisons, each trained from the same initial weights (fnn_nbdev's, copied into the others):
  plain   the recipe's network, batch size, epochs and learning rate, with Adam at a constant rate and no dropout:
          what all three libraries can do alike (MLPClassifier has no dropout and no schedule for Adam; its L2 term
          `alpha` is set to 0, fnn_nbdev's default);
  recipe  the recipe itself (AdamW, dropout, learning-rate schedule per epoch): fnn_nbdev and PyTorch.
The data is what `RunConfig.build_data` gives the recipe (the official 60 000 training and 10 000 test images). The
libraries take turns epoch by epoch (the order changes every epoch), so that the load of a shared machine falls on
all alike. Reported: test accuracy after the last epoch, the median seconds per epoch (wall clock, and CPU time of
this process — with one BLAS thread the CPU time is what the epoch costs, whatever else the machine runs) and the
ratios to fnn_nbdev's. fnn_nbdev's epoch is one epoch of a single `fit` (history's `epoch_time`), PyTorch's the
usual loop (bench/torch_side.py), MLPClassifier's one `partial_fit` (which also checks its input again each call).
Nothing is asserted: numbers are printed.
"""
import argparse, os, statistics, time
from torch_side import ensure_torch, torch_mlp, torch_epoch, torch_accuracy

# the Fashion-MNIST recipe (a RunConfig dict; `fnn train --dataset fashion_mnist ...` takes the same settings)
RECIPE = dict(dataset="fashion_mnist", val_fraction=0.0, standardize=False, hidden=[512, 512], activation="relu",
              dropout=0.3, optimizer="adamw", lr=1e-3, weight_decay=0.01, lr_schedule="cosine", batch_size=256,
              epochs=40, seed=0)

def plain(cfg):
    "The part of the recipe that all three libraries share: Adam at a constant rate, no dropout."
    return cfg.replace(optimizer="adam", weight_decay=None, dropout=0.0, lr_schedule=None)

def sklearn_mlp(fnn, cfg):
    "An MLPClassifier set up like `cfg` (plain), whose first `partial_fit` starts from `fnn`'s current weights."
    import numpy as np
    from sklearn.neural_network import MLPClassifier
    from fnn_nbdev.optim import optimizer_defaults
    start = [(l.W.copy(), l.b.copy()) for l in fnn.layers]
    class Seeded(MLPClassifier):
        def _init_coef(self, fan_in, fan_out, dtype):   # sklearn draws its own initial weights here
            W, b = start[len(self.coefs_)]
            return W.astype(dtype), b.astype(dtype)
    hyper = {**optimizer_defaults("adam"), **cfg.optimizer_config()}
    return Seeded(hidden_layer_sizes=tuple(cfg.hidden), activation="relu", solver="adam", alpha=0.0, batch_size=cfg.batch_size,
                  learning_rate_init=cfg.lr, beta_1=hyper["beta1"], beta_2=hyper["beta2"], epsilon=hyper["eps"], shuffle=True,
                  random_state=np.random.RandomState(cfg.seed))   # an instance: a new order every epoch (an int repeats it)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's)")
    ap.add_argument("--parts", default="plain,recipe", help="comparisons to run: plain, recipe")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--n-train", type=int, default=None, help="a stratified subset of the training images (default: all 60 000)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ensure_torch(__file__)
    import numpy as np
    import torch
    import warnings
    from threadpoolctl import threadpool_limits, threadpool_info
    from sklearn.exceptions import ConvergenceWarning
    from fnn_nbdev.config import RunConfig
    from fnn_nbdev.train import Callback
    from fnn_nbdev.optim import get_schedule, optimizer_defaults
    warnings.simplefilter("ignore", ConvergenceWarning)   # partial_fit is one epoch by design

    cfg = RunConfig.from_dict(RECIPE, dtype=args.dtype, seed=args.seed, n_samples=args.n_train,
                              **({"epochs": args.epochs} if args.epochs else {}))
    data = cfg.build_data()
    (X, y), (X_te, y_te) = data["train"], data["test"]
    X, X_te = X.astype(args.dtype), X_te.astype(args.dtype)
    tdtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    X_t, y_t, Xte_t, yte_t = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(X_te), torch.from_numpy(y_te)
    blas = ", ".join(sorted({f"{d['internal_api']} {d.get('architecture', '')}".strip() for d in threadpool_info()}))
    print(f"Fashion-MNIST: {len(X)} training, {len(X_te)} test images, {args.dtype}; network {[X.shape[1], *cfg.hidden, 10]}, "
          f"batch {cfg.batch_size}, {cfg.epochs} epochs; one BLAS thread ({blas}), torch {torch.__version__} with 1 thread")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)", flush=True)
    rows = []
    for part in args.parts.split(","):
        run = plain(cfg) if part == "plain" else cfg
        fnn = run.build_model(X.shape[1], data["info"])
        hyper = {**optimizer_defaults(run.optimizer), **run.optimizer_config()}
        tm = torch_mlp(fnn, tdtype, dropout=run.dropout)
        Opt = torch.optim.AdamW if run.optimizer == "adamw" else torch.optim.Adam
        topt = Opt(tm.parameters(), lr=run.lr, betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"],
                   weight_decay=hyper.get("weight_decay") or 0.0)
        schedule = get_schedule(run.lr_schedule, horizon=run.epochs)
        gen = torch.Generator().manual_seed(run.seed)
        others = {"PyTorch": None}
        if part == "plain": others["scikit-learn"] = sklearn_mlp(fnn, run)
        times = {k: [] for k in ("fnn_nbdev", *others)}

        def other_epochs(epoch):
            names = list(others) if epoch % 2 == 0 else list(others)[::-1]
            for name in names:
                c, t = time.process_time(), time.perf_counter()
                if name == "PyTorch":
                    for g in topt.param_groups: g["lr"] = run.lr * schedule(epoch)   # fnn_nbdev's LRScheduler, per epoch
                    torch_epoch(tm, topt, X_t, y_t, gen, run.batch_size)
                else: others[name].partial_fit(X, y, classes=np.arange(10))
                times[name].append((time.perf_counter() - t, time.process_time() - c))

        class TakeTurns(Callback):
            "Runs the other libraries' epochs between fnn_nbdev's: before them on odd epochs, after them on even ones."
            def on_epoch_begin(self, trainer):
                if trainer.epoch % 2: other_epochs(trainer.epoch)
                self.cpu = time.process_time()
            def on_epoch_end(self, trainer):
                times["fnn_nbdev"].append((trainer.logs["epoch_time"], time.process_time() - self.cpu))
                if trainer.epoch % 2 == 0: other_epochs(trainer.epoch)

        with threadpool_limits(1):
            torch.set_num_threads(1)
            fnn.fit(X, y, callbacks=[TakeTurns()], progress=False, **run.fit_arguments())
            acc = {"fnn_nbdev": fnn.evaluate(X_te, y_te)["accuracy"], "PyTorch": torch_accuracy(tm, Xte_t, yte_t)}
            if "scikit-learn" in others: acc["scikit-learn"] = others["scikit-learn"].score(X_te, y_te)
        base = statistics.median(c for _, c in times["fnn_nbdev"])
        for name, ts in times.items():
            wall, cpu = statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts)
            rows.append((part, name, acc[name], wall, cpu, cpu / base))
        print(f"{part}: done, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    what = {"plain": "Adam, constant lr, no dropout", "recipe": f"{cfg.optimizer}, dropout {cfg.dropout}, {cfg.lr_schedule}"}
    head = f"{'part':<8}{'library':<14}{'test acc':>9}{'s/epoch':>9}{'CPU s/epoch':>13}{'CPU ratio':>11}   settings"
    print(head)
    print("-" * (len(head) + 30))
    for part, name, acc, wall, cpu, ratio in rows:
        print(f"{part:<8}{name:<14}{acc:>9.4f}{wall:>9.2f}{cpu:>13.2f}{ratio:>11.2f}   {what[part]}")
    print("(ratio: the library's median CPU seconds per epoch / fnn_nbdev's; < 1 is faster than fnn_nbdev)")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    main()
