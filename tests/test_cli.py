"The `fnn` command, run as a user (and `wandb agent`) would: a real subprocess."
import json, subprocess, sys
from pathlib import Path
import pytest
from fnn_nbdev.model import FNN

FNN_CMD = [str(Path(sys.executable).with_name("fnn"))]

def fnn(*args, timeout=120):
    return subprocess.run([*FNN_CMD, *args], capture_output=True, text=True, timeout=timeout)

def test_the_console_script_is_installed():
    exe = Path(sys.executable).with_name("fnn")
    assert exe.exists(), "pip install -e . should install the `fnn` command"
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("fnn_nbdev ")

def test_train_prints_progress_and_metrics(tmp_path):
    r = fnn("train", "--dataset", "moons", "--hidden", "16,16", "--epochs", "20", "--save", str(tmp_path / "m.npz"))
    assert r.returncode == 0, r.stderr
    assert "batch" in r.stderr and "20/20" in r.stderr            # the tqdm progress bar, on stderr
    assert "test: loss=" in r.stdout and "accuracy=" in r.stdout
    model = FNN.load(tmp_path / "m.npz")
    assert model.sizes == [2, 16, 16, 1] and model.loss_fn.name == "bce"

def test_both_flag_spellings_and_equals_form():
    "W&B agents call `--key=value` with the config's own names; people type `--batch-size 64`."
    a = fnn("train", "--dataset=xor", "--epochs=5", "--batch_size=16", "--lr=0.05", "--no-progress", "--json")
    b = fnn("train", "--dataset", "xor", "--epochs", "5", "--batch-size", "16", "--lr", "0.05", "--no-progress", "--json")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    ra, rb = json.loads(a.stdout), json.loads(b.stdout)
    assert ra["config"]["batch_size"] == 16 and ra["config"]["lr"] == 0.05
    assert ra == rb                                                   # same flags, same seed: same result

def test_config_file_and_override(tmp_path):
    (tmp_path / "run.yaml").write_text("dataset: circles\nhidden: [8]\nepochs: 3\noptimizer: sgd\nmomentum: 0.9\nlr: 0.1\n")
    r = fnn("train", "--config", str(tmp_path / "run.yaml"), "--epochs=4", "--no-progress", "--json")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)["config"]
    assert (cfg["dataset"], cfg["hidden"], cfg["epochs"], cfg["optimizer"], cfg["momentum"]) == ("circles", [8], 4, "sgd", 0.9)

@pytest.mark.parametrize("args,text", [
    (["train", "--lr=-1"], "lr: expected a number > 0"),
    (["train", "--learning-rate=0.1"], "unrecognized arguments"),
    (["train", "--dataset=mnist2"], "dataset: expected one of"),
    (["train", "--activation=relux", "--epochs=1"], "activation: expected one of"),
    (["train", "--hidden=64,x"], "hidden[1]: expected an integer, got 'x'"),
    (["train", "--epochs=0"], "epochs: expected an integer >= 1"),
    (["train", "--optimizer=sgd", "--momentun=0.9"], "unrecognized arguments"),
    (["train", "--config", "/no/such/file.yaml"], "No such file"),
    (["launch"], "invalid choice"),
])
def test_bad_flags_give_one_line_and_exit_code_2(args, text):
    r = fnn(*args, "--no-progress") if args[0] == "train" else fnn(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert text in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr

def test_datasets_lists_every_data_set():
    r = fnn("datasets")
    assert r.returncode == 0
    for name in ("xor", "spirals", "digits", "mnist1d", "diabetes"): assert name in r.stdout

def test_train_help_describes_every_flag_in_words_with_its_choices():
    "Generated from RunConfig's declarations: each setting's flag, its help line, its default, its choices."
    from fnn_nbdev.config import RunConfig
    r = fnn("train", "--help")
    assert r.returncode == 0
    words = " ".join(r.stdout.split())
    for s in RunConfig.settings():
        assert f"--{s.name.replace('_', '-')}" in words, s.name
        assert s.help in words, s.name
        if s.choices: assert "one of " + ", ".join(map(str, s.choices)) in words, s.name
    assert '["spirals"]' not in words and "V [" not in words     # no more bare metavars and JSON defaults

def test_diagnose_takes_the_train_flags_and_exits_1_on_an_error():
    bad = fnn("diagnose", "--dataset=breast_cancer", "--standardize=false", "--hidden=16", "--json")
    assert bad.returncode == 1, bad.stderr
    report = json.loads(bad.stdout)
    assert report["ok"] is False and "unscaled_inputs" in {f["code"] for f in report["findings"]}
    ok = fnn("diagnose", "--dataset", "moons", "--hidden", "16,16")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("diagnose: 0 error(s)")
    wrong = fnn("diagnose", "--lr=-1")
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1 and "lr: expected a number > 0" in wrong.stderr
