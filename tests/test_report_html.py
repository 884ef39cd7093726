"""`nnaccel report`: one self-contained HTML page, opened in a real headless browser (Chromium)
and checked on its screenshot for the tables and the figures."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from nnaccel.cli import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    r = CliRunner().invoke(main, ["report", "sqnxt23", "sqnxt23v5", "--config", "paper-16x16",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_the_page_is_self_contained(page):
    text = page.read_text(encoding="ascii")
    assert "<table" in text and text.count("data:image/png;base64,") == 3  # layers, roofline, tradeoff
    # nothing fetched: every src is inline, no stylesheet or script from elsewhere
    assert re.findall(r'src="(?!data:)', text) == []
    assert "<link" not in text and "@import" not in text and "url(" not in text
    for section in ("Configuration", "Totals", "Figures", "Per layer", "assumptions"):
        assert section in text
    assert text.count("<tr>") > 2 * 60  # the per-layer rows of both networks


def test_report_needs_an_html_name(tmp_path):
    r = CliRunner().invoke(main, ["report", "sqnxt23v5", "-o", str(tmp_path / "r.pdf")])
    assert r.exit_code == 2 and ".html" in r.output and list(tmp_path.iterdir()) == []


def _browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def _chromium(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=False)


def test_the_page_shows_its_tables_and_figures_in_chromium(page, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium installed (Debian: apt-get install chromium; .ci/run"
                    " installs it): the page is checked in a browser only where there is one")
    import matplotlib.image as mpimg
    import numpy as np

    shot = tmp_path / "shot.png"
    run = _chromium(browser, tmp_path, "--window-size=1280,4000", f"--screenshot={shot}",
                    page.as_uri())
    assert shot.exists(), run.stderr[-2000:]
    img = (mpimg.imread(shot)[:, :, :3] * 255).round().astype(int)
    # a table: its header row's grey (#f2f2f2) across at least 400 px of one pixel row
    header = np.all(img == (0xF2, 0xF2, 0xF2), axis=2)
    assert header.sum(axis=1).max() >= 400, "no table header drawn"
    # the figures: matplotlib's blue and orange (the networks' bars and markers) in quantity
    for rgb in ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)):
        near = np.all(np.abs(img - rgb) <= 12, axis=2)
        assert near.sum() > 3000, f"no figure drawn in {rgb}"
    # the script ran: it marks every header sortable
    dom = _chromium(browser, tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom.count('class="n sortable"') + dom.count('class=" sortable"') > 10


def test_the_configuration_is_a_table_of_named_fields_with_units(page):
    text = page.read_text(encoding="ascii")
    section = text.split('id="configuration"')[1].split('id="totals"')[0]
    assert "{" not in section and "16000000000" not in section  # no raw dict, no bare float
    for shown in ("16 GB/s", "1 GHz", "100 cycles", "128KB (131,072 bytes)", "16x16",
                  "weight sparsity", "40% zero weights (the default, paper &#167;3)"):
        assert shown in section, shown


# Measures the laid-out page in the browser and writes what it found into the DOM, which
# --dump-dom prints: the viewport's width, the document's, and each figure's right edge.
_PROBE = """<script>window.addEventListener("load", function () {
  var imgs = []; document.querySelectorAll("figure img").forEach(function (i) {
    var r = i.getBoundingClientRect(); imgs.push([Math.round(r.left), Math.round(r.right)]); });
  var box = document.querySelector(".wrap"), th = box.querySelector("th");
  box.scrollTop = 400; var top = th.getBoundingClientRect().top - box.getBoundingClientRect().top;
  document.body.setAttribute("data-probe", JSON.stringify({vw: window.innerWidth,
    sw: document.documentElement.scrollWidth, imgs: imgs, header_top: top}));
});</script>"""


def test_at_1280_px_no_figure_is_wider_than_the_page(page, tmp_path):
    """In Chromium at 1280 px: every figure inside the viewport, the page itself never wider
    (a wide table scrolls in its own box), and a scrolled per-layer table keeps its header."""
    import json

    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium installed (Debian: apt-get install chromium; .ci/run"
                    " installs it)")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="ascii").replace("</body>", _PROBE + "</body>"),
                      encoding="ascii")
    dom = _chromium(browser, tmp_path, "--window-size=1280,2000", "--virtual-time-budget=5000",
                    "--dump-dom", probed.as_uri()).stdout
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, dom[-2000:]
    probe = json.loads(m.group(1).replace("&quot;", '"'))
    assert probe["vw"] == 1280
    assert len(probe["imgs"]) == 3
    for left, right in probe["imgs"]:
        assert 0 <= left and right <= probe["vw"], probe
    assert probe["sw"] <= probe["vw"], probe  # no sideways scroll of the page
    assert abs(probe["header_top"]) <= 1, probe  # the sticky header stays at the box's top
