import os
import pytest

@pytest.fixture(autouse=True, scope="session")
def _quiet_wandb(tmp_path_factory):
    "W&B never touches the network or the home folder during tests."
    d = tmp_path_factory.mktemp("wandb")
    for k in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"): os.environ.setdefault(k, str(d))
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("FNN_NBDEV_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
