"The code reads one way everywhere: ruff (configured in pyproject.toml) over the notebooks, the package, tests, benchmarks and tools."
import shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff():
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None: pytest.skip("ruff is not installed (pip install -e '.[dev]' installs it)")
    return exe


def test_ruff_finds_nothing():
    out = subprocess.run([ruff(), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_would_catch_a_problem(tmp_path):
    "The check is live: the same configuration flags a semicolon-joined line and an unused import."
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx = 1; y = 2\n")
    out = subprocess.run([ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), "--output-format", "concise", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "F401" in out.stdout and "E702" in out.stdout
