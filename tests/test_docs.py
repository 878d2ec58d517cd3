"""The docs site builds from the notebooks, and its pages work in a real browser.

`python tools/docs.py --out DIR` builds the site into a temp folder once (module fixture). Static checks cover every
page (images and internal links resolve, every module page shows its API); headless Chromium (Debian's
/usr/bin/chromium through PyPI playwright — never `playwright install`) opens the home page, a module page and a
tutorial page: images decode, same-site links answer 200, API blocks are rendered, formulas are typeset by the
site's own KaTeX (nothing is fetched from a CDN), signatures wrap. Screenshots stay in the pytest temp folder
(`docs_site*/screenshots`).
"""
import importlib.util, json, os, re, shutil, subprocess, sys, threading
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse, unquote

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _docs_tool():
    "tools/docs.py as a module."
    spec = importlib.util.spec_from_file_location("docs_tool", ROOT / "tools" / "docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
        super().__init__()
        self.imgs, self.links, self.ids, self.assets, self.n_math = [], [], set(), [], 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"): self.ids.add(a["id"])
        if tag == "img" and a.get("src"): self.imgs.append(a["src"])
        if tag == "a" and a.get("href"): self.links.append(a["href"])
        if tag == "script" and a.get("src"): self.assets.append(a["src"])
        if tag == "link" and a.get("rel") in ("stylesheet", "preload", "modulepreload") and a.get("href"): self.assets.append(a["href"])
        if tag == "span" and "math" in (a.get("class") or "").split(): self.n_math += 1


def _local(href):
    u = urlparse(href)
    return not (u.scheme or u.netloc or href.startswith(("mailto:", "javascript:")))


def test_every_page_has_its_images_and_links(site):
    pages = sorted(site.rglob("*.html"))
    ids = {}
    for page in pages:
        r = _Refs()
        r.feed(page.read_text())
        ids[page] = r
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
            if not target.is_file():
                problems.append(f"{page.relative_to(site)}: link {href}")
                continue
            if u.fragment and target.suffix == ".html" and target in ids and u.fragment not in ids[target].ids:
                problems.append(f"{page.relative_to(site)}: anchor {href}")
    assert not problems, "\n".join(problems[:30])


def test_site_loads_its_scripts_styles_and_fonts_from_itself(site):
    "Offline, a page may only need files of the site: KaTeX (and its fonts) is copied in, never fetched from a CDN."
    problems, with_math = [], 0
    for page in sorted(site.rglob("*.html")):
        r = _Refs()
        r.feed(page.read_text())
        problems += [f"{page.relative_to(site)}: {src}" for src in r.assets
                     if not _local(src) or not (page.parent / unquote(urlparse(src).path)).is_file()]
        if r.n_math:
            with_math += 1
            local = {Path(urlparse(a).path).name for a in r.assets if "site_libs/katex/" in a}
            if local != {"katex.min.css", "katex.min.js", "auto-render.min.js", "render.js"}:
                problems.append(f"{page.relative_to(site)}: {r.n_math} formulas, KaTeX files {sorted(local)}")
    assert not problems, "\n".join(problems[:30])
    assert with_math >= 20   # the course and most module pages have formulas
    katex = site / "site_libs" / "katex"
    fonts = re.findall(r"url\(([^)]+)\)", (katex / "katex.min.css").read_text())
    assert len(fonts) >= 20 and all((katex / f.strip("'\"")).is_file() for f in fonts)
    assert not [p for p in katex.rglob("*") if p.is_symlink()], "KaTeX copied as symlinks: the site would not move"
    assert (katex / "LICENSE").stat().st_size > 500


def _fake_katex(root:Path, fonts=True) -> Path:
    "A package folder laid out as Debian's libjs-katex: katex.min.js and fonts/ are symlinks."
    d = root / "share" / "javascript" / "katex"
    (d / "contrib").mkdir(parents=True)
    (d / "katex.js").write_text("window.katex = {};")
    (d / "katex.min.js").symlink_to("katex.js")
    (d / "katex.min.css").write_text("@font-face{src:url(fonts/KaTeX_Main-Regular.woff2)}")
    (d / "contrib" / "auto-render.js").write_text("window.renderMathInElement = () => 0;")
    (root / "share" / "fonts" / "truetype" / "katex").mkdir(parents=True)
    if fonts: (root / "share" / "fonts" / "truetype" / "katex" / "KaTeX_Main-Regular.woff2").write_bytes(b"wOF2")
    (d / "fonts").symlink_to("../../fonts/truetype/katex")
    (root / "share" / "doc" / "libjs-katex").mkdir(parents=True)
    (root / "share" / "doc" / "libjs-katex" / "copyright").write_text("Expat")
    return d


def test_katex_is_copied_from_its_package_and_pages_point_at_it(tmp_path):
    docs = _docs_tool()
    pkg = _fake_katex(tmp_path / "pkg")
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    cdn = "https://cdn.jsdelivr.net/npm/katex@0.16.11/dist"
    head = (f'<head><link rel="stylesheet" href="{cdn}/katex.min.css"><script src="{cdn}/katex.min.js" defer></script>'
            f'<script src="{cdn}/contrib/auto-render.min.js" defer></script></head><body>maths</body>')
    (site / "sub" / "page.html").write_text(head)
    (site / "plain.html").write_text("<head></head><body>no maths</body>")
    assert docs.serve_katex(site, dirs=(tmp_path / "none", pkg)) == 1
    html = (site / "sub" / "page.html").read_text()
    assert "cdn.jsdelivr" not in html and docs.offsite_assets(site) == []
    for name in ("katex.min.css", "katex.min.js", "contrib/auto-render.min.js", "render.js"):
        assert f'"../site_libs/katex/{name}"' in html
    assert html.index("katex.min.js") < html.index("render.js") < html.index("</head>")
    copied = site / "site_libs" / "katex"
    assert not (copied / "katex.min.js").is_symlink() and (copied / "katex.min.js").read_text() == "window.katex = {};"
    assert not (copied / "fonts").is_symlink() and (copied / "fonts" / "KaTeX_Main-Regular.woff2").read_bytes() == b"wOF2"
    assert (site / "plain.html").read_text() == "<head></head><body>no maths</body>"


def test_the_build_finds_what_a_page_would_fetch(tmp_path):
    "What stops the build: a script, stylesheet or ES module from the network (mermaid's, as smalldocs loads it)."
    mermaid = "https://cdn.jsdelivr.net/npm/mermaid@11.4.1/dist/mermaid.esm.min.mjs"
    (tmp_path / "a.html").write_text(f"<script type=\"module\">import mermaid from '{mermaid}';mermaid.initialize({{}});</script>"
                                     '<link rel="stylesheet" href="//cdn.example.org/x.css"><script src="site_libs/ok.js"></script>'
                                     '<a href="https://github.com/fnn-nbdev/fnn_nbdev">repo</a><link rel="icon" href="https://x.org/i.png">')
    assert _docs_tool().offsite_assets(tmp_path) == [f"a.html: {mermaid}", "a.html: //cdn.example.org/x.css"]


def test_without_katex_the_build_says_how_to_get_it(tmp_path):
    docs = _docs_tool()
    no_fonts = _fake_katex(tmp_path / "pkg", fonts=False)   # libjs-katex without fonts-katex is not enough
    for dirs in ((tmp_path / "none",), (no_fonts,)):
        with pytest.raises(SystemExit) as e: docs.find_katex(dirs)
        msg = str(e.value)
        assert "\n" not in msg and "apt-get install libjs-katex fonts-katex" in msg and "npm install" in msg


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
        if not page.exists():
            missing.append(f"{nb.name}: no page {page.name}")
            continue
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
        r = _Refs()
        r.feed(page.read_text())
        assert n_fig >= 1, f"{nb.name} has no figure"
        assert len(r.imgs) >= n_fig, f"{page.name}: {len(r.imgs)} images for {n_fig} figures"


@pytest.fixture(scope="module")
def server(site):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = partial(Quiet, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


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


def _open(browser, url):
    "A page at 1280 px with the network blocked; the log gathers page errors, console errors and blocked requests."
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = {"errors": [], "console": [], "blocked": []}
    def block(route):
        log["blocked"].append(route.request.url)
        route.abort()
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), block)   # nothing leaves the machine
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    page.on("console", lambda m: m.type == "error" and log["console"].append(m.text))
    resp = page.goto(url, wait_until="load")
    assert resp.status == 200
    page.wait_for_load_state("networkidle")
    return page, log


@pytest.mark.parametrize("path,kind", [("index.html", "home"), ("model.html", "module"), ("tutorials/backprop.html", "tutorial")])
def test_page_in_browser(site, server, browser, path, kind):
    page, log = _open(browser, server + path)
    errors = log["errors"]
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


# Visible text of the page without code: what a reader sees of the formulas (KaTeX's hidden MathML is not in it).
_PROSE = """() => {
  const code = [...document.querySelectorAll('pre, code')];
  code.forEach(e => e.style.display = 'none');
  const text = document.body.innerText;
  code.forEach(e => e.style.display = '');
  return text;
}"""
_RAW_TEX = re.compile(r"\$|\\[()\[\]]|\\[A-Za-z]{2,}")   # $, $$, \( \) \[ \], \frac, \sum, \partial, ...
# The theme's stylesheet @imports a web font from Google; offline the page falls back to the system fonts.
_OPTIONAL = ("https://fonts.googleapis.com/",)


@pytest.mark.parametrize("path,at_least", [("tutorials/backprop.html", 40), ("activations.html", 60)])
def test_formulas_are_typeset_offline(site, server, browser, path, at_least):
    page, log = _open(browser, server + path)
    page.evaluate("document.fonts.ready.then(() => true)")
    n_math = page.locator("span.math").count()
    n_katex = page.locator(".katex").count()
    assert n_math >= at_least, f"{path}: {n_math} formulas in the page, expected at least {at_least}"
    assert n_katex == n_math and page.locator("span.math:not(:has(.katex))").count() == 0, (n_math, n_katex)
    assert page.locator(".katex-display").count() >= 1 and page.locator(".katex-error").count() == 0
    cut = page.eval_on_selector_all(".katex-display", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1"
                                    " && !['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).length")
    assert cut == 0, f"{path}: {cut} display formulas wider than the column are cut off (they should scroll)"
    raw = _RAW_TEX.findall(page.evaluate(_PROSE))
    assert not raw, f"{path}: raw TeX in the text: {raw[:10]}"
    fonts = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert "KaTeX_Main" in fonts and "KaTeX_Math" in fonts, fonts
    # the second pass (site_libs/katex/render.js) typesets $…$ and $$…$$ left in HTML, once, and never inside code
    n_new = page.evaluate(r"""() => new Promise(done => {
      const before = document.querySelectorAll('.katex').length;
      const probe = document.createElement('div');
      probe.innerHTML = 'inline $w_{ij}$, display $$\\frac{\\partial L}{\\partial z}$$, code <code>$x$</code>';
      document.querySelector('main').appendChild(probe);
      const s = document.createElement('script');
      s.src = document.querySelector('script[src$="katex/render.js"]').src;
      s.onload = () => done([document.querySelectorAll('.katex').length - before, probe.querySelectorAll('.katex-display').length,
                             probe.querySelector('code').textContent]);
      document.head.appendChild(s);
    })""")
    assert n_new == [2, 1, "$x$"], n_new
    assert all(u.startswith(_OPTIONAL) for u in log["blocked"]), log["blocked"]
    assert not [m for m in log["console"] if "katex" in m.lower()] and not log["errors"], log
    assert len(log["console"]) <= len(log["blocked"]), log["console"]   # one "Failed to load resource" per blocked font
    shots = site.parent / "screenshots"
    page.locator(".katex-display").first.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"math_{Path(path).stem}.png"))
    page.close()


def test_signature_lines_are_marked_only_where_no_tag_spans_lines():
    line_spans = _docs_tool()._line_spans
    assert line_spans('<span class="kw">def</span> f(\n    x, <span class="co"># the input</span>\n):') == (
        '<span class="sig-line"><span class="kw">def</span> f(</span>\n'
        '<span class="sig-line">    x, <span class="co"># the input</span></span>\n<span class="sig-line">):</span>')
    multiline = 'def f(\n    s=<span class="st">"a\nb"</span>\n):'   # a default value with a newline in its token
    assert line_spans(multiline) == multiline


@pytest.mark.parametrize("path,long_one", [("model.html", "fnn.fit"), ("sweeps.html", "run_sweep")])
def test_signatures_wrap_at_1280px(site, server, browser, path, long_one):
    "Every show_doc signature fits its block: long ones wrap instead of scrolling sideways."
    page, _ = _open(browser, server + path)
    sigs = page.eval_on_selector_all(":is(h2, h3, h4).anchored + .code-copy-outer-scaffold pre",
                                     "els => els.map(e => [e.closest('.code-copy-outer-scaffold').previousElementSibling.id,"
                                     " e.scrollWidth, e.clientWidth])")
    assert len(sigs) >= 15, f"{path}: only {len(sigs)} signature blocks"
    wide = [(name, sw, cw) for name, sw, cw in sigs if sw > cw + 1]
    assert not wide, f"{path}: signatures wider than their block: {wide}"
    block = page.locator(f'h3[id="{long_one}"] + div pre')
    text = block.inner_text()
    assert text.startswith(f"def {long_one.split('.')[-1]}(") and text.count("\n") >= 5   # wrapping is visual: one parameter a line still
    # what wraps hangs under the parameter names (4 spaces in), at 8 characters from the left of the block
    hang = block.evaluate("""pre => {
      const zeros = document.createElement('span'); zeros.textContent = '0000000000'; pre.querySelector('code').appendChild(zeros);
      const ch = zeros.getBoundingClientRect().width / 10; zeros.remove();
      const left = pre.getBoundingClientRect().left + parseFloat(getComputedStyle(pre).paddingLeft);
      return [...pre.querySelectorAll('.sig-line')].map(line => {
        const r = document.createRange(); r.selectNodeContents(line);
        const rects = [...r.getClientRects()].filter(x => x.width > 0), top = Math.min(...rects.map(x => x.top));
        const more = rects.filter(x => x.top > top + 2);
        return more.length ? (Math.min(...more.map(x => x.left)) - left) / ch : null;
      }).filter(x => x !== null);
    }""")
    assert len(hang) >= 3 and all(7.5 <= h <= 8.5 for h in hang), f"{long_one}: wrapped parts start at {hang} characters"
    block.scroll_into_view_if_needed()
    block.screenshot(path=str(site.parent / "screenshots" / f"signature_{long_one}.png"))
    page.close()
