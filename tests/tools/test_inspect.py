"""``cortado inspect``: graph before/after passes, fusion groups and kernels, as text and HTML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np

from cortado import ops
from cortado.inspect import build_report, render_html, render_text
from cortado.ir import Graph, TensorType


def _parse_html(text: str) -> ET.Element:
    """The page must be well-formed (XHTML-style): parse it strictly as XML after the doctype."""
    assert text.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(text.split("\n", 1)[1])


def _hostile_graph(rng) -> Graph:
    """Node, value and model names that would break a page that does not escape them."""
    g = Graph('<script>alert("x")</script> & net')
    x = g.add_input("x&<in>", TensorType((1, 2, 6, 6), "float32"))
    w = g.add_constant(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    c = ops.apply(g, "Conv", [x, w, None], kernel_shape=(3, 3), strides=(1, 1), pads=(1,) * 4, dilations=(1, 1),
                  group=1, name="conv<1>&", output_names=["c<&>"])
    c.meta.update(layer='conv "1"', prototxt_line=7)
    r = ops.apply(g, "Relu", [c.output], name="relu</td>").output
    p = ops.apply(g, "MaxPool", [r], kernel_shape=(2, 2), strides=(2, 2), pads=(0,) * 4, dilations=(1, 1),
                  name="pool'1'").output
    g.add_output(p, "out<1>")
    return g


def test_report_counts_groups_and_kernels(rng):
    r = build_report(_hostile_graph(np.random.default_rng(0)), target="interpreter")
    assert r["before"] == {"nodes": 3, "ops": {"Conv": 1, "MaxPool": 1, "Relu": 1}}
    assert r["after"]["nodes"] == 3
    assert [g["kind"] for g in r["groups"]] == ["conv", "window"]     # MaxPool is a window kernel, as the README says
    assert r["edges"] == [[0, 1]]
    g = _hostile_graph(rng)
    names = [n.name for n in g.nodes]
    assert names[0] == "conv<1>&" and names[1].startswith("relu</td>")
    assert r["groups"][0]["nodes"] == names[:2]
    assert r["groups"][0]["sources"][0]["prototxt_line"] == 7
    assert r["totals"]["kernels"] == 2 and r["unfused"]["kernels"] == 3
    assert r["groups"][1]["why_not"] and r["why_not_fused"]
    assert all(k["source"].lstrip().startswith("#") and f"def {k['name']}(" in k["source"] for k in r["kernels"])
    json.dumps(r)          # plain data: symbolic sizes are strings
    text = render_text(r)
    assert "2 launches of 2 distinct kernels (unfused: 3)" in text
    assert "conv<1>& (Conv, layer conv \"1\", prototxt line 7)" in text
    assert "not fused: pool'1'_2 (MaxPool): not elementwise" in text


def test_html_is_well_formed_escaped_and_complete(rng):
    r = build_report(_hostile_graph(rng), target="interpreter")
    page = render_html(r)
    root = _parse_html(page)
    assert "<script>alert" not in page and "</td>&" not in page
    scripts = root.findall(".//script")
    assert len(scripts) == 1 and scripts[0].get("src") is None, "one inline script: it opens linked kernels"
    from cortado.inspect import _SCRIPT
    assert scripts[0].text == _SCRIPT, "the script is constant: no report data reaches it"
    xlink = "{http://www.w3.org/1999/xlink}href"
    assert not any(el.get("src") or (el.get("href") or el.get(xlink) or "#").split("#")[0] for el in root.iter()), \
        "the page must not load anything"
    assert root.find(".//{http://www.w3.org/2000/svg}svg") is not None, "the picture of the fused groups"
    text = "".join(root.itertext())
    for g in r["groups"]:
        assert g["kernel"] in text
        assert all(n in text for n in g["nodes"])
    for k in r["kernels"]:
        assert root.find(f".//details[@id='{k['name']}']") is not None
    assert '<script>alert("x")</script> & net' in text
    assert r["why_not_fused"][0] in text


def test_cli_prints_and_writes_html_and_json(cortado, tiny, tmp_path):
    page, data = tmp_path / "tiny.html", tmp_path / "tiny.json"
    res = cortado("inspect", tiny, "--html", page, "--json", data, "-q")
    assert res.returncode == 0, res.stderr
    assert "fusion groups (launch order):" in res.stdout and "conv_relu_kernel_0" in res.stdout
    root = _parse_html(page.read_text())
    report = json.loads(data.read_text())
    # six launches; the two conv+relu layers differ only in their size arguments, so they share one kernel
    assert len(root.findall(".//details[@class='kernel']")) == len(report["kernels"]) == 5
    assert [g["kernel"] for g in report["groups"]].count("conv_relu_kernel_0") == 2
    assert root.find(".//details[@class='idle']") is not None, "passes that changed nothing are folded"
    assert report["before"]["ops"]["Conv"] == 2


def test_cli_user_error_exits_2_and_writes_nothing(cortado, tmp_path):
    res = cortado("inspect", "missing.onnx", "--html", "out.html", cwd=tmp_path)
    assert res.returncode == 2 and "model file not found" in res.stderr and "Traceback" not in res.stderr
    assert not list(tmp_path.iterdir())
