"Property tests: backpropagated gradients equal central finite differences over random architectures."
import numpy as np
import pytest
from hypothesis import given, settings, assume, HealthCheck, strategies as st
from fnn_nbdev.model import FNN
from fnn_nbdev.gradcheck import gradcheck
from fnn_nbdev.activations import ActivationGroups, ReLU, LeakyReLU, ELU

ELEMENTWISE = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "leaky_relu:0.2", "elu", "gelu", "softplus"]
KINKED = (ReLU, LeakyReLU, ELU)   # derivative jumps at z = 0: keep samples away from it

@st.composite
def problems(draw, loss=None):
    loss = loss or draw(st.sampled_from(["mse", "bce", "cross_entropy"]))
    depth = draw(st.integers(1, 4))
    n_in = draw(st.integers(1, 6))
    n_out = draw(st.integers(2, 5)) if loss == "cross_entropy" else draw(st.integers(1, 4))
    sizes = [n_in] + [draw(st.integers(1, 12)) for _ in range(depth - 1)] + [n_out]
    def act(width):
        if draw(st.booleans()) and width > 1: return [draw(st.sampled_from(ELEMENTWISE)) for _ in range(width)]
        return draw(st.sampled_from(ELEMENTWISE))
    acts = [act(w) for w in sizes[1:-1]]
    acts.append({"cross_entropy": "softmax", "bce": "sigmoid"}.get(loss) or act(n_out))
    l1 = draw(st.sampled_from([0.0, 1e-3, 0.05]))
    l2 = draw(st.sampled_from([0.0, 1e-2, 0.3]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 8))
    X = rng.normal(size=(n, n_in))
    if loss == "mse": y = rng.normal(size=(n, n_out))
    elif loss == "bce": y = rng.integers(0, 2, size=(n, n_out)).astype(float)
    else: y = rng.integers(0, n_out, size=n) if draw(st.booleans()) else np.eye(n_out)[rng.integers(0, n_out, size=n)]
    init = draw(st.sampled_from(["he_normal", "xavier_uniform", "lecun_normal", "normal:0.5"]))
    return dict(sizes=sizes, activations=acts, loss=loss, l1=l1, l2=l2, seed=seed, init=init), X, y

def _away_from_kinks(model, X, margin=1e-4):
    "True when no pre-activation of a kinked activation lies within `margin` of its kink."
    model._forward(model._prep_X(X))
    for layer in model.layers:
        acts = [f for f, s in layer.act.groups] if isinstance(layer.act, ActivationGroups) else [layer.act]
        if any(isinstance(a, KINKED) for a in acts) and np.abs(layer.z).min() < margin: return False
    return True

@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_gradients_match_finite_differences(problem):
    cfg, X, y = problem
    model = FNN(**cfg, dtype="float64")
    assume(_away_from_kinks(model, X))
    report = gradcheck(model, X, y)
    assert report.max_rel_error <= 1e-6, repr(report)

@settings(max_examples=100, deadline=None, derandomize=True)
@given(problems(loss="cross_entropy"))
def test_fused_softmax_ce_equals_jacobian_path(problem):
    cfg, X, y = problem
    fused = FNN(**cfg, dtype="float64", fused_softmax_ce=True)
    jac = FNN(**cfg, dtype="float64", fused_softmax_ce=False)
    assert fused.fused and not jac.fused
    lf, gf = fused.loss_and_grads(X, y)
    lj, gj = jac.loss_and_grads(X, y)
    assert abs(lf - lj) <= 1e-10 * max(1.0, abs(lf))
    for a, b in zip(gf, gj): np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
def test_every_activation_with_every_loss(name, loss):
    "A deterministic sweep: each hidden activation, each loss, L1 and L2 on, both softmax paths for CE."
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    n_out = 3 if loss == "cross_entropy" else 2
    y = {"mse": rng.normal(size=(6, 2)), "bce": rng.integers(0, 2, size=(6, 2)), "cross_entropy": rng.integers(0, 3, size=6)}[loss]
    for fused in (True, False):
        model = FNN([3, 5, 4, n_out], name, loss=loss, l1=1e-3, l2=1e-2, seed=1, dtype="float64", fused_softmax_ce=fused)
        if not _away_from_kinks(model, X): continue
        report = gradcheck(model, X, y)
        assert report.max_rel_error <= 1e-6, repr(report)
