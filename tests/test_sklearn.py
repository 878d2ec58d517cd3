"scikit-learn's own estimator checks, and the estimators inside Pipeline, GridSearchCV and cross_val_score."
import subprocess, sys
import numpy as np
import pytest
sklearn = pytest.importorskip("sklearn", reason="scikit-learn is an optional extra: pip install 'fnn_nbdev[data]'")
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import GridSearchCV, cross_val_score
from fnn_nbdev.sklearn import FNNClassifier, FNNRegressor
from fnn_nbdev.errors import DivergenceError, FNNError

# The checks run with the default hyperparameters except a smaller hidden layer; their data sets are small
# (at most 300 samples), so the defaults (200 epochs) stay fast. Nothing is skipped or expected to fail.
ESTIMATORS = [FNNClassifier(hidden_layer_sizes=(32,)), FNNRegressor(hidden_layer_sizes=(32,))]

@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input (NumPy namespace: dispatch on, same results) only runs with this variable set
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)

def test_import_fnn_nbdev_does_not_import_sklearn():
    code = "import sys, fnn_nbdev, fnn_nbdev.model, fnn_nbdev.train; print('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"

rng = np.random.default_rng(0)
Xc = rng.normal(size=(150, 4))
yc = np.array(["cat", "dog", "emu"])[(Xc[:, 0] > 0.3).astype(int) + (Xc[:, 1] > 0).astype(int)]
Xr = rng.normal(size=(150, 3))
yr = 100 + 40 * Xr[:, 0] - 20 * Xr[:, 1] ** 2

def test_pipeline_grid_search_and_cross_val_score():
    pipe = make_pipeline(StandardScaler(), FNNClassifier((16,), lr=1e-2, epochs=30, random_state=0))
    grid = GridSearchCV(pipe, {"fnnclassifier__hidden_layer_sizes": [(8,), (16, 16)],
                               "fnnclassifier__optimizer": ["adam", {"name": "sgd", "momentum": 0.9}]}, cv=3)
    grid.fit(Xc, yc)
    assert len(grid.cv_results_["params"]) == 4 and grid.best_score_ > 0.8
    assert set(grid.predict(Xc[:20])) <= {"cat", "dog", "emu"}
    scores = cross_val_score(make_pipeline(StandardScaler(), FNNRegressor((32,), lr=1e-2, epochs=50, random_state=0)),
                             Xr, yr, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8, scores

def test_hyperparameters_reach_the_network():
    est = FNNClassifier((5, 7), activation=["tanh", "relu"], init="xavier_uniform", l2=1e-3, dtype="float64",
                        epochs=2, batch_size=10, random_state=3).fit(Xc, yc)
    m = est.model_
    assert m.sizes == [4, 5, 7, 3] and m.activations == ["tanh", "relu", "softmax"] and m.l2 == 1e-3
    assert m.init == "xavier_uniform" and m.dtype == "float64" and est.n_epochs_ == 2
    assert type(est.model_.optimizer).__name__ == "Adam"
    sgd = FNNRegressor((4,), optimizer={"name": "sgd", "momentum": 0.5}, lr=0.05, epochs=1).fit(Xr, yr)
    assert type(sgd.model_.optimizer).__name__ == "SGD" and sgd.model_.optimizer.lr == 0.05

def test_bad_hyperparameters_fail_at_fit_naming_the_parameter():
    for est, text in [(FNNClassifier(hidden_layer_sizes=(8, 0)), "hidden_layer_sizes[1]: expected an integer >= 1, got 0"),
                      (FNNClassifier(hidden_layer_sizes="64"), "hidden_layer_sizes: expected a tuple"),
                      (FNNClassifier(activation="relux"), "activation: expected one of"),
                      (FNNClassifier(activation=["relu", "tanh"]), "activation: expected one name per hidden layer (1)"),
                      (FNNClassifier(lr=-1.0), "lr: expected a number > 0"),
                      (FNNClassifier(epochs=0), "epochs: expected an integer >= 1"),
                      (FNNClassifier(loss="mse"), "loss: expected one of 'bce', 'cross_entropy'"),
                      (FNNRegressor(loss="cross_entropy"), "loss: expected one of 'mse'"),
                      (FNNClassifier(early_stopping=True, validation_fraction=0.9), "validation_fraction: expected a number <= 0.5"),
                      (FNNClassifier(random_state=-1), "random_state: expected an integer >= 0")]:
        with pytest.raises(FNNError, match=None) as e: est.fit(Xc[:30], yc[:30] if isinstance(est, FNNClassifier) else Xr[:30, 0])
        assert text in str(e.value), str(e.value)

def test_early_stopping_stops_and_restores_the_best_weights():
    est = FNNClassifier((64,), lr=5e-2, epochs=500, early_stopping=True, patience=5, random_state=0).fit(Xc, yc)
    assert est.n_epochs_ < 500 and "val_loss" in est.history_
    best = int(np.argmin(est.history_["val_loss"]))
    assert est.n_epochs_ == best + 1 + 5

def test_same_random_state_same_model_and_none_draws_fresh():
    a, b = (FNNRegressor((8,), epochs=3, random_state=7).fit(Xr, yr) for _ in range(2))
    for p, q in zip(a.model_.params, b.model_.params): np.testing.assert_array_equal(p, q)
    state = np.random.get_state()[1].copy()
    c, d = (FNNRegressor((8,), epochs=1).fit(Xr, yr) for _ in range(2))
    assert not np.array_equal(c.model_.params[0], d.model_.params[0])
    np.testing.assert_array_equal(np.random.get_state()[1], state)     # global NumPy state untouched

def test_divergence_through_the_estimator():
    est = FNNRegressor((16,), optimizer="sgd", lr=1e6, epochs=50, standardize_y=False, random_state=0)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as e: est.fit(Xr, yr * 1e3)
    msg = str(e.value)
    assert "diverged in epoch 1" in msg and "Try a smaller learning rate" in msg
    assert all(np.isfinite(p).all() for p in est.model_.params)          # last good weights restored
    assert np.isfinite(est.predict(Xr[:5])).all()
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="diverged"):
        est2 = clone(est).set_params(on_divergence="warn").fit(Xr, yr * 1e3)
    assert est2.n_epochs_ <= 1 and all(np.isfinite(p).all() for p in est2.model_.params)

def test_feature_names_in_with_a_data_frame():
    pd = pytest.importorskip("pandas", reason="pandas is needed to make a data frame")
    df = pd.DataFrame(Xr, columns=["age", "height", "weight"])
    est = FNNRegressor((8,), epochs=2, random_state=0).fit(df, yr)
    assert list(est.feature_names_in_) == ["age", "height", "weight"]
    with pytest.warns(UserWarning, match="feature names"): est.predict(Xr[:3])
    with pytest.raises(ValueError, match="feature names"): est.predict(df[["height", "age", "weight"]])

def test_string_and_non_contiguous_labels_and_partial_fit():
    labels = np.array([-3, 7, 40])[(Xc[:, 0] > 0.3).astype(int) + (Xc[:, 1] > 0).astype(int)]
    est = FNNClassifier((16,), lr=1e-2, random_state=0)
    for _ in range(20):
        for part in np.array_split(np.arange(len(Xc)), 3): est.partial_fit(Xc[part], labels[part], classes=[-3, 7, 40])
    assert list(est.classes_) == [-3, 7, 40] and set(est.predict(Xc)) <= {-3, 7, 40}
    assert est.n_epochs_ == 60 and est.score(Xc, labels) > 0.8
    with pytest.raises(FNNError, match="y: expected labels among classes_"): est.partial_fit(Xc, np.full(len(Xc), 5))
    s = FNNClassifier((8,), epochs=5, random_state=0).fit(Xc, yc)
    assert s.predict(Xc[:4]).dtype.kind == "U" and s.predict_proba(Xc[:4]).shape == (4, 3)
    r = FNNRegressor((8,), random_state=0)
    r.partial_fit(Xr, yr)
    r.partial_fit(Xr, yr)
    assert r.n_epochs_ == 2 and r.predict(Xr[:2]).shape == (2,)
