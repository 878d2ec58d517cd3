"""Playground redraw rate: one redraw = one training epoch + the update of every picture (boundary, neurons, loss).

Usage: .venv/bin/python bench/playground.py [--redraws 60]
The issue asks for >= 10 redraws per second for a 2-8-8-1 network on 500 points.
"""
import argparse, time
from fnn_nbdev.widgets import Playground

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redraws", type=int, default=60)
    ap.add_argument("--dataset", default="spiral")
    args = ap.parse_args()
    pg = Playground(args.dataset, n_samples=500, features=("x1", "x2"), hidden=(8, 8), activation="tanh", batch_size=10)
    assert pg.model.sizes == [2, 8, 8, 1], pg.model.sizes
    pg.step(3)                                   # warm-up
    t0 = time.perf_counter()
    for _ in range(args.redraws): pg.train_epoch()
    t_train = (time.perf_counter() - t0) / args.redraws
    t0 = time.perf_counter()
    for _ in range(args.redraws): pg.redraw()
    t_draw = (time.perf_counter() - t0) / args.redraws
    t0 = time.perf_counter()
    for _ in range(args.redraws): pg.step()
    t_step = (time.perf_counter() - t0) / args.redraws
    print(f"2-8-8-1 on 500 points ({len(pg.X_train)} train, batch 10): training epoch {1e3 * t_train:.1f} ms, "
          f"figure update {1e3 * t_draw:.1f} ms")
    print(f"redraws/s: {1 / t_step:.1f}  (target >= 10; ratio {1 / t_step / 10:.1f}x)")

if __name__ == "__main__":
    main()
