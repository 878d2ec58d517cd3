"""Build the documentation site from the notebooks — without Quarto.

    python tools/docs.py                  # writes the site to _docs/ (open _docs/index.html)
    python tools/docs.py --out DIR        # somewhere else (the docs test builds into a temp folder)

Two steps, both pure Python:

1. nbdev's notebook processing — what `nbdev-proc-nbs` does: every exported function and class gets a `show_doc`
   (signature, docstring, a table of the documented parameters), the export and import cells are run to render
   them, `#|` directives and hidden cells are removed. The processed notebooks go to a work folder (`_proc/`).
2. `smalldocs render` turns the processed notebooks into HTML pages, laid out by `nbs/_quarto.yml` (sidebar: home,
   the course, the library reference) and styled by `nbs/styles.css`. Only saved outputs show: if a notebook's
   figures are stale, refresh them first with `nbdev-test --save --flags slow nbs/NN_x.ipynb`, then `nbdev-clean`.

Then the pages are finished: nbdev's links to the published site point at the local pages, each line of a show_doc
signature is marked so that a long one wraps with a hanging indent (`nbs/styles.css`), and the site is made to work
offline. smalldocs' pages load KaTeX from a CDN; the build copies KaTeX from a registry package instead — Debian's
`libjs-katex` + `fonts-katex`, or npm's `katex` installed in the project folder — into `site_libs/katex/` and points
the pages at it (KaTeX files are never committed). Without either package the build stops and says how to get one:
a site whose formulas silently depend on a CDN is what a classroom without internet would get. Any other script or
stylesheet a page would load from the network (mermaid's, say) stops the build too.

Where Quarto is installed, `nbdev-docs` builds the site from the same `nbs/_quarto.yml`.

Unlike the stock `nbdev-proc-nbs`, a cell that mixes imports with other code is not executed during step 1 (nbdev
would run it, out of context, and stop with a NameError): its saved outputs are shown as they are. Such cells are
listed, so they can be split (keep imports in their own cells).
"""
import argparse, ast, os, re, shutil, subprocess, sys, time, warnings
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
_SHOW_DIRS = {"export", "exports", "exporti", "exec_doc"}


def _patch_nbdev(mixed:list):
    "Run only pure import cells, export cells and show_doc cells while processing (see the module docstring)."
    import nbdev.processors as P
    def _do_eval(cell):
        if P.cell_lang(cell) != "python" or cell.cell_type != "code" or not cell.source: return
        if "nbdev_export" + "()" in cell.source: return
        trees = cell.parsed_()
        if not trees or cell.directives_.get("eval", "").lower() == "false": return
        if cell.directives_.keys() & _SHOW_DIRS: return True
        if P._show_docs(trees): return True
        if P._ast_contains(trees, (ast.Import, ast.ImportFrom)):
            if all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees): return True
            mixed.append(cell.source.splitlines()[0])
    P._do_eval = _do_eval


def notebooks() -> list:
    "The notebooks of the site, as nbdev finds them: files and folders starting with `_` or `.` are skipped."
    return sorted(p for p in NBS.rglob("*.ipynb")
                  if not any(part.startswith(("_", ".")) for part in p.relative_to(NBS).parts))


def sidebar_pages(cfg:dict) -> list:
    "Every page named in the sidebar of a `_quarto.yml` dict, in order."
    out = []
    def walk(items):
        for it in items:
            if isinstance(it, str): out.append(it)
            elif isinstance(it, dict):
                if isinstance(it.get("href"), str): out.append(it["href"])
                walk(it.get("contents", []) if isinstance(it.get("contents"), list) else [])
    walk(cfg["website"]["sidebar"]["contents"])
    return out


def process(work:Path, quiet=False) -> dict:
    "Step 1: processed notebooks, `_quarto.yml` and the other files of `nbs/` into `work`."
    from nbdev.serve_drv import exec_nb
    from nbdev.processors import FilterDefaults
    if work.exists(): shutil.rmtree(work)
    work.mkdir(parents=True)
    for src in NBS.rglob("*"):   # styles.css, images, ...
        rel = src.relative_to(NBS)
        if src.is_file() and src.suffix != ".ipynb" and not any(p.startswith(".") for p in rel.parts) \
                and (not rel.parts[0].startswith("_") or rel.name == "_quarto.yml") and src.name not in ("nbdev.yml", "sidebar.yml"):
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    cfg = yaml.safe_load((NBS / "_quarto.yml").read_text())
    pages = sidebar_pages(cfg)
    missing = [p for p in pages if not (NBS / p).exists()]
    if missing:   # e.g. a notebook still being written: leave it out of this build, say so
        print("docs: not in this build (no notebook yet):", ", ".join(missing))
        def keep(items):
            res = []
            for it in items:
                if isinstance(it, str):
                    if it not in missing: res.append(it)
                elif isinstance(it, dict) and isinstance(it.get("contents"), list):
                    res.append({**it, "contents": keep(it["contents"])})
                elif not (isinstance(it, dict) and it.get("href") in missing): res.append(it)
            return res
        cfg["website"]["sidebar"]["contents"] = keep(cfg["website"]["sidebar"]["contents"])
        cfg["website"]["navbar"]["left"] = [e for e in cfg["website"]["navbar"].get("left", []) if e.get("href") not in missing]
    (work / "_quarto.yml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    mixed_by_nb = {}
    old_cwd = os.getcwd()
    os.chdir(ROOT)
    os.environ["IN_TEST"] = "1"
    try:
        for nb in notebooks():
            mixed = []
            _patch_nbdev(mixed)
            dst = work / nb.relative_to(NBS)
            dst.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec_nb(nb, dst, FilterDefaults)
            if mixed: mixed_by_nb[str(nb.relative_to(NBS))] = mixed
            _static_widgets(dst)
    finally:
        os.environ.pop("IN_TEST", None)
        os.chdir(old_cwd)
    renamed = _use_output_files(work)
    def rename(items):
        for i, it in enumerate(items):
            if isinstance(it, str): items[i] = renamed.get(it, it)
            elif isinstance(it, dict):
                if it.get("href") in renamed: it["href"] = renamed[it["href"]]
                if isinstance(it.get("contents"), list): rename(it["contents"])
    rename(cfg["website"]["sidebar"]["contents"])
    rename(cfg["website"]["navbar"].get("left", []))
    (work / "_quarto.yml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    if mixed_by_nb and not quiet:
        print("docs: cells mixing imports and code were shown with their saved outputs, not run:")
        for nb, cells in mixed_by_nb.items(): print(f"  {nb}: " + "; ".join(c[:60] for c in cells))
    return cfg


WIDGET_NOTE = "*An interactive widget appears here when the notebook runs in Jupyter (JupyterLab or Voilà).*"

def _static_widgets(nb_path:Path):
    "A static page cannot run widgets: show a one-line note instead of the widget's text repr (`HBox(children=…`)."
    import json
    nb = json.loads(nb_path.read_text())
    changed = False
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                out["data"] = {"text/markdown": WIDGET_NOTE}
                changed = True
    if changed: nb_path.write_text(json.dumps(nb, indent=1))


def _use_output_files(work:Path) -> dict:
    "Rename each processed notebook to the page name nbdev gave it (`12_model.ipynb` → `model.ipynb`, as Quarto names it)."
    import json
    renamed = {}
    for nb in sorted(work.rglob("*.ipynb")):
        cells = json.loads(nb.read_text()).get("cells", [])
        m = re.search(r"^output-file:\s*(\S+)\.html\s*$", "".join(cells[0]["source"]) if cells else "", re.M)
        if m and m.group(1) != nb.stem:
            new = nb.with_name(m.group(1) + ".ipynb")
            nb.rename(new)
            renamed[str(nb.relative_to(work))] = str(new.relative_to(work))
    return renamed


def _fix_links(out:Path, site_url:str):
    """nbdev links names in the text to the published site (`site-url`): point them at the local pages instead, and
    at the top of the page when the name has no section of its own there (methods and helpers without `show_doc`)."""
    base = site_url.rstrip("/") + "/"
    pages = {p: p.read_text() for p in out.rglob("*.html")}
    ids = {p: set(re.findall(r'\bid="([^"]+)"', html)) for p, html in pages.items()}
    for page, html in pages.items():
        up = _up(out, page)
        def fix(m):
            path, frag = m.group(1), m.group(2)
            target = (out / path).resolve()
            keep = frag and target in ids and frag[1:] in ids[target]
            return f'href="{up}{path}{frag if keep else ""}"'
        new = re.sub(r'href="' + re.escape(base) + r'([^"#]*)(#[^"]*)?"', fix, html)
        if new != html: page.write_text(new)


def _up(out:Path, page:Path) -> str:
    "The relative path from `page` back to the site's root `out` (`''` or `'../'`, ...)."
    return "../" * (len(page.relative_to(out).parts) - 1)


# KaTeX, from a registry package: npm's `katex` installed in the project folder, else Debian's libjs-katex + fonts-katex.
KATEX_DIRS = (ROOT / "node_modules" / "katex" / "dist", Path("/usr/share/javascript/katex"))
# Each file as smalldocs' pages name it (the layout of npm's dist/), then where a package may have it: npm's name
# first, then Debian's (its katex.min.js is a symlink to the unminified katex.js; its auto-render.js is minified).
KATEX_FILES = {
    "katex.min.css": ("katex.min.css", "katex.css"),
    "katex.min.js": ("katex.min.js", "katex.js"),
    "contrib/auto-render.min.js": ("contrib/auto-render.min.js", "contrib/auto-render.js"),
    "fonts": ("fonts",),   # Debian: a symlink into /usr/share/fonts/truetype/katex, there only with fonts-katex
    "LICENSE": ("../LICENSE", "../../doc/libjs-katex/copyright"),
}
KATEX_MISSING = ("docs: KaTeX is needed to show formulas offline and was not found: "
                 "apt-get install libjs-katex fonts-katex, or npm install --no-save katex in the project folder")
KATEX_CDN = re.compile(r'(?<=")https://cdn\.jsdelivr\.net/npm/katex@[^/"]+/dist/([^"]+)(?=")')
# smalldocs typesets \(…\) and \[…\] (what its Markdown makes of $…$ and $$…$$); this second pass, run after it,
# typesets what Markdown left raw (maths inside HTML) with the delimiters nbdev's and Quarto's notebooks are written
# in. Formulas already typeset (.katex) are skipped; code and pre are skipped by auto-render itself.
MATH_JS = r"""window.renderMathInElement && renderMathInElement(document.body, {
  delimiters: [{left: "$$", right: "$$", display: true}, {left: "\\[", right: "\\]", display: true},
               {left: "\\(", right: "\\)", display: false}, {left: "$", right: "$", display: false}],
  ignoredClasses: ["katex"], throwOnError: false,
});
"""


def find_katex(dirs=KATEX_DIRS) -> dict:
    "KaTeX's files, `{name in the site: path}`, from the first package folder in `dirs` that has them all."
    for d in dirs:
        found = {name: next((d / c for c in cands if (d / c).exists()), None) for name, cands in KATEX_FILES.items()}
        if all(found.values()) and any(found["fonts"].glob("*.woff2")): return found
    raise SystemExit(KATEX_MISSING)


def serve_katex(out:Path, dirs=KATEX_DIRS) -> int:
    "Copy KaTeX into `out/site_libs/katex/` and point the pages with maths at it instead of the CDN; returns how many."
    pages = {p: html for p in sorted(out.rglob("*.html")) if KATEX_CDN.search(html := p.read_text())}
    if not pages: return 0
    files, dst = find_katex(dirs), out / "site_libs" / "katex"
    for name, src in files.items():   # copies of what symlinks point to, never the links
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir(): shutil.copytree(src, dst / name, symlinks=False, dirs_exist_ok=True)
        else: shutil.copyfile(src, dst / name)
    (dst / "render.js").write_text(MATH_JS)
    for page, html in pages.items():
        up = _up(out, page)
        def local(m):
            if m.group(1) not in files: raise SystemExit(f"docs: {page.name} loads KaTeX's {m.group(1)}, which tools/docs.py does not copy")
            return f"{up}site_libs/katex/{m.group(1)}"
        html = KATEX_CDN.sub(local, html)
        # deferred scripts run in document order: this one after smalldocs.js, at the end of the head
        page.write_text(html.replace("</head>", f'<script src="{up}site_libs/katex/render.js" defer></script></head>', 1))
    return len(pages)


OFFSITE = re.compile(r'<script\b[^>]*\bsrc="((?:https?:)?//[^"]+)"'                                  # scripts
                     r'|<link\b(?=[^>]*\brel="(?:stylesheet|preload|modulepreload)")[^>]*\bhref="((?:https?:)?//[^"]+)"'
                     r'|\bimport\b[^;"\']*\bfrom\s*[\'"]((?:https?:)?//[^\'"]+)')                      # ES modules (mermaid)

def offsite_assets(out:Path) -> list:
    "What the pages would load from the network (scripts, stylesheets, modules such as mermaid's), as `page: url`."
    return [f"{page.relative_to(out)}: {next(g for g in m.groups() if g)}"
            for page in sorted(out.rglob("*.html")) for m in OFFSITE.finditer(page.read_text())]


# a show_doc signature: the heading with the name, then the highlighted `def name(...)` block
SIGNATURE = re.compile(r'(<(h[234]) id="[^"]*" class="anchored"[^>]*>(?:(?!</h[234]>).)*</\2>\s*'
                       r'<div class="code-copy-outer-scaffold"><div class="sourceCode"[^>]*><pre[^>]*><code[^>]*>)(.*?)(</code>)', re.S)

def _line_spans(code:str) -> str:
    """Each line of a highlighted signature in a `<span class="sig-line">`, so that `nbs/styles.css` can hang the part
    of a long line that wraps under the parameter's name. As it was if a tag spans lines (nothing is split)."""
    depth = 0
    for part in re.split(r"(<[^>]*>|\n)", code):
        if part == "\n" and depth: return code
        if part.startswith("<"): depth += -1 if part.startswith("</") else 0 if part.endswith("/>") else 1
    return "\n".join(f'<span class="sig-line">{line}</span>' for line in code.split("\n"))


def _hanging_signatures(out:Path):
    "Mark the lines of every show_doc signature of the site (see `_line_spans`)."
    for page in out.rglob("*.html"):
        html = page.read_text()
        new = SIGNATURE.sub(lambda m: m.group(1) + _line_spans(m.group(3)) + m.group(4), html)
        if new != html: page.write_text(new)


def render(work:Path, out:Path):
    "Step 2: smalldocs renders `work` into its output-dir, which then moves to `out`."
    exe = Path(sys.executable).with_name("smalldocs")
    cmd = [str(exe) if exe.exists() else "smalldocs", "render", "-q", str(work)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    noise = "output-file is not read by smalldocs"   # nbdev's front matter for Quarto; harmless here
    for line in (res.stdout + res.stderr).splitlines():
        if noise not in line: print(line)
    if res.returncode: raise SystemExit(f"smalldocs render failed (exit {res.returncode})")
    built = work / yaml.safe_load((work / "_quarto.yml").read_text())["project"].get("output-dir", "_site")
    if out.exists(): shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(out))
    site_url = yaml.safe_load((work / "_quarto.yml").read_text())["website"].get("site-url")
    if site_url: _fix_links(out, site_url)
    _hanging_signatures(out)
    serve_katex(out)
    offsite = offsite_assets(out)
    if offsite:
        raise SystemExit("docs: the site must work offline, but pages load from the network (serve these from a registry "
                         "package in tools/docs.py, as KaTeX is): " + "; ".join(offsite[:5]))


def build(out=ROOT / "_docs", work=None, quiet=False) -> Path:
    "Process the notebooks and render the site into `out`; returns `out`."
    t0 = time.perf_counter()
    if work is None: work = ROOT / "_proc"
    process(Path(work), quiet=quiet)
    t1 = time.perf_counter()
    render(Path(work), Path(out))
    if not quiet:
        print(f"docs: {sum(1 for _ in Path(out).rglob('*.html'))} pages in {Path(out)} "
              f"({t1 - t0:.1f} s processing + {time.perf_counter() - t1:.1f} s rendering)")
    return Path(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "_docs"), help="folder for the site (default: _docs)")
    ap.add_argument("--work", default=None, help="folder for the processed notebooks (default: _proc)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    build(Path(a.out), a.work and Path(a.work), a.quiet)
