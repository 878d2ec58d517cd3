"""The docs site builds from the notebooks, and its pages work in a real browser.

`python tools/docs.py --out DIR` builds the site into a temp folder once (module fixture). Static checks cover every
page (images and internal links resolve, every module page shows its API); headless Chromium (Debian's
/usr/bin/chromium through PyPI playwright — never `playwright install`) opens the home page, a module page and a
tutorial page: images decode, same-site links answer 200, API blocks are rendered. Screenshots stay in the pytest
temp folder (`docs_site*/screenshots`).
"""
import json, os, re, shutil, subprocess, sys, threading
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlparse, unquote

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _module_notebooks():
    "Numbered notebooks that export a module (they must show an API)."
    out = []
    for nb in sorted(NBS.glob("[0-9]*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        src = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        if any(re.search(r"^#\|\s*export\b", s, re.M) for s in src): out.append(nb)
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("docs_site")
    out, work = base / "_docs", base / "_proc"
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "docs.py"), "--out", str(out), "--work", str(work), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (base / "screenshots").mkdir()
    return out


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(); self.imgs, self.links, self.ids = [], [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"): self.ids.add(a["id"])
        if tag == "img" and a.get("src"): self.imgs.append(a["src"])
        if tag == "a" and a.get("href"): self.links.append(a["href"])


def _local(href):
    u = urlparse(href)
    return not (u.scheme or u.netloc or href.startswith(("mailto:", "javascript:")))


def test_every_page_has_its_images_and_links(site):
    pages = sorted(site.rglob("*.html"))
    ids = {}
    for page in pages:
        r = _Refs(); r.feed(page.read_text()); ids[page] = r
    problems = []
    for page, r in ids.items():
        for src in r.imgs:
            if src.startswith("data:"): continue
            if _local(src) and not (page.parent / unquote(urlparse(src).path)).is_file(): problems.append(f"{page.name}: image {src}")
        for href in r.links:
            if not _local(href) or href.startswith("#"): continue
            u = urlparse(href)
            target = (page.parent / unquote(u.path)).resolve()
            if target.is_dir(): target = target / "index.html"
            if not target.is_file(): problems.append(f"{page.relative_to(site)}: link {href}"); continue
            if u.fragment and target.suffix == ".html" and target in ids and u.fragment not in ids[target].ids:
                problems.append(f"{page.relative_to(site)}: anchor {href}")
    assert not problems, "\n".join(problems[:30])


def test_sidebar_lists_every_notebook_in_order():
    cfg = yaml.safe_load((NBS / "_quarto.yml").read_text())
    sections = {s["section"]: s["contents"] for s in cfg["website"]["sidebar"]["contents"] if isinstance(s, dict)}
    assert cfg["website"]["sidebar"]["contents"][0] == "index.ipynb"
    assert list(sections) == ["The course", "Library reference"]
    course, ref = sections["The course"], sections["Library reference"]
    assert course == sorted(course) and ref == sorted(ref)
    have = {str(p.relative_to(NBS)) for p in NBS.rglob("*.ipynb")
            if not any(part.startswith(("_", ".")) for part in p.relative_to(NBS).parts)} - {"index.ipynb"}
    assert have <= set(course) | set(ref), f"not in the sidebar of nbs/_quarto.yml: {sorted(have - set(course) - set(ref))}"


def test_module_pages_show_their_api(site):
    "Each module page has show_doc blocks: a heading per exported name, its signature with documented parameters."
    missing = []
    for nb in _module_notebooks():
        page = site / (re.sub(r"^\d+_", "", nb.stem) + ".html")
        if not page.exists(): missing.append(f"{nb.name}: no page {page.name}"); continue
        html = page.read_text()
        # nbdev's show_doc renders a level-3 heading with the name, then the signature in a code block
        n_api = len(re.findall(r'<h[34] id="[^"]+" class="anchored"', html))
        if n_api == 0: missing.append(f"{page.name}: no API sections")
    assert not missing, "\n".join(missing)
    html = (site / "model.html").read_text()
    # nbdev 3's show_doc: the name as a heading, then the signature with each parameter's docment as a comment
    sig = re.search(r'<h3 id="fnn.fit"[^>]*>FNN.fit</h3>\s*<div[^>]*>.*?</pre>', html, re.S)   # a method of FNN, by its name
    assert sig, "no signature block after the heading of FNN.fit"
    text = re.sub(r"<[^>]+>", "", sig.group(0))
    assert "def fit(" in text and "batch_size" in text and "# samples per gradient step" in text


def test_tutorial_pages_show_figures(site):
    "Every figure saved in a tutorial notebook appears on its page."
    tuts = sorted((NBS / "tutorials").glob("[0-9]*.ipynb"))
    assert len(tuts) >= 7
    for nb in tuts:
        n_fig = sum("image/png" in o.get("data", {}) for c in json.loads(nb.read_text())["cells"] for o in c.get("outputs", []))
        page = site / "tutorials" / (re.sub(r"^\d+_", "", nb.stem) + ".html")
        r = _Refs(); r.feed(page.read_text())
        assert n_fig >= 1, f"{nb.name} has no figure"
        assert len(r.imgs) >= n_fig, f"{page.name}: {len(r.imgs)} images for {n_fig} figures"


@pytest.fixture(scope="module")
def server(site):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = partial(Quiet, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True); t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown(); httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true": pytest.fail("chromium is missing under CI=true (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium to run the browser checks)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.mark.parametrize("path,kind", [("index.html", "home"), ("model.html", "module"), ("tutorials/backprop.html", "tutorial")])
def test_page_in_browser(site, server, browser, path, kind):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), lambda r: r.abort())   # nothing leaves the machine
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    resp = page.goto(server + path, wait_until="load")
    assert resp.status == 200
    page.wait_for_load_state("networkidle")
    # images: every <img> decoded (a broken one has naturalWidth 0)
    imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src').slice(0, 60), e.complete && e.naturalWidth > 0])")
    broken = [src for src, ok in imgs if not ok]
    assert not broken, f"broken images on {path}: {broken}"
    # links: every same-site link answers 200
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    local = sorted({h.split("#")[0] for h in hrefs if h.startswith(server)})
    bad = [h for h in local if page.request.get(h).status != 200]
    assert not bad, f"broken links on {path}: {bad}"
    # the sidebar orders the course: home, then the tutorials, then the reference
    sidebar = page.eval_on_selector_all("#quarto-sidebar a[href]", "els => els.map(e => e.href)")
    order = [h[len(server):] for h in sidebar if h.startswith(server) and h.endswith(".html")]
    first_tut = next(i for i, h in enumerate(order) if "tutorials/" in h)
    first_ref = order.index("errors.html")
    assert order[0] == "index.html" and first_tut < first_ref
    if kind == "module":
        assert page.locator("h3#fnn").count() == 1 and page.locator('h3[id="fnn.fit"]').count() == 1
        sig = page.locator('h3[id="fnn.fit"] + div pre').inner_text()
        assert "def fit(" in sig and "# samples per gradient step" in sig
    if kind == "tutorial":
        assert len(imgs) >= 1 and page.get_by_text("After this notebook you can").count() >= 1
    if kind == "home":
        assert page.get_by_text("The course").count() >= 1
    assert not errors, errors
    shots = site.parent / "screenshots"
    page.screenshot(path=str(shots / f"{kind}.png"), full_page=False)
    page.screenshot(path=str(shots / f"{kind}_full.png"), full_page=True)
    page.close()
