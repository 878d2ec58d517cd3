"The notebooks are the source: they run top to bottom, and the package, the cleaned notebooks and the README match them."
import filecmp, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def run(cmd, cwd, timeout=900):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)

def notebooks(): return sorted(p for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)

def test_every_notebook_runs_top_to_bottom():
    "nbdev-test, slow cells included. It prints only 'Success.', and exits 0 when nothing was eligible: guard both."
    assert len(notebooks()) >= 13
    r = run([str(BIN / "nbdev-test"), "--flags", "slow", "--n-workers", "2"], ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert "No files were eligible" not in out and "Success." in out, out[-2000:]

@pytest.fixture()
def copy_of_project(tmp_path):
    for name in ("nbs", "fnn_nbdev"): shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"): shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path

def _differences(a:Path, b:Path, pattern):
    return [p.relative_to(a).as_posix() for p in sorted(a.rglob(pattern))
            if "__pycache__" not in p.parts and not filecmp.cmp(p, b / p.relative_to(a), shallow=False)]

def test_nbdev_export_changes_nothing(copy_of_project):
    r = run([str(BIN / "nbdev-export")], copy_of_project)
    assert r.returncode == 0, r.stderr
    changed = _differences(copy_of_project / "fnn_nbdev", ROOT / "fnn_nbdev", "*.py")
    assert not changed, f"fnn_nbdev/ is out of date with nbs/ (run nbdev-export): {changed}"
    new = {p.name for p in (copy_of_project / "fnn_nbdev").glob("*.py")} - {p.name for p in (ROOT / "fnn_nbdev").glob("*.py")}
    assert not new, f"modules exported but not committed: {new}"

def test_nbdev_clean_changes_nothing(copy_of_project):
    r = run([str(BIN / "nbdev-clean")], copy_of_project)
    assert r.returncode == 0, r.stderr
    changed = _differences(copy_of_project / "nbs", ROOT / "nbs", "*.ipynb")
    assert not changed, f"notebooks not cleaned (run nbdev-clean): {changed}"

def test_readme_is_generated_from_index():
    r = run([sys.executable, "tools/make_readme.py", "--check"], ROOT)
    assert r.returncode == 0, r.stderr

def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    command = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && .venv/bin/python -m pytest'
    assert command in readme and command in ci

def test_every_module_has_its_notebook_and_imports_fast():
    mods = {p.stem for p in (ROOT / "fnn_nbdev").glob("*.py")} - {"__init__", "_modidx"}
    for m in mods: assert any(f"default_exp {m}" in p.read_text() for p in notebooks()), m
    code = "import time; t = time.perf_counter(); import fnn_nbdev.model, fnn_nbdev.train; print(time.perf_counter() - t)"
    r = run([sys.executable, "-c", code], ROOT)
    assert r.returncode == 0, r.stderr
    probe = ("import sys, fnn_nbdev.model, fnn_nbdev.cli; "
             "print(sorted(m for m in ('wandb', 'matplotlib', 'sklearn', 'ipywidgets', 'tqdm') if m in sys.modules))")
    heavy = run([sys.executable, "-c", probe], ROOT)
    assert heavy.stdout.strip() == "[]", f"heavy modules imported eagerly: {heavy.stdout}"


def test_each_module_imports_only_modules_of_earlier_notebooks():
    "The notebooks' numbers are the floors: a module uses only what an earlier notebook exports (the index says so)."
    import ast, re
    pkg = ROOT / "fnn_nbdev"
    number = {}
    for f in pkg.glob("*.py"):
        m = re.search(r"File to edit: \.\./nbs/(\d\d)_", f.read_text())
        if m: number[f.stem] = int(m.group(1))
    assert len(number) > 30
    wrong = []
    for mod, n in number.items():
        for node in ast.walk(ast.parse((pkg / f"{mod}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                used = node.module.removeprefix("fnn_nbdev.").lstrip(".") if node.level or node.module.startswith("fnn_nbdev.") else None
                if used in number and number[used] >= n: wrong.append(f"{mod} ({n:02d}) imports {used} ({number[used]:02d})")
    assert not wrong, wrong
