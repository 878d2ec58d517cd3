"""Real images from IDX files: the reader on good and damaged files, where files are looked for, downloads through a
local HTTP server (never the network), the real Fashion-MNIST from Debian's package, and the `fnn datasets` command."""
import contextlib, gzip, hashlib, io, json, os, struct, subprocess, sys, threading, tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import numpy as np
import pytest
from fnn_nbdev.errors import ConfigError, DataError
from fnn_nbdev import images
from fnn_nbdev.images import IMAGE_SETS, IDX_FILES, image_set_status, load_image_set, read_idx, read_images_labels
from fnn_nbdev.data import DATASETS, load_dataset
from fnn_nbdev.config import RunConfig
from fnn_nbdev.cli import main

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FNN = str(Path(sys.executable).with_name("fnn"))

# The IDX bytes are built here by hand (not with images.write_idx), so the reader is checked against the format itself.
def idx_bytes(a:np.ndarray, code:int=0x08) -> bytes:
    return struct.pack(f">2xBB{a.ndim}I", code, a.ndim, *a.shape) + a.astype(np.uint8).tobytes()

def write_set(folder:Path, n=(6, 4), label=None, gz=True) -> Path:
    "A small image set: train and test images whose pixel [0, 0] is the sample's index, labels i % 10 (or all `label`)."
    folder.mkdir(parents=True, exist_ok=True)
    for (im, lb), k in zip(IDX_FILES.values(), n):
        X = np.zeros((k, 28, 28), np.uint8)
        X[:, 0, 0] = np.arange(k)
        X[:, 27, 27] = 255
        y = np.arange(k) % 10 if label is None else np.full(k, label)
        for base, a in ((im, X), (lb, y)):
            raw = idx_bytes(a)
            (folder / (base + ".gz" if gz else base)).write_bytes(gzip.compress(raw) if gz else raw)
    return folder

def published(folder:Path) -> dict:
    "The `files` entry of IMAGE_SETS for the .gz files in `folder`: (bytes, SHA-256) of each."
    names = [f"{b}.gz" for pair in IDX_FILES.values() for b in pair]       # in the published order, train first
    return {p.name: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in (folder / n for n in names) if p.is_file()}

@pytest.fixture()
def env(monkeypatch, tmp_path):
    "A machine with nothing on it: an empty cache, no FNN_DATA_DIR, Debian's folder replaced by an empty one."
    monkeypatch.setenv("FNN_NBDEV_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FNN_DATA_DIR", raising=False)
    monkeypatch.setitem(IMAGE_SETS["fashion_mnist"], "system_dirs", (str(tmp_path / "debian"),))
    return tmp_path


# --- the IDX reader ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_reads_gzip_and_plain_files_whatever_their_name(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(a)
    for name in ("x.gz", "x"):
        (tmp_path / name).write_bytes(gzip.compress(raw) if gz else raw)
        got = read_idx(tmp_path / name, ndim=3)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4) and np.array_equal(got, a)

def _damaged():
    good = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    huge = struct.pack(">2xBB3I", 8, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(24)
    return {
        "truncated data": (good[:-1], "expected 24 bytes of data (the header declares shape (2, 3, 4)), got '23 bytes'"),
        "truncated header": (good[:9], "expected a header of 16 bytes, got '9 bytes'"),
        "foreign magic": (b"PK\x03\x04" + good[4:], "got 'first bytes 50 4b 03 04'"),
        "empty file": (b"", "got 'first bytes (none)'"),
        "type code float32": (good[:2] + b"\x0d" + good[3:], "expected type code 0x08 (unsigned bytes), got 'type code 0x0d (32-bit floats)'"),
        "more bytes than declared": (good + b"\x00\x00", "The file holds more than its header declares"),
        "header claims more than the file holds": (huge, "got '24 bytes'. The file is truncated"),
    }

@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", list(_damaged()))
def test_damaged_files_are_refused_naming_the_file(tmp_path, case, gz):
    data, text = _damaged()[case]
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if gz else data)
    tracemalloc.start()
    with pytest.raises(DataError) as e: read_idx(path, ndim=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(e.value).startswith(f"{path}: expected "), str(e.value)
    assert text in str(e.value), str(e.value)
    assert peak < 4 * 2**20, peak                       # never what a header claims, at most a read chunk

def test_wrong_ndim_and_broken_gzip_stream(tmp_path):
    (tmp_path / "labels").write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)))
    with pytest.raises(DataError, match="expected 3 dimension"): read_idx(tmp_path / "labels", ndim=3)
    (tmp_path / "cut.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((100, 28, 28), np.uint8)))[:-40])
    with pytest.raises(DataError, match="complete gzip stream"): read_idx(tmp_path / "cut.gz")
    with pytest.raises(DataError, match="FileNotFoundError"): read_idx(tmp_path / "missing")

def test_images_and_labels_must_agree(tmp_path):
    X, X20 = np.zeros((3, 28, 28), np.uint8), np.zeros((3, 20, 20), np.uint8)
    files = {"X": X, "X20": X20, "y3": np.array([0, 1, 9]), "y2": np.array([0, 1]), "y10": np.array([0, 1, 10])}
    for k, a in files.items(): (tmp_path / k).write_bytes(idx_bytes(a))
    X_, y_ = read_images_labels(tmp_path / "X", tmp_path / "y3")
    assert X_.shape == (3, 28, 28) and y_.dtype == np.int64 and y_.tolist() == [0, 1, 9]
    for im, lb, text in (("X", "y2", f"{tmp_path / 'y2'}: expected 3 labels, one per image in X, got 2"),
                         ("X", "y10", f"{tmp_path / 'y10'}: expected labels 0..9, got 10"),
                         ("X20", "y3", f"{tmp_path / 'X20'}: expected images of 28 x 28 pixels, got '20 x 20 pixels'")):
        with pytest.raises(DataError) as e: read_images_labels(tmp_path / im, tmp_path / lb)
        assert text in str(e.value), str(e.value)


# --- where files are looked for -----------------------------------------------------------------------------------

def test_search_order(env, monkeypatch):
    "data_dir beats $FNN_DATA_DIR/<name> beats the cache ($FNN_NBDEV_CACHE, else $XDG_CACHE_HOME/fnn_nbdev) beats Debian."
    monkeypatch.delenv("FNN_NBDEV_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(env / "xdg"))
    monkeypatch.setenv("FNN_DATA_DIR", str(env / "shared"))
    places = [env / "mine", env / "shared" / "fashion_mnist", env / "xdg" / "fnn_nbdev" / "fashion_mnist", env / "debian"]
    assert [Path(p) for p in image_set_status("fashion_mnist", env / "mine")["searched"]] == places
    for label, folder in reversed(list(enumerate(places))):
        write_set(folder, label=label, gz=label % 2 == 0)       # alternately gzip'd and plain
        st = image_set_status("fashion_mnist", env / "mine")
        assert st["available"] and Path(st["folder"]) == folder
        assert set(load_image_set("fashion_mnist", "test", data_dir=env / "mine")[1].tolist()) == {label}
    monkeypatch.setenv("FNN_NBDEV_CACHE", str(env / "own-cache"))   # the package's own variable beats XDG
    assert Path(image_set_status("fashion_mnist")["searched"][1]) == env / "own-cache" / "fashion_mnist"
    monkeypatch.delenv("FNN_NBDEV_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as XDG says
    assert Path(image_set_status("fashion_mnist")["searched"][1]) == Path.home() / ".cache" / "fnn_nbdev" / "fashion_mnist"

def test_a_folder_missing_one_file_is_passed_over(env):
    write_set(env / "mine")
    (env / "mine" / "t10k-labels-idx1-ubyte.gz").unlink()
    write_set(env / "debian", label=3)
    assert Path(image_set_status("fashion_mnist", env / "mine")["folder"]) == env / "debian"

def test_missing_files_say_where_they_were_looked_for_and_how_to_get_them(env):
    for name in IMAGE_SETS:
        with pytest.raises(DataError) as e: load_dataset(name, data_dir=env / "mine")
        msg = str(e.value)
        assert msg.startswith("name: expected an image set whose four IDX files are on this machine")
        for text in (str(env / "mine"), str(env / "cache" / name), f"load_dataset({name!r}, download=True)", f"fnn datasets --download {name}"):
            assert text in msg, msg
    assert str(env / "debian") in msg and "dataset-fashion-mnist" in msg
    assert not (env / "mine").exists() and not (env / "cache").exists()     # nothing was created, nothing downloaded


# --- downloads, through a local server ----------------------------------------------------------------------------

@pytest.fixture()
def server(tmp_path):
    "An HTTP server on 127.0.0.1 serving /good/<file> from a folder; /broken/ answers 500, /missing/ 404, /short/ hangs up half-way."
    served = write_set(tmp_path / "served", label=7)
    requests = []
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            requests.append(self.path)
            kind, _, name = self.path.strip("/").partition("/")
            f = served / name
            if kind in ("broken", "missing") or not f.is_file(): return self.send_error(500 if kind == "broken" else 404)
            data = f.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2] if kind == "short" else data)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True).start()
    yield dict(url=f"http://127.0.0.1:{httpd.server_address[1]}", files=published(served), requests=requests, folder=served)
    httpd.shutdown()
    httpd.server_close()

def _use(monkeypatch, server, *kinds, files=None):
    monkeypatch.setitem(IMAGE_SETS["mnist"], "mirrors", tuple(f"{server['url']}/{k}/" for k in kinds))
    monkeypatch.setitem(IMAGE_SETS["mnist"], "files", files or server["files"])

def test_no_download_unless_asked(env, server, monkeypatch):
    _use(monkeypatch, server, "good")
    with pytest.raises(DataError, match="download=True"): load_dataset("mnist")
    with pytest.raises(DataError): load_image_set("mnist", "train")
    assert server["requests"] == []

def test_download_tries_the_next_mirror_then_loads(env, server, monkeypatch):
    _use(monkeypatch, server, "broken", "short", "good")
    X, y = load_dataset("mnist", download=True)
    assert X.shape == (10, 784) and X.dtype == np.float32 and y.dtype == np.int64 and set(y.tolist()) == {7}
    assert X.min() == 0 and X.max() == 1 and np.array_equal(np.round(X[:, 0] * 255), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])  # train first, in order
    cache = env / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(server["files"])             # the four files, nothing else
    assert all(published(cache)[f] == server["files"][f] for f in server["files"])
    assert [r.split("/")[1] for r in server["requests"]] == ["broken", "short", "good"] * 4
    load_dataset("mnist", "test", download=True)
    assert len(server["requests"]) == 12                                                   # found: not fetched again

def test_an_interrupted_download_resumes(env, server, monkeypatch):
    _use(monkeypatch, server, "good")
    cache = images.download_image_set("mnist")
    (cache / "t10k-images-idx3-ubyte.gz").unlink()
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    server["requests"].clear()
    images.download_image_set("mnist", verbose=True)
    assert sorted(r.split("/")[2] for r in server["requests"]) == ["t10k-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert published(cache) == server["files"]

def test_download_into_data_dir(env, server, monkeypatch):
    _use(monkeypatch, server, "good")
    X, _ = load_dataset("mnist", "train", data_dir=env / "mine", download=True)
    assert len(X) == 6 and published(env / "mine") == server["files"] and not (env / "cache").exists()

@pytest.mark.parametrize("kinds", [("good",), ("short", "good"), ("broken", "good")])
def test_a_wrong_checksum_keeps_nothing(env, server, monkeypatch, kinds):
    files = dict(server["files"])
    size, digest = files["t10k-images-idx3-ubyte.gz"]
    files["t10k-images-idx3-ubyte.gz"] = (size, "ab" * 32)
    _use(monkeypatch, server, *kinds, files=files)
    with pytest.raises(DataError) as e: load_dataset("mnist", download=True)
    msg = str(e.value)
    assert msg.startswith(f"t10k-images-idx3-ubyte.gz: expected SHA-256 {'ab' * 32}, got '{digest}'"), msg
    cache = env / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # complete, verified ones only
    assert published(cache) == {k: v for k, v in files.items() if k.startswith("train")}

def test_more_bytes_than_published_are_refused(env, server, monkeypatch):
    files = {k: (size - 5, d) for k, (size, d) in server["files"].items()}
    _use(monkeypatch, server, "good", files=files)
    with pytest.raises(DataError) as e: images.download_image_set("mnist")
    assert str(e.value).startswith("train-images-idx3-ubyte.gz: expected ") and "bytes, got 'more than " in str(e.value), str(e.value)
    assert list((env / "cache" / "mnist").iterdir()) == []

def test_no_mirror_answers(env, server, monkeypatch):
    _use(monkeypatch, server, "broken", "missing")
    monkeypatch.setitem(IMAGE_SETS["mnist"], "mirrors", IMAGE_SETS["mnist"]["mirrors"] + ("http://127.0.0.1:1/",))  # nobody listens
    with pytest.raises(DataError) as e: images.download_image_set("mnist", timeout=5)
    msg = str(e.value)
    assert msg.startswith("train-images-idx3-ubyte.gz: expected a download from one of the 3 mirrors, got 'no answer'")
    assert "HTTP Error 500" in msg and "HTTP Error 404" in msg and "Connection refused" in msg, msg
    assert list((env / "cache" / "mnist").iterdir()) == []

def test_a_download_cut_short_keeps_nothing(env, server, monkeypatch):
    _use(monkeypatch, server, "short")
    with pytest.raises(DataError) as e: images.download_image_set("mnist")
    assert str(e.value).startswith("train-images-idx3-ubyte.gz: expected ") and "/short/" in str(e.value)
    assert list((env / "cache" / "mnist").iterdir()) == []

def test_the_cli_downloads_and_reports_with_exit_codes(env, server, monkeypatch):
    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: code = main(list(argv))
            except SystemExit as e: code = e.code
        return code, out.getvalue(), err.getvalue()
    _use(monkeypatch, server, "broken")
    code, out, err = run("datasets", "--download", "mnist")
    assert code == 2 and err.startswith("fnn datasets: error: train-images-idx3-ubyte.gz") and err.count("\n") == 1, err
    _use(monkeypatch, server, "good")
    code, out, err = run("datasets", "--download", "mnist")
    assert code == 0 and out == f"mnist: {env / 'cache' / 'mnist'}\n" and err.count("\n") == 4
    code, out, _ = run("datasets")
    assert code == 0 and f"available in {env / 'cache' / 'mnist'}" in out and "fnn datasets --download fashion_mnist" in out


# --- `fnn datasets` as a user runs it -------------------------------------------------------------------------------

def test_fnn_datasets_lists_every_set_and_where_the_images_are(tmp_path):
    write_set(tmp_path / "shared" / "mnist")
    e = dict(os.environ, FNN_DATA_DIR=str(tmp_path / "shared"), FNN_NBDEV_CACHE=str(tmp_path / "cache"))
    r = subprocess.run([FNN, "datasets"], capture_output=True, text=True, env=e, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for name, info in DATASETS.items():
        assert any(l.split()[:2] == [name, info["task"]] and info["description"] in l for l in lines), name
    i = next(i for i, l in enumerate(lines) if l.startswith("mnist "))
    assert lines[i + 1].strip() == f"available in {tmp_path / 'shared' / 'mnist'}"
    j = next(i for i, l in enumerate(lines) if l.startswith("fashion_mnist "))
    assert lines[j + 1].strip() in (f"available in {DEBIAN}", "not on this machine: fnn datasets --download fashion_mnist")

def test_fnn_datasets_download_refuses_an_unknown_name():
    r = subprocess.run([FNN, "datasets", "--download", "cifar10"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice: 'cifar10'" in r.stderr and r.stderr.count("\n") == 1


# --- load_dataset's split, and RunConfig.build_data --------------------------------------------------------------------

def test_split_is_refused_where_there_is_no_official_one():
    no_split = r"split: expected None for 'moons', which has no official split \(sets with one: mnist1d, mnist, fashion_mnist\)"
    with pytest.raises(ConfigError, match=no_split):
        load_dataset("moons", split="train")
    with pytest.raises(ConfigError, match="split: expected one of 'test', 'train', got 'val'"): load_dataset("fashion_mnist", "val")
    with pytest.raises(ConfigError, match="split: expected one of 'test', 'train'"): load_dataset("mnist1d", split="all")
    with pytest.raises(ConfigError, match="data_dir: expected no files to read or download for 'digits'"): load_dataset("digits", data_dir="/x")
    with pytest.raises(ConfigError, match="download: expected no files"): load_dataset("xor", download=True)
    assert [n for n, d in DATASETS.items() if d["split"]] == ["mnist1d", "mnist", "fashion_mnist"]
    assert DATASETS["mnist"]["split"] == DATASETS["fashion_mnist"]["split"] == (60000, 10000)

def test_build_data_keeps_the_official_test_set(env, monkeypatch):
    monkeypatch.setenv("FNN_DATA_DIR", str(env / "shared"))
    write_set(env / "shared" / "mnist", n=(50, 20))
    d = RunConfig(dataset="mnist", val_fraction=0.2, test_fraction=0.3, standardize=False).build_data()
    assert len(d["test"][0]) == 20 and len(d["train"][0]) + len(d["val"][0]) == 50
    assert sorted((d["test"][0][:, 0] * 255).round().astype(int).tolist()) == list(range(20))   # the t10k images, all of them
    assert d["info"] is DATASETS["mnist"]


# --- the real Fashion-MNIST ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def debian():
    if not all((DEBIAN / f).is_file() for f in IMAGE_SETS["fashion_mnist"]["files"]):
        if os.environ.get("CI", "").lower() == "true": pytest.fail(f"Debian's dataset-fashion-mnist is missing under CI=true ({DEBIAN})")
        pytest.skip("Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    return DEBIAN

def test_real_fashion_mnist(debian, monkeypatch, tmp_path):
    monkeypatch.setenv("FNN_NBDEV_CACHE", str(tmp_path))
    monkeypatch.delenv("FNN_DATA_DIR", raising=False)
    assert image_set_status("fashion_mnist")["folder"] == str(debian)
    X, y = load_dataset("fashion_mnist")                      # all 70 000, train first: read once
    assert X.shape == (70000, 784) and X.dtype == np.float32 and y.shape == (70000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and X.flags.c_contiguous
    assert np.bincount(y[:60000]).tolist() == [6000] * 10 and np.bincount(y[60000:]).tolist() == [1000] * 10
    X_te, y_te = load_dataset("fashion_mnist", "test")
    assert np.array_equal(X_te, X[60000:]) and np.array_equal(y_te, y[60000:])
    assert DATASETS["fashion_mnist"]["class_names"] == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

def test_the_published_digests_match_debian_once_its_gzip_header_is_restored(debian):
    "Debian's .gz files lack the name and time stamp of the published ones' gzip header; the compressed data is the same."
    mtime = {"train": 1504176606, "t10k": 1504176627}
    for fname, (size, digest) in IMAGE_SETS["fashion_mnist"]["files"].items():
        raw = (debian / fname).read_bytes()
        assert raw[:4] == b"\x1f\x8b\x08\x00"
        rebuilt = raw[:3] + b"\x08" + struct.pack("<I", mtime[fname.split("-")[0]]) + raw[8:10] + fname[:-3].encode() + b"\0" + raw[10:]
        assert (len(rebuilt), hashlib.sha256(rebuilt).hexdigest()) == (size, digest), fname

def test_fnn_train_on_fashion_mnist_from_a_fresh_clone(debian, tmp_path):
    e = dict(os.environ, FNN_NBDEV_CACHE=str(tmp_path))
    e.pop("FNN_DATA_DIR", None)
    r = subprocess.run([FNN, "train", "--dataset", "fashion_mnist", "--epochs", "1", "--hidden", "32", "--batch-size", "256",
                        "--no-progress", "--json"], capture_output=True, text=True, env=e, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["metrics"]["test"]["accuracy"] > 0.7
