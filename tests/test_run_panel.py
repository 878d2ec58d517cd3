"The run panel: online the W&B page, offline the curves, histograms and gradient norms drawn from what is on disk."
import json
import pytest
from fnn_nbdev.errors import ConfigError
from fnn_nbdev.model import FNN
from fnn_nbdev.data import make_spirals, split
from fnn_nbdev.records import RunRecorder, load_run
from fnn_nbdev.tracking import WandbCallback
from fnn_nbdev.run_panel import show_run, RunPanel, plot_run, plot_wandb_histograms, plot_grad_norms

X, y = make_spirals(400, classes=3, noise=0.2, seed=0)
(XT, YT), (XV, YV) = split(X, y, (0.75, 0.25), seed=0)

@pytest.fixture
def shown(monkeypatch):
    import IPython.display as d
    out = []
    monkeypatch.setattr(d, "display", lambda obj, **k: out.append(obj))
    return out

def test_show_run_online_is_an_iframe_and_offline_draws_the_curves(tmp_path, shown, capsys):
    import IPython.display as d
    FNN([2, 8, 3], "relu", seed=0).fit(XT, YT, epochs=3, validation_data=(XV, YV), progress=False,
                                      callbacks=[RunRecorder(tmp_path / "r")])
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    summary["wandb"] = {"mode": "offline", "sync": "wandb sync X"}
    (tmp_path / "r" / "summary.json").write_text(json.dumps(summary))
    assert show_run(tmp_path / "r") is None
    fig = shown[-1]
    assert type(fig).__name__ == "Figure" and len(fig.axes[0].lines[0].get_ydata()) == 3
    assert "wandb sync X" in capsys.readouterr().out
    summary["wandb"]["url"] = "https://wandb.ai/me/p/runs/abc"
    (tmp_path / "r" / "summary.json").write_text(json.dumps(summary))
    show_run(tmp_path / "r")
    assert isinstance(shown[-1], d.IFrame) and shown[-1].src == "https://wandb.ai/me/p/runs/abc"
    show_run(tmp_path / "r", details=True)                 # no W&B file: the details it has, and a note
    assert isinstance(shown[-1], d.IFrame)

def test_show_run_offline_draws_a_wandb_only_run_and_its_details(tmp_path, monkeypatch, shown, capsys):
    for k in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"): monkeypatch.setenv(k, str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    cb = WandbCallback(mode="offline", dir=tmp_path / "w")
    h = FNN([2, 16, 16, 3], "relu", seed=0).fit(XT, YT, epochs=6, lr=1e-2, validation_data=(XV, YV), progress=False,
                                               callbacks=[cb]).history
    show_run(cb, details=True)
    curves, heat, norms = shown
    assert list(curves.axes[0].lines[0].get_ydata()) == h["loss"]             # read back from W&B's own file
    assert [a.get_title() for a in heat.axes[:3]] == ["params/W1", "params/W2", "params/W3"]
    assert len(norms.axes[0].lines) == 4                                     # three layers and the global norm
    assert cb.info["sync"] in capsys.readouterr().out
    fig = plot_wandb_histograms(cb, ["params/W1", "grads/b2"])
    assert [a.get_title() for a in fig.axes[:2]] == ["params/W1", "grads/b2"]
    with pytest.raises(ConfigError, match="key: expected a histogram"): plot_wandb_histograms(cb, "params/W7")

def test_plots_of_a_record_and_the_live_panel(tmp_path):
    panel = RunPanel(min_interval=0.0)
    status, image, _ = panel.widget.children                # made before the fit: updated as it runs
    h = FNN([2, 8, 3], "tanh", seed=0).fit(XT, YT, epochs=4, validation_data=(XV, YV), progress=False,
                                          callbacks=[RunRecorder(tmp_path / "r"), panel]).history
    run = load_run(tmp_path / "r")
    assert list(plot_run(run).axes[0].lines[0].get_ydata()) == h["loss"]
    assert list(plot_grad_norms(run).axes[0].lines[0].get_ydata()) == run.history["grad_norm/layer1"]
    assert panel.history["val_loss"] == h["val_loss"]
    assert image.value[:4] == b"\x89PNG" and status.value.startswith("epoch 4/4")
