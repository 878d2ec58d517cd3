"""Resume is exact, whatever the settings: stop a run (at an epoch boundary or between two steps of an epoch), save,
load in a *new process*, `fit(..., resume=True)` without repeating any setting — the same bits as never stopping.

The matrix covers every pair of values of: optimiser × schedule × clipping × early stopping × dtype × per-neuron
layer × dropout × where the run stops (a greedy pairwise design: every pair of values of any two factors occurs in
some case). Three processes: the uninterrupted references, the interrupted first halves, the resumed second halves.
"""
import itertools, json, os, signal, subprocess, sys, textwrap
import numpy as np
import pytest
from fnn_nbdev.model import FNN
from fnn_nbdev.train import Callback
from fnn_nbdev.data import make_spirals

FACTORS = {
    "optimizer": ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"],
    "schedule": [None, {"name": "step", "step_size": 2, "gamma": 0.5}, {"name": "exponential", "gamma": 0.8}, "cosine",
                 {"name": "warmup", "warmup": 2, "then": "cosine"}],
    "clip": [None, {"clip_norm": 1.0}, {"clip_norm": 0.5, "clip_per": "layer"}, {"clip_value": 0.05}],
    "early_stopping": [False, True],
    "dtype": ["float32", "float64"],
    "per_neuron": [False, True],
    "dropout": [0.0, 0.2],
    "stop": ["epoch", "mid-epoch"],
}

def pairwise_cases(factors):
    "A small set of cases in which every pair of values of any two factors appears (greedy, deterministic)."
    names = list(factors)
    todo = {(a, i, b, j) for a, b in itertools.combinations(names, 2)
            for i in range(len(factors[a])) for j in range(len(factors[b]))}
    candidates = list(itertools.product(*(range(len(factors[n])) for n in names)))
    cases = []
    while todo:
        def gain(c): return sum((a, c[names.index(a)], b, c[names.index(b)]) in todo for a, b in itertools.combinations(names, 2))
        best = max(candidates, key=gain)
        todo -= {(a, best[names.index(a)], b, best[names.index(b)]) for a, b in itertools.combinations(names, 2)}
        cases.append(best)
    return [{n: factors[n][i] for n, i in zip(names, c)} for c in cases]

CASES = pairwise_cases(FACTORS)

def test_the_design_covers_every_pair():
    names = list(FACTORS)
    for a, b in itertools.combinations(names, 2):
        seen = {(json.dumps(c[a]), json.dumps(c[b])) for c in CASES}
        assert len(seen) == len(FACTORS[a]) * len(FACTORS[b]), (a, b)
    assert len(CASES) < 45

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    from fnn_nbdev.model import FNN
    from fnn_nbdev.train import Callback, EarlyStopping
    from fnn_nbdev.data import make_spirals
    phase, folder = sys.argv[1], sys.argv[2]
    cases = json.load(open(f"{folder}/cases.json"))
    X, y = make_spirals(240, seed=1)
    Xv, yv = make_spirals(90, seed=2)
    EPOCHS, STOP = 6, 3

    class StopAt(Callback):
        "Stops the run: after epoch STOP, or between two steps of epoch STOP (as Ctrl-C does)."
        def __init__(self, mid): self.mid = mid
        def on_batch_end(self, trainer):
            if self.mid and trainer.epoch == STOP and trainer.batch == 5: raise KeyboardInterrupt
        def on_epoch_end(self, trainer):
            if not self.mid and trainer.epochs_done == STOP: trainer.stop_training = True

    def model(c):
        act = ["relu", "tanh", "elu", "sigmoid"] * 4 if c["per_neuron"] else "tanh"
        return FNN([2, 16, 12, 3], [act, "relu", "softmax"], dropout=c["dropout"], dtype=c["dtype"], seed=7)

    def settings(c):
        return dict(epochs=EPOCHS, batch_size=16, optimizer=c["optimizer"], lr=0.02, lr_schedule=c["schedule"],
                    **(c["clip"] or {}))

    for i, c in enumerate(cases):
        cbs = [EarlyStopping(patience=2)] if c["early_stopping"] else []
        if phase == "reference":
            m = model(c)
            m.fit(X, y, validation_data=(Xv, yv), callbacks=cbs, progress=False, **settings(c))
            m.save(f"{folder}/ref{i}.npz")
        elif phase == "first":
            m = model(c)
            try: m.fit(X, y, validation_data=(Xv, yv), callbacks=cbs + [StopAt(c["stop"] == "mid-epoch")], progress=False, **settings(c))
            except KeyboardInterrupt: pass
            m.save(f"{folder}/half{i}.npz")
        else:
            m = FNN.load(f"{folder}/half{i}.npz")
            m.fit(X, y, validation_data=(Xv, yv), progress=False, resume=True)      # no setting repeated
            m.save(f"{folder}/resumed{i}.npz")
''')

def _run(script, *args):
    r = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]

@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    (folder / "cases.json").write_text(json.dumps(CASES))
    script = folder / "train.py"
    script.write_text(SCRIPT)
    for phase in ("reference", "first", "resume"): _run(script, phase, folder)   # three fresh processes
    return folder

@pytest.mark.parametrize("i", range(len(CASES)), ids=[
    f"{c['optimizer']}-{json.dumps(c['schedule'])}-{json.dumps(c['clip'])}-es{int(c['early_stopping'])}-{c['dtype']}-"
    f"pn{int(c['per_neuron'])}-do{c['dropout']}-{c['stop']}" for c in CASES])
def test_resumed_run_is_bit_identical(matrix, i):
    ref, half, resumed = (FNN.load(matrix / f"{k}{i}.npz") for k in ("ref", "half", "resumed"))
    assert 0 < half.train_state["epoch"] <= 3 < ref.train_state["epoch"] or ref.train_state["history"]["epoch"][-1] < 3
    for p, q in zip(ref.params, resumed.params): np.testing.assert_array_equal(p, q)
    assert ref.optimizer.state_dict()["t"] == resumed.optimizer.state_dict()["t"]
    h_ref, h_res = ref.train_state["history"]["history"], resumed.train_state["history"]["history"]
    for k in h_ref:
        if k != "epoch_time": assert h_ref[k] == h_res[k], k

def test_some_cases_really_stop_mid_epoch(matrix):
    mids = [i for i, c in enumerate(CASES) if c["stop"] == "mid-epoch"]
    batches = [FNN.load(matrix / f"half{i}.npz").train_state["batch"] for i in mids]
    assert mids and all(b == 5 for b in batches), batches       # five steps of epoch 4 done, then the interrupt

# ---------------------------------------------------------------------------------------------------------------
X, y = make_spirals(240, seed=1)

def test_passing_the_same_settings_again_changes_nothing(tmp_path):
    kw = dict(epochs=5, batch_size=16, optimizer="momentum", lr=0.05, lr_schedule="cosine", clip_norm=1.0, progress=False)
    full = FNN([2, 12, 3], "tanh", seed=3)
    full.fit(X, y, **kw)
    class Stop(Callback):
        def on_epoch_end(self, trainer): trainer.stop_training = trainer.epochs_done == 2
    part = FNN([2, 12, 3], "tanh", seed=3)
    part.fit(X, y, callbacks=[Stop()], **kw)
    part.save(tmp_path / "m.npz")
    again = FNN.load(tmp_path / "m.npz")
    again.fit(X, y, resume=True, **kw)
    for p, q in zip(full.params, again.params): np.testing.assert_array_equal(p, q)
    with pytest.raises(Exception, match="lr: expected the saved run's value"):
        FNN.load(tmp_path / "m.npz").fit(X, y, resume=True, **{**kw, "lr": 0.5})

def test_first_ctrl_c_stops_between_steps_and_the_run_resumes_exactly(tmp_path):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    class CtrlC(Callback):
        "Sends SIGINT to this process in the middle of step 10 (from inside the step's callbacks)."
        def on_batch_begin(self, trainer):
            if trainer.step == 9: os.kill(os.getpid(), signal.SIGINT)
    kw = dict(epochs=3, batch_size=16, lr=1e-2, progress=False)
    full = FNN([2, 12, 3], "relu", dropout=0.1, seed=4)
    full.fit(X, y, **kw)
    m = FNN([2, 12, 3], "relu", dropout=0.1, seed=4)
    with pytest.raises(KeyboardInterrupt): m.fit(X, y, callbacks=[CtrlC()], **kw)
    assert m.train_state["step"] == 10 and m.train_state["batch"] == 10     # step 10 completed, then the stop
    m.save(tmp_path / "m.npz")
    resumed = FNN.load(tmp_path / "m.npz")
    resumed.fit(X, y, resume=True, progress=False)
    for p, q in zip(full.params, resumed.params): np.testing.assert_array_equal(p, q)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # the handler is put back
