"""The widgets in a real browser: what a person sees change when they click, hover and type.

One JupyterLab page for the module: open the test notebook, Run All, then drive each widget in turn (the panel, the
Playground, the stepper); then the same notebook in Voila. Screenshots go to the pytest temp folder (`screenshots/`).
"""
import io, re, time
import numpy as np
import pytest

from conftest import new_page

PALETTE3 = np.array([[245, 147, 34], [8, 119, 189], [46, 160, 67]], float)
N_WEIGHTS = 2 * 4 + 4 * 2 + 2 * 1          # the demo's Playground: inputs x1, x2, hidden layers 4 and 2, one output


def wait_for(fn, timeout=30.0, interval=0.1, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v: return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def src(page, sel):
    return page.locator(sel).first.get_attribute("src")


def image_digest(page, sel) -> str:
    "SHA-256 of the bytes an <img> shows (its blob), read in the page once the image has loaded."
    return page.locator(sel).first.evaluate("""async img => {
        if (!img.complete) await new Promise(r => img.addEventListener('load', r, {once: true}));
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        return Array.from(d, b => b.toString(16).padStart(2, '0')).join('');
    }""")


def type_readout(page, sel, value):
    "Type into a slider's readout (click, select all, type, Enter), as a person would."
    r = page.locator(f"{sel} .widget-readout").first
    r.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


@pytest.fixture(scope="module")
def lab_page(lab, browser, tmp_path_factory):
    base, token, _ = lab
    page = new_page(browser)
    page.goto(f"{base}/lab/tree/widgets_demo.ipynb?token={token}")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
    page.locator(".fnn-stepthrough").wait_for(timeout=60_000)
    page.locator(".fnn-pg-output[src]").wait_for()
    yield page
    page.close()


# --- HyperparameterPanel -----------------------------------------------------------------------------------------
def config_text(page):
    return page.locator(".fnn-config textarea").input_value()


def test_panel_train_from_the_page(lab_page, shots):
    page = lab_page
    panel = page.locator(".fnn-panel")
    panel.scroll_into_view_if_needed()
    assert page.locator(".fnn-curves").is_hidden()                      # no curves before a run
    type_readout(page, ".fnn-width", 8)                                 # hidden width 16 → 8
    page.locator(".fnn-lr .noUi-handle").focus()
    for _ in range(3): page.keyboard.press("ArrowRight")                # lr 0.01 → 10^(-2+0.3) ≈ 0.02
    dropout = page.locator(".fnn-dropout input").first                  # the layer's dropout rate
    dropout.fill("0.1")
    dropout.press("Enter")
    def shown():
        t = config_text(page)
        lr = float(re.search(r'"lr": ([0-9.e-]+)', t).group(1))
        return '"hidden": [\n  8\n ]' in t and 0.015 < lr < 0.03 and '"dropout": 0.1' in t
    wait_for(shown, what="the config to show hidden [8], lr ≈ 0.02 and dropout 0.1")
    page.locator(".fnn-wandb select").select_option(label="off (local record only)")          # W&B is tested with tracking
    page.locator(".fnn-track input").check()
    page.locator(".fnn-train").click()
    wait_for(lambda: "finished" in page.locator(".fnn-status").inner_text(), 60, what="training to finish")
    wait_for(lambda: src(page, ".fnn-curves") and page.locator(".fnn-curves").is_visible(), what="the curves")
    # the run is logged: the record's folder, and tracking.RunPanel's status line, inline under the results
    wait_for(lambda: "run record" in (t := page.locator(".fnn-runbox").inner_text()) and "epoch 20/20" in t,
             what="the run record line and the run panel's last epoch")
    wait_for(lambda: page.locator(".fnn-runbox img").count() > 0 and page.locator(".fnn-runbox img").first.evaluate(
             "img => img.complete && img.naturalWidth > 0"), what="the run panel's curves image to load")
    metrics = page.locator(".fnn-metrics").inner_text()
    assert "accuracy" in metrics and "test" in metrics
    assert src(page, ".fnn-final")
    shots(page, "panel", panel)


def test_panel_stop_mid_run(lab_page, shots):
    page = lab_page
    page.locator(".fnn-track input").uncheck()
    type_readout(page, ".fnn-epochs", 2000)
    wait_for(lambda: '"epochs": 2000' in config_text(page), what="epochs 2000")
    page.locator(".fnn-train").click()
    status = page.locator(".fnn-status")
    wait_for(lambda: (m := re.search(r"epoch (\d+)/2000", status.inner_text())) and int(m.group(1)) >= 3, 60,
             interval=0.02, what="a few epochs")
    page.locator(".fnn-stop").click()
    text = wait_for(lambda: "stopped at epoch" in (t := status.inner_text()) and t, 30, what="the run to stop")
    m = re.search(r"stopped at epoch (\d+)/2000 \(Stop pressed in epoch (\d+)\)", text)
    assert m, text
    stopped, pressed = int(m.group(1)), int(m.group(2))
    assert stopped < 2000 and stopped - pressed <= 1, text
    wait_for(lambda: not page.locator(".fnn-train").is_disabled() and page.locator(".fnn-stop").is_disabled(),
             what="Train enabled and Stop disabled again")
    shots(page, "panel-stopped", page.locator(".fnn-panel"))


# --- Playground ----------------------------------------------------------------------------------------------
def counter(page):
    return int(page.locator(".fnn-pg-epoch .fnn-epoch-count").inner_text())


def colours_in(png_bytes, palette=PALETTE3):
    "How many of the palette's colours cover > 2% of the strongly coloured pixels of a screenshot."
    from PIL import Image
    px = np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"), float).reshape(-1, 3)
    px = px[px.max(1) - px.min(1) > 60]                                 # saturated pixels only (not white/grey/text)
    d = ((px[:, None] - palette[None]) ** 2).sum(-1)
    near = d.argmin(1)[d.min(1) < 60 ** 2 * 3]
    return int((np.bincount(near, minlength=len(palette)) > 0.02 * max(len(near), 1)).sum())


def steps(page, n):
    "Click Step n times and wait for the epoch counter."
    start = counter(page)
    for _ in range(n): page.locator(".fnn-pg-step").click()
    wait_for(lambda: counter(page) == start + n, what=f"epoch counter {start + n}")


def choose(page, sel, value):
    "Pick a value from a dropdown and wait for the new network's first picture."
    before = src(page, ".fnn-pg-output")
    page.locator(f"{sel} select").select_option(value)
    wait_for(lambda: counter(page) == 0 and src(page, ".fnn-pg-output") != before, what=f"a new network for {value}")


def test_playground_step_switch_reset(lab_page, shots):
    page = lab_page
    page.locator(".fnn-playground").scroll_into_view_if_needed()
    assert counter(page) == 0
    img0 = src(page, ".fnn-pg-output")
    steps(page, 5)
    assert src(page, ".fnn-pg-output") != img0
    choose(page, ".fnn-pg-dataset", "spirals (3 classes)")
    steps(page, 10)
    out = page.locator(".fnn-pg-output")
    wait_for(lambda: out.evaluate("e => e.complete && e.naturalWidth > 0"), what="the output image to load")
    wait_for(lambda: colours_in(out.screenshot()) == 3, 10, interval=0.3, what="3 class colours in the output")
    assert page.locator(".fnn-pg-network g.fnn-pg-node").count() == 2 + 4 + 2 + 3
    shots(page, "playground-3class", page.locator(".fnn-playground"))
    page.locator(".fnn-pg-reset").click()
    wait_for(lambda: counter(page) == 0, what="epoch counter back to 0")
    choose(page, ".fnn-pg-dataset", "circle")


def test_playground_draws_the_network_with_a_line_per_weight(lab_page, shots):
    page = lab_page
    steps(page, 8)
    net = page.locator(".fnn-pg-network svg.fnn-pg-net")
    net.scroll_into_view_if_needed()
    assert page.locator(".fnn-pg-network g.fnn-pg-weight").count() == N_WEIGHTS
    assert page.locator(".fnn-pg-network g.fnn-pg-node").count() == 2 + 4 + 2 + 1
    images = page.locator(".fnn-pg-network g.fnn-pg-node image")
    assert images.count() == 9 and all(images.nth(i).bounding_box()["width"] >= 30 for i in range(9))
    lines = page.eval_on_selector_all(".fnn-pg-network g.fnn-pg-weight path.line", """ps => ps.map(p => {
        const s = getComputedStyle(p); return [s.stroke, parseFloat(s.strokeWidth), p.closest('g').querySelector('title').textContent]; })""")
    for stroke, width, title in lines:                                   # colour = sign, width = size
        w = float(re.match(r"weight ([+-][0-9.]+):", title).group(1))
        assert stroke == ("rgb(8, 119, 189)" if w > 0 else "rgb(245, 147, 34)"), (stroke, title)
        assert width == pytest.approx(0.6 + 2.1 * min(abs(w), 3.0), abs=0.02), (width, title)
    assert len({round(w, 1) for _, w, _ in lines}) >= 3                  # thicknesses differ as the weights do
    shots(page, "playground-circle-8", page.locator(".fnn-playground"))


def weight_point(page, index=-1):
    "Viewport coordinates of a point on a weight's line where no other weight lies over it, and the weight's <title>."
    return page.locator(".fnn-pg-network g.fnn-pg-weight").nth(index).evaluate("""g => {
        const p = g.querySelector('path.line'), m = p.getScreenCTM();
        for (let at = 0.3; at < 0.95; at += 0.05) {
            const q = p.getPointAtLength(at * p.getTotalLength());
            const x = q.x * m.a + q.y * m.c + m.e, y = q.x * m.b + q.y * m.d + m.f;
            const top = document.elementFromPoint(x, y);
            if (top && top.closest('.fnn-pg-weight') === g) return {x, y, title: g.querySelector('title').textContent};
        }
        return null;
    }""")


def test_playground_weight_hover_shows_its_value_and_click_keeps_it(lab_page, shots):
    page = lab_page
    page.locator(".fnn-pg-network svg.fnn-pg-net").scroll_into_view_if_needed()
    p = weight_point(page)                                               # the last weight: neuron 2 of layer 2 → output
    assert p, "no point of the last weight's line is clear of the others"
    assert re.fullmatch(r"weight [+-]\d\.\d{4}: neuron 2 of layer 2 → output \(epoch 8\)", p["title"]), p["title"]
    page.mouse.move(p["x"], p["y"])
    hovered = page.evaluate("""([x, y]) => {
        const g = document.elementFromPoint(x, y).closest('.fnn-pg-weight');
        return g && [g.querySelector('title').textContent, getComputedStyle(g.querySelector('path.line')).stroke,
                     g.matches(':hover')];
    }""", [p["x"], p["y"]])
    assert hovered == [p["title"], "rgb(34, 34, 34)", True], hovered     # under the pointer: that weight, highlighted
    shots(page, "playground-hover", page.locator(".fnn-pg-network"))
    info = page.locator(".fnn-pg-weight-info")
    assert "click a weight" in info.inner_text()
    page.mouse.click(p["x"], p["y"])
    wait_for(lambda: info.inner_text().strip() == p["title"], 5, what="the clicked weight's value under the drawing")
    q = weight_point(page, 0)                                            # another one: x1 → neuron 1 of layer 1
    assert q, "no point of the first weight's line is clear of the others"
    page.mouse.click(q["x"], q["y"])
    wait_for(lambda: info.inner_text().strip() == q["title"] and "x1 → neuron 1 of layer 1" in q["title"], 5,
             what="the second clicked weight's value")
    shots(page, "playground-clicked", page.locator(".fnn-playground"))


def test_playground_toggles_change_the_picture(lab_page, shots):
    page = lab_page
    out = ".fnn-pg-output"
    def changed_from(old):
        return lambda: (d := image_digest(page, out)) != old and d
    plain = image_digest(page, out)
    page.locator(".fnn-pg-show-test input").check()
    with_test = wait_for(changed_from(plain), what="the test points to appear")
    assert colours_in(page.locator(out).screenshot()) == 2
    page.locator(".fnn-pg-discretize input").check()
    discrete = wait_for(changed_from(with_test), what="the output to be discretised")
    shots(page, "playground-test-discrete", page.locator(".fnn-playground"))
    page.locator(".fnn-pg-show-test input").uncheck()
    page.locator(".fnn-pg-discretize input").uncheck()
    wait_for(lambda: image_digest(page, out) == plain, what="the first picture again, byte for byte")
    assert len({plain, with_test, discrete}) == 3 and counter(page) == 8  # pictures only: no training


def test_playground_loss_chart_has_axes_curves_and_legend(lab_page):
    page = lab_page
    chart = page.locator(".fnn-pg-loss svg.fnn-pg-losschart")
    box = chart.bounding_box()
    assert box["width"] >= 300 and box["height"] >= 170                  # large enough to read
    assert page.locator(".fnn-pg-loss .fnn-pg-axis path").count() == 1     # the two axis lines
    ticks = page.locator(".fnn-pg-loss text.fnn-pg-tick").all_text_contents()           # SVG text: no innerText
    assert len(ticks) >= 6 and "0" in ticks and "epoch" in chart.text_content()
    legend = page.locator(".fnn-pg-loss text.fnn-pg-legend").all_text_contents()
    assert [t.split()[0] for t in legend] == ["train", "test"] and all(re.fullmatch(r"\w+ \d\.\d{3}", t) for t in legend)
    for cls in ("train", "test"):
        pts = chart.locator(f"polyline.fnn-pg-{cls}").get_attribute("points").split()
        assert len(pts) == counter(page) == 8
    font = chart.locator("text.fnn-pg-tick").first.evaluate("t => parseFloat(getComputedStyle(t).fontSize)")
    assert font >= 10


def test_playground_regression_draws_a_heatmap_then_a_curve(lab_page, shots):
    page = lab_page
    out = ".fnn-pg-output"
    before = image_digest(page, out)
    page.locator(".fnn-pg-problem select").select_option("regression")
    wait_for(lambda: counter(page) == 0 and page.locator(".fnn-pg-dataset select").input_value() == "plane",
             what="the first regression set")
    wait_for(lambda: "click a weight" in page.locator(".fnn-pg-weight-info").inner_text(), 5,
             what="the clicked weight's value cleared: that network is gone")
    steps(page, 20)
    assert image_digest(page, out) != before
    palette2 = PALETTE3[:2]
    assert colours_in(page.locator(out).screenshot(), palette2) == 2     # a heatmap: orange to blue across the plane
    assert "loss (mse)" in page.locator(".fnn-pg-loss").text_content()
    shots(page, "playground-regression-plane", page.locator(".fnn-playground"))
    choose(page, ".fnn-pg-dataset", "sine (1-D)")
    assert page.locator(".fnn-pg-network g.fnn-pg-node polyline").count() == 1 + 4 + 2 + 1   # curves, not pictures
    assert page.locator(".fnn-pg-features input:disabled").count() == 4          # the features of x2
    steps(page, 60)
    from PIL import Image
    px = np.asarray(Image.open(io.BytesIO(page.locator(out).screenshot())).convert("RGB"), int)
    dark = (px.max(axis=2) < 80).sum()                                   # the curve (#333) and the frame, axis text
    assert dark > 600, dark
    shots(page, "playground-regression-sine", page.locator(".fnn-playground"))
    page.locator(".fnn-pg-problem select").select_option("classification")
    wait_for(lambda: page.locator(".fnn-pg-dataset select").input_value() == "circle", what="back to the circle")


# --- StepThrough ---------------------------------------------------------------------------------------------
def test_stepthrough_next_and_gradient_check(lab_page, shots):
    page = lab_page
    page.locator(".fnn-stepthrough").scroll_into_view_if_needed()
    title = page.locator(".fnn-st-title")
    t0, e0 = title.inner_text(), page.locator(".fnn-st-eq").inner_text()
    page.locator(".fnn-st-next").click()
    wait_for(lambda: title.inner_text() != t0, what="the step title to change")
    assert "layer 1" in title.inner_text()
    wait_for(lambda: page.locator(".fnn-st-eq").inner_text() != e0, what="the equation to change")
    for _ in range(12):
        if page.locator(".fnn-gradcheck").count(): break
        n = title.inner_text()
        page.locator(".fnn-st-next").click()
        wait_for(lambda: title.inner_text() != n, what="the next step")
    check = page.locator(".fnn-gradcheck").inner_text()
    err = float(page.locator(".fnn-relerr").inner_text())
    assert "✓" in check and err < 1e-6, check
    shots(page, "stepthrough", page.locator(".fnn-stepthrough"))


# --- Voila -----------------------------------------------------------------------------------------------------
def test_voila_renders_the_widgets(voila, browser, shots):
    url, _ = voila
    page = new_page(browser)
    try:
        for attempt in range(3):                       # Voila 0.5 sometimes never finishes a first page load
            try:
                page.goto(url, timeout=45_000)
                page.locator(".fnn-stepthrough").wait_for(timeout=45_000)
                break
            except Exception:
                if attempt == 2: raise
        for sel in (".fnn-panel", ".fnn-playground", ".fnn-stepthrough"): assert page.locator(sel).is_visible()
        assert src(page, ".fnn-pg-output") and page.locator(".fnn-config textarea").input_value().startswith("{")
        assert page.locator(".fnn-pg-network g.fnn-pg-weight").count() == N_WEIGHTS
        page.locator(".fnn-pg-step").click()
        wait_for(lambda: counter(page) == 1, what="Step to work in Voila")
        p = weight_point(page)
        page.mouse.click(p["x"], p["y"])
        wait_for(lambda: page.locator(".fnn-pg-weight-info").inner_text().strip() == p["title"], 5,
                 what="a clicked weight's value in Voila")
        shots(page, "voila")
    finally:
        page.close()
