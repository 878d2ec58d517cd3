"The stepper without a browser: the steps of one pass, their gradient checks, the widget's navigation."
import numpy as np
import pytest

W = pytest.importorskip("ipywidgets")
from fnn_nbdev.model import FNN
from fnn_nbdev.stepper import StepThrough, pass_steps


def test_stepthrough_navigation():
    st = StepThrough()
    t0, e0 = st.title.value, st.equation.value
    st.next_button.click()
    assert st.index == 1 and st.title.value != t0 and st.equation.value != e0 and "Z_1" in st.equation.value
    st.prev_button.click()
    assert st.index == 0 and st.prev_button.disabled
    st.slider.value = len(st.steps) - 1
    assert st.next_button.disabled
    st.go(999)
    assert st.index == len(st.steps) - 1


def test_stepthrough_gradient_checks_pass():
    st = StepThrough(FNN([3, 4, 3, 2], ["relu", ["tanh", "sigmoid", "tanh"], "softmax"], seed=1, l2=0.01),
                     np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 1, 0, 1]))
    checked = [i for i, s in enumerate(st.steps) if "check" in s]
    assert [st.steps[i]["check"]["name"] for i in checked] == ["W3", "b3", "W2", "b2", "W1", "b1"]
    for i in checked:
        st.go(i)
        assert "✓" in st.check.value and st.steps[i]["check"]["rel_error"] < 1e-6


def test_stepthrough_detects_a_wrong_gradient():
    st = StepThrough(tol=1e-6)
    i = next(i for i, s in enumerate(st.steps) if "check" in s)
    st.steps[i]["check"]["rel_error"] = 0.1
    st.go(i)
    st._show()
    assert "✗" in st.check.value


@pytest.mark.parametrize("sizes,acts,loss", [([2, 3, 1], "tanh", "bce"), ([2, 4, 1], ["relu", "identity"], "mse"),
                                             ([3, 2, 3], ["sigmoid", "softmax"], "cross_entropy")])
def test_steps_compute_what_the_model_computes(sizes, acts, loss):
    m = FNN(sizes, acts, loss=loss, seed=2, l1=0.001)
    X = np.random.default_rng(1).normal(size=(6, sizes[0])).astype(np.float32)
    y = np.random.default_rng(2).normal(size=6) if loss == "mse" else np.arange(6) % (sizes[-1] if sizes[-1] > 1 else 2)
    steps = pass_steps(m, X, y)
    out = next(s for s in steps if s["title"] == f"layer {len(m.layers)}: activation ({m.layers[-1].act.name})")
    np.testing.assert_allclose(out["arrays"][-1][1], m.forward(X), rtol=1e-5, atol=1e-6)
    loss_step = next(s for s in steps if s["title"].startswith("loss"))
    assert loss_step["loss"] == pytest.approx(m.evaluate(X, y)["loss"], rel=1e-5)
    assert all(s["check"]["rel_error"] < 1e-6 for s in steps if "check" in s)
    assert [p.dtype for p in m.params] == [np.float32] * len(m.params)     # the model itself is not changed
