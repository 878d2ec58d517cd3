"""The course: every tutorial runs under nbdev-test in under a minute, opens with learning goals, ends with 2-4
exercises, and every exercise checker accepts the right answer and says "not yet" (without raising) to wrong ones."""
import json, re, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from fnn_nbdev.exercises import EXERCISES, Verdict, solution

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "nbs" / "tutorials").glob("[0-9][0-9]_*.ipynb"))


def _cells(nb): return json.loads(nb.read_text())["cells"]
def _src(cell): return "".join(cell["source"])
def _number(nb): return int(nb.name[:2])


def test_there_are_tutorials_numbered_in_order():
    assert len(TUTORIALS) >= 7
    numbers = [_number(nb) for nb in TUTORIALS]
    assert numbers == sorted(set(numbers)), "each number once, in order"
    assert numbers == list(range(1, numbers[-1] + 1)), "no gap in the numbering"


@pytest.mark.parametrize("nb", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_shape(nb):
    cells = _cells(nb)
    assert cells[0]["cell_type"] == "markdown" and _src(cells[0]).startswith(f"# {_number(nb)} · ")
    assert "> " in _src(cells[0]), "a one-line summary under the title"
    assert "After this notebook you can" in _src(cells[1]), "learning goals come first"
    code = [_src(c) for c in cells if c["cell_type"] == "code"]
    assert not any(re.search(r"^#\|\s*(export|default_exp)", s, re.M) for s in code), "tutorials export nothing"
    checks = [m for s in code for m in re.findall(r"^(check_\w+)\(", s, re.M)]
    assert 2 <= len(checks) <= 4, checks
    assert "## Exercises" in "".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    for name in checks:
        ex = EXERCISES.get(name.removeprefix("check_"))
        assert ex is not None, f"{name} is not a registered exercise"
        assert ex["tutorial"] == _number(nb), f"{name} belongs to tutorial {ex['tutorial']}"
    assert any("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])), "a tutorial shows figures"


def test_every_exercise_is_used_by_its_tutorial():
    used = {m.removeprefix("check_") for nb in TUTORIALS for c in _cells(nb) if c["cell_type"] == "code"
            for m in re.findall(r"^(check_\w+)\(", _src(c), re.M)}
    have = {n: ex["tutorial"] for n, ex in EXERCISES.items()}
    written = {_number(nb) for nb in TUTORIALS}
    assert {n for n, t in have.items() if t in written} == used


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_checker_accepts_the_solution_and_refuses_mistakes(name):
    ex = EXERCISES[name]
    good = ex["check"](ex["solution"]())
    assert isinstance(good, Verdict) and good and repr(good).startswith("✓ Correct"), repr(good)
    mistakes = ex["mistakes"]()
    assert mistakes or ex["wrong"], "every exercise lists at least one typical mistake"
    for answer, why in mistakes:                        # each listed mistake gets the hint about *that* mistake
        v = ex["check"](answer)
        assert isinstance(v, Verdict) and not v and why in v.message, (why, repr(v))
    others = [ex["wrong"]()] if ex["wrong"] else []
    for wrong in others + [None, "a string", 12345, lambda *a, **k: 1 / 0]:
        v = ex["check"](wrong)                          # never raises
        assert isinstance(v, Verdict) and not v and repr(v).startswith("✗ Not yet"), (wrong, repr(v))
        assert len(repr(v)) > len("✗ Not yet. ") + 10, "a wrong answer gets a hint"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_solution_prints_the_reference_answer(name, capsys):
    assert solution(name) is None
    out = capsys.readouterr().out
    ex = EXERCISES[name]
    assert out.startswith(f"Exercise {ex['number']} · {ex['title']}") and len(out.splitlines()) >= 3, out


def test_a_wrong_answer_that_is_no_listed_mistake_gets_the_general_hint():
    ex = EXERCISES["leaky_relu_derivative"]
    listed = {why for _, why in ex["mistakes"]()}
    v = ex["check"](lambda z: np.where(z > 0, 2.0, 0.1))      # wrong for z > 0: none of the listed mistakes
    assert not v and v.message not in listed
    v = ex["check"](lambda z: np.where(z > 0, 1.0, np.where(z < 0, 0.1, 0.7)))   # wrong at z = 0 alone
    assert not v and "z = 0" in v.message


def test_solution_of_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="n_params"): solution("no_such_exercise")


def test_each_tutorial_runs_in_under_a_minute():
    "nbdev-test on the tutorial folder (slow cells included), timed per notebook; aim < 20 s each when the machine is idle."
    bin_ = Path(sys.executable).parent
    r = subprocess.run([str(bin_ / "nbdev-test"), "--flags", "slow", "--n-workers", "2", "--timing", "nbs/tutorials"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    times = {m.group(1): int(m.group(2)) for m in re.finditer(r"(\S+\.ipynb): (\d+) secs", out)}
    assert set(times) == {nb.name for nb in TUTORIALS}, out[-2000:]
    slow = {k: v for k, v in times.items() if v >= 60}
    assert not slow, f"tutorials over 60 s: {slow}"


def test_the_exercises_facade_exports_every_public_name_of_the_chapter_modules():
    "Its `_all_` lists the chapter modules' names by hand: a checker added to one of them must not be left out."
    import importlib
    import fnn_nbdev.exercises as facade
    parts = [importlib.import_module(f"fnn_nbdev.exercises_{m}") for m in ("basics", "training", "tracking", "images", "diagnosis")]
    want = {"EXERCISES", "Verdict", "solution"} | {n for m in parts for n in m.__all__}
    assert set(facade.__all__) == want
    assert all(getattr(facade, n) is getattr(m, n) for m in parts for n in m.__all__)
    assert {ex["check"].__name__ for ex in EXERCISES.values()} <= set(facade.__all__)
