"""``inspect --html`` in a real browser: headless Chromium (Debian's ``chromium``) loads the page
without console errors, and a click on a kernel link (in the fusion table, and in the graph
picture) shows that kernel's source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headless_chromium import Page, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium test needs Debian's chromium at "
                                "/usr/bin/chromium (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    from cortado.cli import main

    out = tmp_path_factory.mktemp("inspect") / "tiny.html"
    tiny = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"
    assert main(["inspect", str(tiny), "--html", str(out), "-q"]) == 0
    return out


@pytest.fixture
def page():
    p = Page(CHROMIUM)
    yield p
    p.close()


def _visible_source(page: Page, kernel: str) -> dict:
    return page.js(f"""(() => {{
        const box = document.getElementById({json.dumps(kernel)});
        const pre = box.querySelector("pre");
        return {{open: box.open, height: pre.getBoundingClientRect().height, text: pre.innerText}};
    }})()""")


def test_page_loads_clean_and_kernel_links_open_their_source(page, page_file):
    page.open(page_file.as_uri())
    assert page.js("document.title").startswith("Cortado: ")
    assert page.errors() == []
    # the summary and the fusion table come before the passes and the kernels
    order = page.js("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert order.index("Fusion groups (launch order)") < order.index("Passes") < order.index("Kernels")
    assert page.js("document.querySelector('details.idle').open") is False, "idle passes start folded"
    links = page.js("[...document.querySelectorAll('a.kernel-link')].map(a => a.textContent)")
    assert len(links) == 6
    kernel = links[2]
    assert _visible_source(page, kernel)["open"] is False           # folded until asked for
    page.js("document.querySelectorAll('a.kernel-link')[2].click()")
    shown = _visible_source(page, kernel)
    assert shown["open"] is True and shown["height"] > 50 and f"def {kernel}(" in shown["text"]
    assert page.js("location.hash") == f"#{kernel}"
    # the same kernel's box in the graph picture links there too; a click opens the first kernel
    first = links[0]
    page.js("""(() => { const a = [...document.querySelectorAll('figure.groups svg a')][0];
                        a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); })()""")
    assert _visible_source(page, first)["open"] is True
    # a link followed from elsewhere (a #kernel URL) lands on an open box
    page.open("about:blank")
    page.open(page_file.as_uri() + f"#{links[4]}")
    assert _visible_source(page, links[4])["open"] is True
    assert page.errors() == []
