"""Real-browser fixtures: Debian's chromium driven by the playwright package, JupyterLab 4 / Voila 0.5 on 127.0.0.1.

Never `playwright install` (it downloads browsers): we launch /usr/bin/chromium. Every request that is not to
127.0.0.1 is aborted. Servers run on a temporary copy of `widgets_demo.ipynb` (JupyterLab autosaves), in their own
process session, and are stopped with SIGTERM then SIGKILL of the group.
"""
import json, os, re, secrets, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import pytest

CHROMIUM = os.environ.get("FNN_CHROMIUM", "/usr/bin/chromium")
HERE = Path(__file__).parent
NOTEBOOK = "widgets_demo.ipynb"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
NOT_LOCAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])")


def _missing() -> str | None:
    if not Path(CHROMIUM).exists(): return f"no chromium at {CHROMIUM} (apt-get install -y chromium)"
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return "the playwright package is not installed (pip install playwright; never `playwright install`)"
    for mod in ("jupyterlab", "voila", "ipywidgets"):
        try: __import__(mod)
        except ImportError: return f"{mod} is not installed"
    return None


def pytest_collection_modifyitems(config, items):
    why = _missing()
    if why is None: return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"browser tests cannot run under CI=true: {why}")
    for item in items:
        if HERE in Path(item.fspath).parents: item.add_marker(pytest.mark.skip(reason=why))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port:int, proc, timeout:float=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None: raise RuntimeError(f"server exited with code {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0: return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop(proc):
    if proc.poll() is not None: return
    try: os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError: return
    try: proc.wait(10)
    except subprocess.TimeoutExpired:
        try: os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        proc.wait(5)


def server_env(tmp:Path) -> dict:
    env = dict(os.environ)
    for k, d in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                 ("MPLCONFIGDIR", "mpl"), ("WANDB_DIR", "wandb"), ("WANDB_CONFIG_DIR", "wandb"), ("WANDB_CACHE_DIR", "wandb")]:
        (tmp / d).mkdir(exist_ok=True)
        env[k] = str(tmp / d)
    env.setdefault("WANDB_MODE", "disabled")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(cmd:list, tmp:Path, port:int, name:str):
    log = open(tmp / f"{name}.log", "w")
    proc = subprocess.Popen(cmd, cwd=tmp, env=server_env(tmp), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try: wait_port(port, proc)
    except Exception:
        stop(proc)
        raise RuntimeError(f"{name} did not start: {(tmp / f'{name}.log').read_text()[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def new_page(browser, width=1500, height=1100):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route(NOT_LOCAL, lambda route: route.abort())
    page.set_default_timeout(30_000)
    return page


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "JupyterLab 4 serving a temporary copy of the test notebook; yields (base url, token, folder)."
    tmp = tmp_path_factory.mktemp("lab")
    shutil.copy(HERE / NOTEBOOK, tmp / NOTEBOOK)
    app = tmp / "app_settings"
    app.mkdir()
    (app / "overrides.json").write_text(json.dumps({
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True}}))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}", "--ServerApp.port_retries=0",
           f"--LabApp.user_settings_dir={tmp / 'user_settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
           f"--LabApp.app_settings_dir={app}", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    proc = start_server(cmd, tmp, port, "jupyterlab")
    yield f"http://127.0.0.1:{port}", token, tmp
    stop(proc)


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    "Voila 0.5 serving a temporary copy of the test notebook; yields (url, folder)."
    tmp = tmp_path_factory.mktemp("voila")
    shutil.copy(HERE / NOTEBOOK, tmp / NOTEBOOK)
    port = free_port()
    cmd = [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--ServerApp.port_retries=0", str(tmp / NOTEBOOK)]
    proc = start_server(cmd, tmp, port, "voila")
    yield f"http://127.0.0.1:{port}/", tmp
    stop(proc)


@pytest.fixture
def shots(request, tmp_path_factory):
    "Save a screenshot of `page` as a test artifact: shots(page, 'name')."
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    def save(page, name, locator=None):
        path = folder / f"{request.node.name}-{name}.png"
        (locator or page).screenshot(path=str(path))
        return path
    return save
