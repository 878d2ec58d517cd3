"""The PyTorch side of the benchmarks: its environment, the same MLP with fnn_nbdev's weights, and one epoch of training.

PyTorch is not a dependency of fnn_nbdev. `ensure_torch(script)` returns when torch==2.13.0 imports; otherwise it makes
bench/.venv-torch once, installs torch==2.13.0 there (only from a local wheel of exactly that version: from an index it
is gigabytes of download) with the same NumPy, runs `script` again there with fnn_nbdev on PYTHONPATH and exits with its
code. Where that is impossible it says so and exits 0.
"""
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-torch"
TORCH = "2.13.0"

def skip(script, msg):
    print(f"{Path(script).name}: skipped: {msg}")
    sys.exit(0)

def ensure_torch(script):
    "Return if torch imports here; else run `script` (with this process's arguments) under bench/.venv-torch, or skip."
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("FNN_BENCH_REEXEC"): skip(script, "torch is still not importable in the bench environment")
    import numpy
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV.relative_to(ROOT)} for torch=={TORCH} (once)", flush=True)
        if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode: skip(script, "could not create a virtual environment")
    pip = [str(py), "-m", "pip", "--disable-pip-version-check", "-q"]
    wanted = ["torch", "threadpoolctl", "sklearn"]
    if subprocess.run([str(py), "-c", f"import {', '.join(wanted)}, torch; assert torch.__version__.split('+')[0] == '{TORCH}'"],
                      capture_output=True).returncode:
        probe = subprocess.run(pip + ["install", "--dry-run", "--no-index", "--no-deps", f"torch=={TORCH}"], capture_output=True)
        if probe.returncode: skip(script, f"no local wheel of torch=={TORCH} on this machine (pip's find-links); not downloading one")
        if subprocess.run(pip + ["install", "--only-binary=:all:", f"torch=={TORCH}", f"numpy=={numpy.__version__}",
                                 "threadpoolctl", *_same_version("scikit-learn"), *_same_version("fastcore")]).returncode:
            skip(script, f"pip could not install torch=={TORCH} into {VENV}")
    env = dict(os.environ, FNN_BENCH_REEXEC="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    sys.exit(subprocess.run([str(py), str(script), *sys.argv[1:]], env=env).returncode)

def _same_version(dist):
    "`['dist==version']` of the version installed here (none if it is not), so that both environments agree."
    from importlib.metadata import version, PackageNotFoundError
    try: return [f"{dist}=={version(dist)}"]
    except PackageNotFoundError: return []

def torch_mlp(fnn, dtype, dropout=0.0):
    "The same MLP in PyTorch with fnn_nbdev's current weights (nn.Linear stores W transposed); ReLU, then dropout, per hidden layer."
    import torch
    layers = []
    for i, layer in enumerate(fnn.layers):
        lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
            lin.bias.copy_(torch.from_numpy(layer.b))
        layers.append(lin)
        if i < len(fnn.layers) - 1:
            layers.append(torch.nn.ReLU())
            if dropout: layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers)

def torch_epoch(model, opt, X, y, gen, batch):
    "One epoch of the usual loop (randperm, gather, zero_grad, forward, loss, backward, step; loss and accuracy read back per batch)."
    import torch
    model.train()
    loss_fn, total, correct, n = torch.nn.CrossEntropyLoss(), 0.0, 0, len(X)
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        xb, yb = X[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        correct += int((out.argmax(1) == yb).sum())
    return total / n, correct / n

def torch_accuracy(model, X, y):
    import torch
    model.eval()
    with torch.no_grad(): return float((model(X).argmax(1) == y).double().mean())
