"""Write README.md from nbs/index.ipynb (nbdev's own `nbdev-readme` needs Quarto, which is not available here).

    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 if README.md is out of date

Markdown cells are copied; code cells become ```python blocks followed by their text output; cells whose first
line is a `#|` directive containing `hide` are left out.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def render(nb_path=ROOT / "nbs" / "index.ipynb") -> str:
    nb = json.loads(Path(nb_path).read_text())
    parts = ["<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->"]
    for cell in nb["cells"]:
        src = "".join(cell["source"]).rstrip()
        if not src: continue
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith("#|")]
        if any("hide" in d for d in directives): continue
        if cell["cell_type"] == "markdown":
            parts.append(src)
            continue
        code = "\n".join(l for l in lines if not l.startswith("#|")).strip()
        parts.append(f"```python\n{code}\n```")
        outs = []
        for o in cell.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain")
            if text: outs.append("".join(text).rstrip())
        if outs: parts.append("```\n" + "\n".join(outs) + "\n```")
    return "\n\n".join(parts) + "\n"

if __name__ == "__main__":
    text, readme = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit("README.md is out of date: run python tools/make_readme.py")
    else:
        readme.write_text(text)
