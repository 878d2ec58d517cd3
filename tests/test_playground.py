"The Playground without a browser: the network drawing, regression, the toggles, the loss chart, its state — and netdraw."
import ast, io, json, re, time, tokenize
from pathlib import Path
import numpy as np
import pytest

W = pytest.importorskip("ipywidgets")
from fnn_nbdev.netdraw import PALETTE, png, diverging, weight_style, loss_chart_svg
from fnn_nbdev.playground import Playground, playground_data, CLASSIFICATION, REGRESSION, FEATURES

PKG = Path(__file__).resolve().parents[1] / "fnn_nbdev"


def test_png_roundtrip():
    from PIL import Image
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert (np.asarray(Image.open(io.BytesIO(png(rgb))).convert("RGB")) == rgb).all()


def weights_in(svg):
    "(title text, stroke colour, stroke width) of every weight line in a network SVG."
    return [(t, c, float(w)) for t, c, w in re.findall(
        r'<g class="fnn-pg-weight"><title>([^<]+)</title><path [^>]+/><path class="line" d="[^"]+" fill="none" '
        r'stroke="([^"]+)" stroke-width="([0-9.]+)"/></g>', svg)]


def test_network_drawing_has_a_line_per_weight_coloured_by_sign_and_sized_by_magnitude():
    pg = Playground("circle", hidden=(4, 3))
    pg.step(3)
    lines = weights_in(pg.network.value)
    Ws = [layer.W for layer in pg.model.layers]
    assert len(lines) == sum(W_.size for W_ in Ws) == 2 * 4 + 4 * 3 + 3 * 1
    flat = [w for W_ in Ws for w in W_.ravel()]                             # row-major: from neuron i to neuron j
    for (title, colour, width), w in zip(lines, flat):
        assert title.startswith(f"weight {w:+.4f}:") and (colour, pytest.approx(width, abs=0.01)) == (
            weight_style(w)[0], weight_style(w)[1])
    assert pg.network.value.count('class="fnn-pg-node"') == 2 + 4 + 3 + 1
    assert "<title>weight" in pg.network.value and "onclick=" in pg.network.value


def test_a_new_network_clears_the_clicked_weight_on_the_page():
    pg = Playground("circle", hidden=(2,))
    sent = []
    pg.weight_info.observe(lambda c: sent.append(c["new"]), "value")
    pg.dataset.value = "xor"                                            # the page may show a weight of the old network
    assert sent[-2:] == ["", pg.weight_info.value] and "click a weight" in sent[-1]
    pg.reset_button.click()
    assert sent[-2] == "" and len(sent) == 4


def test_network_svg_is_well_formed_xml():
    from xml.dom import minidom
    pg = Playground("blobs (3 classes)", hidden=(3,), activation=[["relu", "tanh", "sigmoid"]])
    doc = minidom.parseString(pg.network.value)
    assert len(doc.getElementsByTagName("g")) >= 2 * 3 + 3 * 3
    minidom.parseString(pg.loss_chart.value)


def test_neurons_are_drawn_in_the_users_order():
    pg = Playground("xor", hidden=(3,), activation=[["relu", "tanh", "sigmoid"]])
    nodes = pg.drawing()["columns"][1]["nodes"]
    assert [n["tooltip"].split(": ")[1].split(",")[0] for n in nodes] == ["relu", "tanh", "sigmoid"]
    L = pg.model.layers[0]
    z = pg._F_grid @ L.W + L.b
    for j, f in enumerate([lambda z: np.maximum(z, 0), np.tanh, lambda z: 1 / (1 + np.exp(-z))]):
        a = f(z[:, j])
        want = diverging((a / (np.abs(a).max() + 1e-12)).reshape(60, 60)[::-2, ::2]).astype(int)
        assert np.abs(nodes[j]["picture"].astype(int) - want).max() <= 2, j


def test_playground_step_reset_and_output_changes():
    pg = Playground("circle", hidden=(4, 2))
    img0 = pg.output_image.value
    for _ in range(5): pg.step_button.click()
    assert pg.epoch == 5 and len(pg.test_losses) == 5 and pg.output_image.value != img0
    assert "<b class='fnn-epoch-count'>5</b>" in pg.epoch_label.value
    pg.reset_button.click()
    assert pg.epoch == 0 and pg.train_losses == [] and "<b class='fnn-epoch-count'>0</b>" in pg.epoch_label.value


def test_loss_chart_has_axes_ticks_both_curves_and_a_legend():
    pg = Playground("circle", hidden=(4, 2))
    pg.step(12)
    svg = pg.loss_chart.value
    assert 'class="fnn-pg-axis"' in svg and "epoch" in svg and "loss (bce)" in svg
    ticks = re.findall(r'class="fnn-pg-tick"[^>]*>([^<]+)<', svg)
    assert len(ticks) >= 6 and "0" in ticks
    for cls, vals in (("train", pg.train_losses), ("test", pg.test_losses)):
        assert len(re.search(rf'class="fnn-pg-{cls}" points="([^"]+)"', svg).group(1).split()) == len(vals) == 12
    legend = re.findall(r'class="fnn-pg-legend"[^>]*>([^<]+)<', svg)
    assert legend == [f"train {pg.train_losses[-1]:.3f}", f"test {pg.test_losses[-1]:.3f}"]
    assert re.search(r'width="(\d+)"', svg).group(1) == "320"


def test_loss_chart_ends_its_axes_on_ticks_and_survives_divergence():
    svg = loss_chart_svg([2.0, float("inf"), float("nan")], [1.0, 3.5, 0.2])
    y_ticks = [float(t) for t in re.findall(r'class="fnn-pg-tick"[^>]*text-anchor="end">([^<]+)<', svg)]
    assert y_ticks[0] == 0 and y_ticks[-1] >= 3.5                         # the axis covers the largest finite loss
    points = " ".join(re.findall(r'points="([^"]*)"', svg))
    assert "nan" not in points and "inf" not in points                     # a diverged loss is drawn at the top
    assert "train nan" in svg                                              # and said as it is


def test_show_test_data_and_discretise_change_the_picture_not_the_network():
    pg = Playground("xor", hidden=(4,))
    pg.step(5)
    W0, plain = pg.model.params[0].copy(), pg.output_image.value
    pg.show_test.value = True
    with_test = pg.output_image.value
    pg.discretize.value = True
    both = pg.output_image.value
    assert len({plain, with_test, both}) == 3 and pg.epoch == 5 and np.array_equal(pg.model.params[0], W0)
    colours = {tuple(c) for c in pg.output_rgb().reshape(-1, 3)}
    assert len(colours) == 2                                                # decisions only: two colours
    pg.show_test.value = pg.discretize.value = False
    assert pg.output_image.value == plain


def test_regression_over_the_plane_is_a_heatmap_of_the_value():
    pg = Playground("plane", hidden=(4,), lr=0.03, noise=0.0)
    assert (pg.problem.value, pg.model.loss_fn.name, pg.model.sizes[-1]) == ("regression", "mse", 1)
    pg.step(40)
    assert pg.test_losses[-1] < 0.3 * pg.test_losses[0] and pg.test_losses[-1] < 1e-3
    rgb = pg.output_rgb()
    assert rgb.shape == (60, 60, 3)
    corner_low, corner_high = rgb[0, 0].astype(float), rgb[-1, -1].astype(float)   # x1 + x2 = -6 and +6
    assert np.linalg.norm(corner_low - PALETTE[0]) < np.linalg.norm(corner_low - PALETTE[1])
    assert np.linalg.norm(corner_high - PALETTE[1]) < np.linalg.norm(corner_high - PALETTE[0])


def test_regression_in_one_dimension_is_a_curve_through_the_points():
    pg = Playground("sine (1-D)", hidden=(6, 4), lr=0.03)
    assert pg.n_inputs == 1 and pg.model.sizes[0] == len(pg.feature_names) == 1
    assert [pg.features[f].disabled for f in FEATURES] == [FEATURES[f][0] == 2 for f in FEATURES]
    pg.step(150)
    curve = pg._art["surface"]
    x, y = curve.get_xdata(), curve.get_ydata()
    assert len(x) == 60 and np.abs(y - np.sin(1.6 * x)).mean() < 0.25          # it has learned the sine
    nodes = pg.drawing()["columns"][1]["nodes"]
    assert all(n["picture"].ndim == 1 for n in nodes)                       # neurons drawn as curves
    assert "<polyline" in pg.network.value
    pg.discretize.value = True
    assert set(np.round(pg._art["surface"].get_ydata() * 4, 6)) <= set(np.arange(-8, 9))


def test_switching_problem_type_rebuilds_once_with_the_first_data_set():
    pg = Playground("circle")
    pg.step(3)
    pg.problem.value = "regression"
    assert (pg.dataset.value, pg.epoch, list(pg.dataset.options)) == ("plane", 0, list(REGRESSION))
    pg.dataset.value = "cubic (1-D)"
    assert pg.feature_names == ["x1"] and pg.model.sizes[0] == 1
    pg.problem.value = "classification"
    assert pg.dataset.value == "circle" and not pg.features["x2"].disabled and pg.model.loss_fn.name == "bce"
    assert pg.feature_names == ["x1", "x2"] and pg.model.sizes[0] == 2      # the features 1-D data switched off: back


def test_playground_lr_and_regularisation_change_in_place():
    pg = Playground("xor", hidden=(4,))
    pg.step(3)
    W0, model, opt = pg.model.params[0].copy(), pg.model, pg.opt
    pg.lr.value, pg.reg.value, pg.reg_rate.value = 0.3, "L1", 0.01
    assert pg.model is model and pg.opt is opt and pg.epoch == 3 and np.array_equal(pg.model.params[0], W0)
    assert pg.opt.lr == pytest.approx(0.3) and (pg.model.l1, pg.model.l2) == (0.01, 0.0)
    pg.reg.value = "L2"
    assert (pg.model.l1, pg.model.l2) == (0.0, 0.01)


def test_playground_architecture_and_features_rebuild():
    pg = Playground("circle", hidden=(4, 2))
    pg.step(2)
    pg.features["x1²"].value = True
    pg.features["x2²"].value = True
    assert pg.epoch == 0 and pg.model.sizes == [4, 4, 2, 1]
    pg._layer_rows[0][0].value = 6
    assert pg.model.sizes == [4, 6, 2, 1] and len(pg.drawing()["columns"][1]["nodes"]) == 6
    pg.add_layer.click()
    assert pg.model.sizes == [4, 6, 2, 4, 1]
    pg._layer_rows[1][2].value = "relu,sigmoid"                   # one activation per neuron
    assert pg.model.activations[1] == ["relu", "sigmoid"]
    pg._layer_rows[1][2].value = "relu"                            # wrong count: message, model kept
    assert "2 comma-separated names" in pg.message.value and pg.model.activations[1] == ["relu", "sigmoid"]
    for f in pg.features.values(): f.value = False
    assert "at least one input feature" in pg.message.value


def test_playground_three_classes_three_colours():
    pg = Playground("spirals (3 classes)", hidden=(8, 8), activation="relu", lr=0.1)
    assert pg.model.sizes[-1] == 3 and pg.model.loss_fn.name == "cross_entropy"
    pg.step(15)
    pix = pg.output_rgb().reshape(-1, 3).astype(float)
    nearest = np.argmin(((pix[:, None] - PALETTE[:3][None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=3)
    assert (counts > 0.02 * len(pix)).all(), counts


def test_playground_play_pause_advances_in_background():
    pg = Playground("gaussian", hidden=(2,))
    pg.play_button.click()
    deadline = time.time() + 20
    while pg.epoch < 3 and time.time() < deadline: time.sleep(0.02)
    pg.pause_button.click()
    e = pg.epoch
    assert e >= 3 and not pg._thread.is_alive() and not pg.play_button.disabled
    time.sleep(0.2)
    assert pg.epoch == e


def test_playground_learns_xor_with_product_feature():
    pg = Playground("xor", features=("x1·x2",), hidden=(2,), lr=0.1, noise=0.0)
    pg.step(30)
    assert pg.model.evaluate(pg._F_test, pg.y_test)["accuracy"] > 0.9


def test_state_is_one_plain_dict_that_builds_the_same_playground():
    pg = Playground("sine (1-D)", hidden=(3, 2), activation=[["relu", "tanh", "relu"], "tanh"], show_test_data=True,
                    discretize=True, lr=0.1, regularization="L2", reg_rate=0.001, batch_size=16, seed=4)
    pg.step(2)
    s = pg.state()
    assert json.loads(json.dumps(s)) == s and s["epoch"] == 2
    assert (s["problem"], s["show_test_data"], s["discretize"], s["features"]) == ("regression", True, True, ["x1"])
    again = Playground(**{k: v for k, v in s.items() if k != "epoch"})
    assert again.state() == {**s, "epoch": 0}
    again.step(2)
    assert [p.tolist() for p in again.model.params] == [p.tolist() for p in pg.model.params]


def test_snapshot_has_the_network_the_output_and_the_loss_curves():
    from fnn_nbdev.plots import figure_png
    pg = Playground("circle", hidden=(4, 2))
    pg.step(5)
    fig = pg.snapshot()
    net, out, loss = fig.axes[2], fig.axes[0], fig.axes[1]
    assert len(net.patches) == (2 * 4 + 4 * 2 + 2) + (2 + 4 + 2 + 1)                  # a curve per weight, a frame per node
    assert len(net.images) == 2 + 4 + 2 + 1 and len(out.images) == 1
    assert [len(l.get_xdata()) for l in loss.lines] == [5, 5] and loss.get_legend() is not None
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_playground_data_is_seeded_and_in_range():
    for name in [*CLASSIFICATION, *REGRESSION]:
        a, b = playground_data(name, 100, 0.2, seed=3), playground_data(name, 100, 0.2, seed=3)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and np.abs(a[0]).max() <= 3


def test_widget_modules_import_no_private_names_and_join_no_statements():
    for name in ("panel", "netdraw", "playground", "stepper"):
        src = (PKG / f"{name}.py").read_text()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.ImportFrom) and node.module and (node.level or node.module.startswith("fnn_nbdev")):
                assert not [a.name for a in node.names if a.name.startswith("_")], (name, node.module)
        semis = [t for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.OP and t.string == ";"]
        assert not semis, (name, [t.start for t in semis])
