"""Playground frame rate: one frame = one training epoch + the update of every picture (output, network drawing, loss chart).

Usage: .venv/bin/python bench/playground.py [--redraws 60] [--dataset spiral]
A 2-8-8-1 network on 500 points; at 10 frames a second or more, Play looks fluid.
"""
import argparse, time
from fnn_nbdev.playground import Playground

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redraws", type=int, default=60)
    ap.add_argument("--dataset", default="spiral")
    args = ap.parse_args()
    pg = Playground(args.dataset, n_samples=500, features=("x1", "x2"), hidden=(8, 8), activation="tanh", batch_size=10)
    assert pg.model.sizes == [2, 8, 8, 1] or pg.n_inputs == 1, pg.model.sizes
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
    sizes = "-".join(map(str, pg.model.sizes))
    print(f"{sizes} on 500 points ({len(pg.X_train)} train, batch 10): training epoch {1e3 * t_train:.1f} ms, "
          f"pictures {1e3 * t_draw:.1f} ms (network drawing {len(pg.network.value) / 1e3:.0f} kB of SVG)")
    print(f"frames/s: {1 / t_step:.1f}  (fluid from 10; ratio {1 / t_step / 10:.1f}x)")

if __name__ == "__main__":
    main()
