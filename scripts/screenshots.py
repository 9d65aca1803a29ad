"""Screenshots for the docs, made from real renders: never drawn or edited by hand.

    python scripts/screenshots.py [--comment FILE.md] [--out docs/img/pr-comment.png]

Takes the PR comment that `make demo` wrote (examples/digits/.pepr/demo-comment.md),
turns its Markdown into HTML roughly the way GitHub does (python-markdown with tables,
footnotes, fenced code and Markdown inside <details>; a GitHub-like stylesheet; Mermaid
blocks drawn by Mermaid itself) and photographs the page with headless Chromium from
Debian's `chromium` package. Everything is local: the only download is mermaid.min.js,
fetched once from npm into .cache/mermaid/ (or pass --mermaid PATH).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_COMMENT = ROOT / "examples" / "digits" / ".pepr" / "demo-comment.md"
MERMAID_VERSION = "12.3.0"
MERMAID_CACHE = ROOT / ".cache" / "mermaid"
WIDTH = 880

CSS = """
body { margin: 0; background: #ffffff; color: #1f2328;
  font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
.comment { margin: 16px; border: 1px solid #d1d9e0; border-radius: 6px; }
.header { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px;
  border-radius: 6px 6px 0 0; color: #59636e; }
.header b { color: #1f2328; }
.body { padding: 16px; }
.body > :first-child { margin-top: 0; }
h3 { font-size: 1.25em; font-weight: 600; margin: 24px 0 16px; }
p, ul, table, details, pre { margin: 0 0 16px; }
ul { padding-left: 2em; }
table { border-collapse: collapse; display: block; width: max-content; max-width: 100%;
  overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
th { font-weight: 600; }
tr:nth-child(2n) { background: #f6f8fa; }
code, pre { font: 85% ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, monospace; }
code { background: rgba(129, 139, 152, 0.12); border-radius: 6px; padding: .2em .4em; }
pre { background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto; }
pre.mermaid { background: transparent; text-align: center; font-size: 14px; }
summary { cursor: pointer; }
a { color: #0969da; text-decoration: none; }
.footnote { font-size: 12px; color: #59636e; border-top: 1px solid #d1d9e0; }
.footnote hr { display: none; }
sup { font-size: 75%; }
"""


def render_html(markdown_text: str, mermaid_js: Path) -> str:
    import markdown

    # GitHub renders Markdown inside <details> when blank lines set it apart, and lets a
    # list start right under a paragraph line (CommonMark); python-markdown needs hints.
    text = markdown_text.replace("<details>", '<details markdown="1">')
    text = re.sub(r"^([^\n-][^\n]*)\n(- )", r"\1\n\n\2", text, flags=re.M)
    body = markdown.markdown(
        text, extensions=["tables", "fenced_code", "footnotes", "md_in_html", "sane_lists"]
    )
    # Mermaid draws `pre.mermaid` blocks from their text, as GitHub does for ```mermaid.
    body = re.sub(
        r'<pre><code class="language-mermaid">(.*?)</code></pre>',
        lambda m: f'<pre class="mermaid">{m.group(1)}</pre>',
        body,
        flags=re.S,
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><style>{CSS}</style>
<script src="{mermaid_js.as_uri()}"></script>
<script>mermaid.initialize({{startOnLoad: true, theme: "default"}});</script>
</head><body><div class="comment">
<div class="header"><b>github-actions</b> <span>bot commented</span></div>
<div class="body">{body}</div></div></body></html>
"""


def find_mermaid(given: Path | None) -> Path:
    if given is not None:
        if not given.is_file():
            raise SystemExit(f"screenshots: --mermaid {given}: no such file")
        return given
    js = MERMAID_CACHE / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if js.is_file():
        return js
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("screenshots: Mermaid charts need mermaid.min.js: install npm "
                         "(apt-get install npm) or pass --mermaid PATH")
    MERMAID_CACHE.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: installing mermaid {MERMAID_VERSION} into {MERMAID_CACHE} (once)")
    subprocess.run([npm, "install", "--prefix", str(MERMAID_CACHE), "--no-audit", "--no-fund",
                    "--silent", f"mermaid@{MERMAID_VERSION}"], check=True)
    return js


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("screenshots: headless Chromium not found: apt-get install chromium")


def shoot(page: Path | str, out: Path, *, width: int = WIDTH, height: int = 4000,
          wait_ms: int = 15000) -> None:
    from PIL import Image, ImageChops

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pepr-shot-") as profile:
        subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--force-device-scale-factor=1", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", f"--virtual-time-budget={wait_ms}",
             f"--screenshot={out}", page if isinstance(page, str) else page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    # The window is taller than the page: cut the blank bottom off, keep a margin.
    image = Image.open(out).convert("RGB")
    blank = Image.new("RGB", image.size, (255, 255, 255))
    box = ImageChops.difference(image, blank).getbbox()
    if box is None:
        raise SystemExit(f"screenshots: {out} came out blank")
    image.crop((0, 0, image.width, min(image.height, box[3] + 16))).save(out, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comment", type=Path, default=DEMO_COMMENT,
                    help="PR comment Markdown (default: the demo's, from `make demo`)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "pr-comment.png")
    ap.add_argument("--mermaid", type=Path, help="mermaid.min.js to use instead of npm's")
    ap.add_argument("--html", type=Path, help="also keep the HTML page here")
    args = ap.parse_args(argv)
    if not args.comment.is_file():
        print(f"screenshots: {args.comment} not found; run `make demo` first", file=sys.stderr)
        return 2
    page_html = render_html(args.comment.read_text(encoding="utf-8"), find_mermaid(args.mermaid))
    with tempfile.TemporaryDirectory(prefix="pepr-page-") as tmp:
        page = Path(tmp) / "comment.html"
        page.write_text(page_html, encoding="utf-8")
        if args.html:
            args.html.write_text(page_html, encoding="utf-8")
        shoot(page, args.out)
    print(f"screenshots: wrote {args.out} from {args.comment} "
          f"({args.comment.stat().st_size} bytes of Markdown)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
