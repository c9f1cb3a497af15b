"""A page opened in a real headless browser (Debian's chromium), as a person would see
it at a given window size: a screenshot, and what a person would notice, measured in
the page itself: how far it runs past the right edge, elements cut off there, images
that did not load."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Appended to a copy of the page: once it has loaded, the measures go into the DOM,
# which chromium's --dump-dom prints.
_MEASURE = """<script>
window.addEventListener('load', () => {
  const right = window.innerWidth + 1;
  const images = [...document.images];
  const cut = [...document.querySelectorAll('h1, h2, h3, p, pre, td, th, figure, img')]
    .filter(e => e.getBoundingClientRect().right > right).map(e => e.tagName);
  const out = document.createElement('pre');
  out.id = 'page-measures';
  out.textContent = JSON.stringify({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    cut: cut, images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).length});
  document.body.appendChild(out);
});
</script>"""


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # --no-sandbox: the tests run as root, which chromium's sandbox refuses.
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--virtual-time-budget=5000", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    return struct.unpack(">II", header[16:24])


def look(page: Path, width: int, height: int, shot: Path) -> dict:
    """Opens ``page`` at ``width`` x ``height``: the screenshot goes to ``shot``; returns
    the measures."""
    measured = page.with_name(page.stem + f"-measured-{width}.html")
    measured.write_text(page.read_text().replace("</html>", _MEASURE + "</html>"))
    size = f"--window-size={width},{height}"
    dom = _chromium(size, "--dump-dom", measured.as_uri(), cwd=page.parent)
    found = re.search(r'<pre id="page-measures">(.*?)</pre>', dom.stdout, re.S)
    assert found, f"chromium printed no measures: {dom.stderr[-1500:]}"
    shot_run = _chromium(size, f"--screenshot={shot}", page.as_uri(), cwd=page.parent)
    assert shot.is_file(), shot_run.stderr[-1500:]
    return json.loads(found.group(1).replace("&quot;", '"'))
