"""Property tests over random architectures: backpropagated gradients equal central finite differences, and equal an
independent per-neuron reference implementation that reads `params` in the user's neuron order."""
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
    model.propagate(model.prepare_X(X))
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


# ---------------------------------------------------------------------------------------------------------------
# An independent reference: every formula written out here, one neuron at a time, reading the parameters as the
# user sees them (column j of W_k and entry j of b_k are neuron j of layer k). It shares no code with the package.

_C = np.sqrt(2 / np.pi)

def _f(name, z):
    "The activation `name` ('leaky_relu:0.2' style) and its derivative at z, written from their definitions."
    base, _, arg = name.partition(":")
    if base == "identity": return z, np.ones_like(z)
    if base == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s, s * (1 - s)
    if base == "tanh":
        t = np.tanh(z)
        return t, 1 - t ** 2
    if base == "relu": return np.where(z > 0, z, 0.0), (z > 0).astype(float)
    if base == "leaky_relu":
        a = float(arg) if arg else 0.01
        return np.where(z > 0, z, a * z), np.where(z > 0, 1.0, a)
    if base == "elu": return np.where(z > 0, z, np.expm1(z)), np.where(z > 0, 1.0, np.exp(z))
    if base == "softplus": return np.logaddexp(0, z), 1 / (1 + np.exp(-z))
    if base == "gelu":
        u = _C * (z + 0.044715 * z ** 3)
        t = np.tanh(u)
        return 0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * (1 - t ** 2) * _C * (1 + 3 * 0.044715 * z ** 2)
    raise ValueError(name)

def reference_loss_and_grads(sizes, activations, loss, l1, l2, params, X, y):
    "Loss and gradients (in the order of `params`) of the network, by the chain rule, neuron by neuron."
    L = len(sizes) - 1
    names = [[a] * sizes[k + 1] if isinstance(a, str) else list(a) for k, a in enumerate(activations)]
    A, Z, D = [X], [], []
    for k in range(L):
        W, b = params[2 * k], params[2 * k + 1]
        z = np.empty((len(X), sizes[k + 1]))
        a = np.empty_like(z)
        d = np.empty_like(z)
        for j in range(sizes[k + 1]):
            z[:, j] = A[-1] @ W[:, j] + b[j]
            if names[k][j] != "softmax": a[:, j], d[:, j] = _f(names[k][j], z[:, j])
        if names[k][0] == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        Z.append(z)
        A.append(a)
        D.append(d)
    out, n = A[-1], len(X)
    if loss == "mse":
        Y = y.reshape(n, -1)
        data = np.mean((out - Y) ** 2)
        delta = 2 * (out - Y) / out.size * D[-1]
    elif loss == "bce":
        Y = y.reshape(n, -1)
        data = -np.mean(Y * np.log(out) + (1 - Y) * np.log(1 - out))
        delta = (out - Y) / out.size                         # d/dz of BCE(sigmoid(z)), by hand
    else:
        Y = np.eye(sizes[-1])[y] if y.ndim == 1 else y
        data = -np.mean(np.sum(Y * np.log(out), axis=1))
        delta = (out - Y) / n  # d/dz of CE(softmax(z))
    Ws = params[0::2]
    total = data + l1 * sum(np.abs(W).sum() for W in Ws) + 0.5 * l2 * sum((W ** 2).sum() for W in Ws)
    grads = [None] * len(params)
    for k in range(L - 1, -1, -1):
        W = params[2 * k]
        gW = np.empty_like(W)
        gb = np.empty(W.shape[1])
        for j in range(W.shape[1]):
            gW[:, j] = A[k].T @ delta[:, j]
            gb[j] = delta[:, j].sum()
        grads[2 * k] = gW + l1 * np.sign(W) + l2 * W
        grads[2 * k + 1] = gb
        if k: delta = (delta @ W.T) * D[k - 1]
    return total, grads

@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.booleans())
def test_gradients_match_an_independent_per_neuron_reference(problem, fused):
    "The user's order everywhere: params read plainly per neuron give the same loss and gradients as loss_and_grads."
    cfg, X, y = problem
    model = FNN(**cfg, dtype="float64", fused_softmax_ce=fused)
    loss, grads = model.loss_and_grads(X, y)
    ref_loss, ref_grads = reference_loss_and_grads(model.sizes, model.activations, cfg["loss"], cfg["l1"], cfg["l2"],
                                                   [p.copy() for p in model.params], X, np.asarray(y))
    assert abs(loss - ref_loss) <= 1e-7 * max(1.0, abs(ref_loss))
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        np.testing.assert_allclose(g, r, rtol=1e-7, atol=1e-9, err_msg=f"params[{i}] of {cfg['activations']}")

def test_the_reference_catches_a_scrambled_neuron_order():
    "The reference is not vacuous: a model whose stored columns were swapped disagrees with it."
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 2)), rng.integers(0, 3, size=5)
    model = FNN([2, 4, 3], [["relu", "tanh", "relu", "tanh"], "softmax"], seed=0, dtype="float64")
    swapped = [p.copy() for p in model.params]
    swapped[0] = swapped[0][:, [1, 0, 2, 3]]                # neuron 0's weights under neuron 1's activation
    ref_loss, _ = reference_loss_and_grads(model.sizes, model.activations, "cross_entropy", 0, 0, swapped, X, y)
    assert abs(model.loss_and_grads(X, y)[0] - ref_loss) > 1e-6
