"Learning checks against known results (slow tier: CI runs it)."
import pytest
from fnn_nbdev.model import FNN
from fnn_nbdev.data import load_mnist1d, make_spirals, split

pytestmark = pytest.mark.slow

def test_digits_reaches_97_5_percent():
    "64-64-10 ReLU + Adam on sklearn's digits (pixels/16, stratified 75/25, random_state=0); sklearn's MLP: ~98 %."
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16, y, test_size=0.25, stratify=y, random_state=0)
    model = FNN([64, 64, 10], "relu", seed=0)
    model.fit(X_tr, y_tr, epochs=60, batch_size=32, optimizer="adam", lr=1e-3, progress=False)
    acc = model.evaluate(X_te, y_te)["accuracy"]
    assert acc >= 0.975, acc

def test_mnist1d_reaches_67_percent():
    "40-100-100-10 ReLU + Adam (lr 1e-2, batch 100, 150 epochs = 6000 steps); the MNIST-1D paper's MLP: ~68 %."
    X_tr, y_tr, X_te, y_te = load_mnist1d()
    assert (X_tr.shape, X_te.shape) == ((4000, 40), (1000, 40))
    model = FNN([40, 100, 100, 10], "relu", seed=0)
    model.fit(X_tr, y_tr, epochs=150, batch_size=100, optimizer="adam", lr=1e-2, progress=False)
    acc = model.evaluate(X_te, y_te)["accuracy"]
    assert acc >= 0.67, acc

def test_spirals_three_classes_reach_95_percent():
    X, y = make_spirals(900, classes=3, seed=0)
    (X_tr, y_tr), (X_te, y_te) = split(X, y, (0.75, 0.25), seed=0)
    model = FNN([2, 64, 64, 3], "relu", seed=0)
    model.fit(X_tr, y_tr, epochs=150, batch_size=32, lr=1e-2, progress=False)
    acc = model.evaluate(X_te, y_te)["accuracy"]
    assert acc >= 0.95, acc

@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.5), ("momentum", 0.1), ("nesterov", 0.1), ("rmsprop", 1e-2),
                                          ("adam", 1e-2), ("adamw", 1e-2)])
def test_every_optimizer_learns_xor_like_moons(optimizer, lr):
    from fnn_nbdev.data import make_moons
    X, y = make_moons(400, noise=0.1, seed=0)
    model = FNN([2, 16, 16, 1], "tanh", loss="bce", seed=0)
    hist = model.fit(X, y, epochs=60, batch_size=32, optimizer=optimizer, lr=lr, progress=False)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert model.evaluate(X, y)["accuracy"] > 0.95

def test_regression_fits_a_sine():
    from fnn_nbdev.data import make_regression_1d
    X, y = make_regression_1d(500, fn="sin", noise=0.05, seed=0)
    model = FNN([1, 32, 32, 1], "tanh", loss="mse", seed=0)
    model.fit(X, y, epochs=200, batch_size=32, lr=1e-2, progress=False)
    assert model.evaluate(X, y)["r2"] > 0.95
    assert model.predict(X).shape == (500,)
