"Reports: the comparison's numbers come from the run records; the HTML is self-contained and renders in a real browser."
import argparse, base64, json, os, re, shutil
from pathlib import Path
import numpy as np
import pytest
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.reports import compare, comparison_sweep, plot_curves, plot_heatmap, ACTIVATIONS, INITS
from fnn_nbdev.cli import add_report_parser
from fnn_nbdev.records import load_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FIGS = ["heatmap", "curves", "grad_norms", "dead_units"]

@pytest.fixture(scope="module")
def comp(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    return compare(["sigmoid", "relu"], ["normal", "he_normal"], seeds=2, epochs=25, root=root, workers=2, progress=False)

def test_defaults_cover_the_original_comparison():
    assert ACTIVATIONS == ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
    assert INITS == ("normal", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal")
    cfg = comparison_sweep()
    assert cfg["method"] == "grid" and len(cfg["parameters"]["seed"]["values"]) == 3
    with pytest.raises(ConfigError, match=r"^activations\[1\]: expected one of"): comparison_sweep(["relu", "relu6"])
    with pytest.raises(ConfigError, match=r"^inits\[0\]: expected one of"): comparison_sweep(inits=["he"])

@pytest.mark.parametrize("old,new,goal", [("val_acc", "val_accuracy", "maximize"), ("train_loss", "loss", "minimize"),
                                          ("test_acc", "test_accuracy", "maximize")])
def test_both_metric_vocabularies_give_the_same_comparison(old, new, goal):
    assert comparison_sweep(metric=old) == comparison_sweep(metric=new)
    assert comparison_sweep(metric=old)["metric"] == {"name": new, "goal": goal}
    with pytest.raises(ConfigError, match="metric.name"): comparison_sweep(metric="val_f1")

def test_a_report_reads_a_metric_under_either_name(comp):
    assert comp.final("relu", "he_normal", "val_acc") == comp.final("relu", "he_normal", "val_accuracy")
    assert comp.final("relu", "he_normal", "train_loss") == comp.final("relu", "he_normal", "loss")
    assert plot_heatmap(comp, "val_acc").axes[0].get_title().startswith("final val_accuracy")

def test_aggregates_equal_the_run_records(comp):
    assert len(comp.sweep.trials) == 8 and not comp.failed
    cell = comp.cell("relu", "he_normal")
    assert sorted(t.params["seed"] for t, _ in cell) == [0, 1]
    runs = [load_run(t.path) for t, _ in cell]
    finals = [r.summary["final"]["val_accuracy"] for r in runs]
    m, s, n = comp.final("relu", "he_normal")
    assert n == 2 and m == pytest.approx(np.mean(finals)) and s == pytest.approx(np.std(finals))
    mean, std = comp.curve("val_accuracy", acts=["relu"], inits=["he_normal"])
    np.testing.assert_allclose(mean, np.mean([r.history["val_accuracy"] for r in runs], axis=0))
    g1 = np.mean([r.history["grad_norm/layer1"][0] / r.history["grad_norm/layer4"][0] for r in runs])
    assert comp.grad_ratio("relu", "he_normal") == pytest.approx(g1)
    assert comp.grad_ratio("sigmoid", "normal") < 1e-3 < comp.grad_ratio("relu", "he_normal")   # vanishing vs healthy
    assert comp.final("relu", "he_normal")[0] > comp.final("relu", "normal")[0] + 0.3

def test_curves_are_drawn_per_activation_and_init_pair(comp):
    "One curve per (activation, init) — the mean over that pair's seeds — never an average across activations."
    fig = plot_curves(comp)
    assert sum(len(ax.get_lines()) for ax in fig.axes) == 2 * 4                   # (loss, val_accuracy) × four pairs
    relu_val = fig.axes[3]                                                         # row 2: val_accuracy; column 2: relu
    assert relu_val.get_title() == "" and fig.axes[1].get_title() == "relu"
    runs = [r for _, r in comp.cell("relu", "he_normal")]
    line = next(l for l in relu_val.get_lines() if l.get_label() == "he_normal")
    np.testing.assert_allclose(line.get_ydata(), np.mean([r.history["val_accuracy"] for r in runs], axis=0))

def test_html_is_self_contained_and_markdown_has_the_table(comp):
    page = comp.html_path.read_text()
    imgs = re.findall(r'<img alt="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [k for k, _ in imgs] == FIGS and page.count("<img") == len(FIGS)
    assert all(base64.b64decode(b).startswith(b"\x89PNG") for _, b in imgs)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    md = comp.md_path.read_text()
    m, s, _ = comp.final("relu", "he_normal")
    assert f"| relu | he_normal | 2 | {m:.3f} ± {s:.3f} |" in md
    assert all((comp.md_path.parent / "report_files" / f"{k}.png").stat().st_size > 5000 for k in FIGS)

def test_html_renders_every_image_in_chromium(comp, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true": pytest.fail(f"CI=true but no browser at {CHROMIUM} (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route(re.compile(r"^https?://"), lambda r: r.abort())          # a self-contained page needs no network
            page.goto(comp.html_path.as_uri(), wait_until="load")
            page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=20000)
            imgs = page.evaluate("Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.naturalHeight])")
            rows = page.evaluate("document.querySelectorAll('table tbody tr').length")
            page.screenshot(path=str(shot), full_page=True)
        finally: browser.close()
    assert [a for a, _, _ in imgs] == FIGS
    assert all(w > 100 and h > 100 for _, w, h in imgs), imgs
    assert rows == 4
    assert shot.stat().st_size > 50_000
    if os.environ.get("FNN_KEEP_SCREENSHOT"): shutil.copy(shot, os.environ["FNN_KEEP_SCREENSHOT"])

def test_cli_report(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="fnn")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", "--activations", "tanh", "--inits", "xavier_normal,he_uniform", "--seeds", "1",
                              "--epochs", "3", "--dataset", "moons", "--set", "batch_size=64", "--hidden", "8",
                              "--root", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "| tanh | he_uniform | 1 |" in out and (tmp_path / "out" / "report.html").exists()
    rows = [l for l in out.splitlines() if l.startswith("| tanh |")]
    assert len(rows) == 2 and not any("±" in r for r in rows)                    # one run: its value, not "± 0.000"
    trial = json.loads(next(tmp_path.glob("*/trials.jsonl")).read_text().splitlines()[0])
    assert (trial["config"]["batch_size"], trial["config"]["hidden"], trial["config"]["dataset"]) == (64, [8], "moons")
    args = parser.parse_args(["report", "--set", "learning_rate=0.1", "--quiet"])
    assert args.func(args) == 2 and "learning_rate" in capsys.readouterr().err
