"Learning on real images (slow tier: CI runs it): Fashion-MNIST from Debian's dataset-fashion-mnist package."
import os
from pathlib import Path
import pytest
from fnn_nbdev.images import IMAGE_SETS
from fnn_nbdev.config import RunConfig
from fnn_nbdev.experiment import run_experiment

pytestmark = pytest.mark.slow
DEBIAN = Path("/usr/share/datasets/fashion-mnist")

@pytest.fixture()
def fashion_mnist(monkeypatch):
    "Debian's Fashion-MNIST, read from its package (required under CI=true)."
    if not all((DEBIAN / f).is_file() for f in IMAGE_SETS["fashion_mnist"]["files"]):
        if os.environ.get("CI", "").lower() == "true": pytest.fail(f"Debian's dataset-fashion-mnist is missing under CI=true ({DEBIAN})")
        pytest.skip("Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.delenv("FNN_DATA_DIR", raising=False)   # the package's files, not a copy elsewhere
    return DEBIAN

def test_fashion_mnist_reaches_88_percent_in_10_epochs(fashion_mnist):
    """784-256-128-10 ReLU, Adam at 2e-3 with a cosine decay over 10 epochs, batch 128, on all 60 000 training images
    (pixels in [0, 1]), tested on the official 10 000: 89.5-89.6 % on seeds 0-2, about 9 s of one core with the data
    loading. (At a constant 1e-3 the same network is at 87.9-88.2 % after 10 epochs: too close to the threshold.)"""
    from threadpoolctl import threadpool_limits
    cfg = RunConfig(dataset="fashion_mnist", val_fraction=0.0, standardize=False, hidden=[256, 128], optimizer="adam",
                    lr=2e-3, lr_schedule="cosine", batch_size=128, epochs=10, seed=0)
    with threadpool_limits(1):   # small matmuls: one BLAS thread is fastest, and on a busy machine by far
        result = run_experiment(cfg, progress=False)
    assert (len(result.data["train"][0]), len(result.data["test"][0])) == (60000, 10000)
    assert len(result.history["loss"]) == 10 and result.history["loss"][-1] < result.history["loss"][0]
    assert result.final["test_accuracy"] >= 0.88, result.final
