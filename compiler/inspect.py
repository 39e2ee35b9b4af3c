"""``cortado inspect``: what the compiler did to a model, as text or one self-contained HTML page.

The report is plain data (``build_report``; symbolic sizes as strings such as ``"1024*N"``):
the graph before and after the passes (node counts, op histogram, the per-pass table), the
fusion groups in launch order (kernel, kind, source nodes and their Caffe layers, bytes read
and written, FLOPs, why neighbouring nodes were not fused), the distinct kernels with their
source, and the totals next to those of an unfused (O0) compile of the same model, so the
effect of fusion is one line. ``render_text`` and ``render_html`` present it; the HTML page
has no external assets and escapes every string it shows.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Mapping, Sequence

from .commands.common import fmt_bytes
from .ir import Graph


def _json_dim(x):
    return x if isinstance(x, (int, float)) or x is None else str(x)


def display_kind(kind: str, ops: Sequence[str]) -> str:
    """The kernel kind as the README names it. Pooling, LRN, resize and depthwise conv run on
    the pointwise template (one output element per program lane, gathering its window), but
    a reader looks for them as *window* kernels."""
    from .ir import Op
    from .ops import get_op
    from .ops.registry import Category

    if kind != "pointwise":
        return kind
    for name in ops:
        try:
            op = Op(name)
        except ValueError:
            continue
        if get_op(op).category is Category.WINDOW or op is Op.CONV:
            return "window"
    return kind


def histogram(graph: Graph) -> dict[str, int]:
    return dict(sorted(Counter(n.op.value for n in graph.nodes).items()))


def _signature(values, names=None) -> list[dict]:
    names = names or [v.name for v in values]
    return [{"name": n, "type": str(v.type)} for n, v in zip(names, values)]


def build_report(model, *, weights=None, random_weights: bool = False,
                 input_shapes: Mapping[str, Sequence] | None = None, target: str = "auto",
                 dtype: str = "float32", opt_level: int = 2, progress=None) -> dict:
    from cortado.codegen.repro import kernel_sources

    from .driver import compile as compile_model, load_graph
    from .inspect_graph import group_edges

    say = progress or (lambda msg: None)
    say("importing model")
    before = load_graph(model, weights=weights, random_weights=random_weights, input_shapes=input_shapes,
                        quiet=progress is None)
    m = compile_model(before, target=target, dtype=dtype, opt_level=opt_level, progress=say, name=before.name)
    say("compiling unfused (O0) for comparison")
    base = compile_model(before, target=target, dtype=dtype, opt_level=0, name=before.name)
    s, b = m.stats, base.stats
    sources = kernel_sources(m.source)
    launches: Counter = Counter(st["kernel"] for st in m.plan["steps"] if "kernel" in st)
    groups = []
    for i, k in enumerate(s["per_kernel"]):
        groups.append({
            "index": i, "kernel": k["kernel"], "kind": display_kind(k["kind"], k["ops"]), "nodes": list(k["nodes"]),
            "ops": list(k["ops"]), "sources": list(k.get("sources", [])), "outputs": list(k.get("outputs", [])),
            "bytes_read": _json_dim(k["bytes_read"]), "bytes_written": _json_dim(k["bytes_written"]),
            "flops": _json_dim(k["flops"]), "why_not": list(k["why_not"]),
        })
    kinds = {g["kernel"]: g["kind"] for g in groups}
    kernels = [{"name": k["name"], "kind": kinds.get(k["name"], k["kind"]), "launches": launches[k["name"]],
                "params": list(k["params"]), "source": sources.get(k["name"], ("", []))[0]}
               for k in m.plan["kernels"]]
    return {
        "model": before.name or "model",
        "opt_level": opt_level,
        "dtype": dtype,
        "inputs": _signature(before.inputs),
        "outputs": _signature(before.outputs, before.output_names),
        "before": {"nodes": len(before), "ops": histogram(before)},
        "after": {"nodes": len(m.graph), "ops": histogram(m.graph)},
        "passes": [{k: _json_dim(v) for k, v in p.items()} for p in s.get("passes", [])],
        "totals": {"kernels": s["kernels"], "unique_kernels": s["unique_kernels"],
                   "est_hbm_bytes": _json_dim(s["est_hbm_bytes"]), "flops": _json_dim(s["flops"]),
                   "peak_bytes": _json_dim(s["peak_bytes"]), "compile_seconds": round(s["compile_seconds"], 3)},
        "unfused": {"kernels": b["kernels"], "est_hbm_bytes": _json_dim(b["est_hbm_bytes"]),
                    "peak_bytes": _json_dim(b["peak_bytes"])},
        "groups": groups,
        "edges": [list(e) for e in group_edges(m.graph, groups)],
        "kernels": kernels,
        "why_not_fused": list(s["why_not_fused"]),
    }


def _node_text(g: dict) -> str:
    parts = []
    for src in g["sources"] or [{"name": n, "op": o} for n, o in zip(g["nodes"], g["ops"])]:
        text = f"{src['name']} ({src['op']}"
        if src.get("layer") is not None:
            text += f", layer {src['layer']}"
        if src.get("prototxt_line") is not None:
            text += f", prototxt line {src['prototxt_line']}"
        if src.get("source") is not None:
            text += f", at {src['source']}"
        parts.append(text + ")")
    return ", ".join(parts)


def _summary_lines(r: dict) -> list[str]:
    t, u = r["totals"], r["unfused"]
    sig_in = ", ".join(f"{i['name']}: {i['type']}" for i in r["inputs"])
    sig_out = ", ".join(f"{o['name']}: {o['type']}" for o in r["outputs"])
    return [
        f"model {r['model']} ({sig_in}) -> ({sig_out}), O{r['opt_level']}, {r['dtype']}",
        f"graph: {r['before']['nodes']} nodes before passes, {r['after']['nodes']} after",
        f"kernels: {t['kernels']} launches of {t['unique_kernels']} distinct kernels (unfused: {u['kernels']})",
        f"est. HBM traffic: {fmt_bytes(t['est_hbm_bytes'])} (unfused: {fmt_bytes(u['est_hbm_bytes'])}); "
        f"peak memory {fmt_bytes(t['peak_bytes'])}; FLOPs {t['flops']}; compiled in {t['compile_seconds']}s",
    ]


def render_text(r: dict) -> str:
    lines = _summary_lines(r)
    ops = sorted(set(r["before"]["ops"]) | set(r["after"]["ops"]))
    w = max([len(o) for o in ops] + [2])
    lines += ["", f"  {'op':<{w}}  before  after"]
    lines += [f"  {o:<{w}}  {r['before']['ops'].get(o, 0):>6}  {r['after']['ops'].get(o, 0):>5}" for o in ops]
    if r["passes"]:
        idle = [str(p.get("pass")) for p in r["passes"] if not p.get("changed")]
        lines += ["", "passes that changed the graph:"]
        lines += [f"  {p.get('pass')}: {p.get('nodes_before')} -> {p.get('nodes_after')} nodes"
                  for p in r["passes"] if p.get("changed")] or ["  none"]
        if idle:
            lines.append(f"  ({len(idle)} changed nothing: {', '.join(dict.fromkeys(idle))})")
    kw = max([len(g["kernel"]) for g in r["groups"]] + [6])
    reads = [_size(g["bytes_read"]) for g in r["groups"]]
    writes = [_size(g["bytes_written"]) for g in r["groups"]]
    rw, ww = max([len(x) for x in reads] + [5]), max([len(x) for x in writes] + [6])
    lines += ["", "fusion groups (launch order):",
              f"  {'#':>3}  {'kernel':<{kw}}  {'kind':<9}  {'reads':>{rw}}  {'writes':>{ww}}  nodes"]
    for g, rd, wr in zip(r["groups"], reads, writes):
        lines.append(f"  {g['index']:>3}  {g['kernel']:<{kw}}  {g['kind']:<9}  {rd:>{rw}}  {wr:>{ww}}  {_node_text(g)}")
        lines += [f"  {'':>3}  not fused: {why}" for why in g["why_not"]]
    lines += ["", "kernels:"]
    lines += [f"  {k['name']} ({k['kind']}), {k['launches']} launch(es), {len(k['params'])} parameters"
              for k in r["kernels"]]
    return "\n".join(lines)


# -- HTML ---------------------------------------------------------------------------------------
# Made for reading: the summary and the fusion table first, then the picture of the fused
# groups, then what the passes did (those that changed nothing folded away), then every kernel's
# source. A link to a kernel (from the table or the picture) opens its source; the one script
# does only that, and the page loads nothing from anywhere.
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .2em .7em; border: 1px solid #ddd;
  vertical-align: top; } th { background: #f4f4f4; text-align: left; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; font-family: ui-monospace, monospace;
  font-variant-numeric: tabular-nums; font-size: 12px; }
.kind { font-weight: 600; white-space: nowrap; } .why { color: #a33; font-size: .92em; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: 12px; margin: .3em 0 1em; }
details { margin: .4em 0; } summary { cursor: pointer; } details.kernel:target > summary { background: #ffe8a3; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: .2em 1.2em; }
dl.summary dt { font-weight: 600; } dl.summary dd { margin: 0; }
figure.groups { overflow-x: auto; margin: .5em 0; } figure.groups svg { height: auto; max-width: none; }
"""

# opens the <details> a link points at: on a click, on a changed #hash and on load
_SCRIPT = """
function openKernel(id) {
  var box = id ? document.getElementById(id) : null;
  if (!box || box.tagName.toLowerCase() !== "details") { return; }
  box.open = true;
  box.scrollIntoView();
}
function hashId(text) { return decodeURIComponent((text || "").replace(/^#/, "")); }
document.addEventListener("click", function (event) {
  var link = event.target.closest ? event.target.closest("a") : null;
  if (!link) { return; }
  var href = link.getAttribute("href") || link.getAttributeNS("http://www.w3.org/1999/xlink", "href");
  if (href) { if (href.charAt(0) === "#") { openKernel(hashId(href)); } }
});
window.addEventListener("hashchange", function () { openKernel(hashId(location.hash)); });
document.addEventListener("DOMContentLoaded", function () { openKernel(hashId(location.hash)); });
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _table(head: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[int] = (), raw: Sequence[int] = ()) -> str:
    def cls(i):
        return ' class="num"' if i in numeric else ""

    out = ["<table>", "<tr>" + "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(head)) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{c if i in raw else _e(c)}</td>" for i, c in enumerate(row))
                   + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _size(x) -> str:
    """A byte count for a table cell: the number, or the symbolic form on one line."""
    return fmt_bytes(x) if isinstance(x, (int, float)) else f"{x} B"


def _summary_html(r: dict) -> str:
    t, u = r["totals"], r["unfused"]
    sig_in = ", ".join(f"{i['name']}: {i['type']}" for i in r["inputs"])
    sig_out = ", ".join(f"{o['name']}: {o['type']}" for o in r["outputs"])
    items = [
        ("model", f"{r['model']} ({sig_in}) -> ({sig_out})"),
        ("compiled", f"O{r['opt_level']}, {r['dtype']}, in {t['compile_seconds']}s"),
        ("graph", f"{r['before']['nodes']} nodes before passes, {r['after']['nodes']} after"),
        ("kernels", f"{t['kernels']} launches of {t['unique_kernels']} distinct kernels (unfused: {u['kernels']})"),
        ("est. HBM traffic", f"{fmt_bytes(t['est_hbm_bytes'])} (unfused: {fmt_bytes(u['est_hbm_bytes'])})"),
        ("peak memory", fmt_bytes(t["peak_bytes"])),
        ("FLOPs", str(t["flops"])),
    ]
    return '<dl class="summary">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>"


def _passes_html(passes: Sequence[dict]) -> list[str]:
    changed = [p for p in passes if p.get("changed")]
    idle = [p for p in passes if not p.get("changed")]
    parts = ["<h2>Passes</h2>"]
    if changed:
        parts.append(_table(["pass", "nodes before", "nodes after"],
                            [[p.get("pass"), p.get("nodes_before"), p.get("nodes_after")] for p in changed],
                            numeric=(1, 2)))
    else:
        parts.append("<p>No pass changed the graph.</p>")
    if idle:
        parts.append(f'<details class="idle"><summary>{len(idle)} pass(es) changed nothing</summary><p>'
                     + ", ".join(_e(p.get("pass")) for p in idle) + "</p></details>")
    return parts


def render_html(r: dict) -> str:
    """The report as one self-contained page (see the section comment above)."""
    from .inspect_graph import KIND_COLOURS, render_svg

    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8"/>',
             f"<title>Cortado: {_e(r['model'])}</title>", f"<style>{_CSS}</style>",
             f"<script>{_SCRIPT}</script>", "</head>", "<body>",
             f"<h1>Cortado inspect: {_e(r['model'])}</h1>", _summary_html(r)]

    parts.append("<h2>Fusion groups (launch order)</h2>")
    rows = []
    for g in r["groups"]:
        why = "".join(f'<div class="why">{_e(w)}</div>' for w in g["why_not"])
        rows.append([g["index"], f'<a class="kernel-link" href="#{_e(g["kernel"])}">{_e(g["kernel"])}</a>',
                     f'<span class="kind">{_e(g["kind"])}</span>', _e(_node_text(g)),
                     _e(_size(g["bytes_read"])), _e(_size(g["bytes_written"])), _e(g["flops"]), why])
    parts.append(_table(["#", "kernel", "kind", "nodes", "reads", "writes", "FLOPs", "why not fused"], rows,
                        numeric=(0, 4, 5, 6), raw=(1, 2, 3, 4, 5, 6, 7)))

    if r["groups"]:
        parts.append("<h2>Fused groups as a graph</h2>")
        legend = ", ".join(f'<span style="background:{c}">&#160;{_e(k)}&#160;</span>'
                           for k, c in KIND_COLOURS.items() if any(g["kind"] == k for g in r["groups"]))
        parts.append(f"<p>Each box is a kernel launch (# as in the table; a click opens its source), each "
                     f"arrow a tensor one launch writes and another reads. Kinds: {legend}.</p>")
        parts.append(f'<figure class="groups">{render_svg(r["groups"], r.get("edges", []))}</figure>')

    if r["why_not_fused"]:
        parts.append("<h2>Why not fused</h2>")
        parts.append("<ul>" + "".join(f"<li>{_e(w)}</li>" for w in r["why_not_fused"]) + "</ul>")

    ops = sorted(set(r["before"]["ops"]) | set(r["after"]["ops"]))
    parts.append("<h2>Graph before and after passes</h2>")
    parts.append(_table(["op", "before", "after"],
                        [[o, r["before"]["ops"].get(o, 0), r["after"]["ops"].get(o, 0)] for o in ops]
                        + [["total", r["before"]["nodes"], r["after"]["nodes"]]], numeric=(1, 2)))
    if r["passes"]:
        parts += _passes_html(r["passes"])

    parts.append("<h2>Kernels</h2>")
    for k in r["kernels"]:
        parts.append(f'<details class="kernel" id="{_e(k["name"])}"><summary>{_e(k["name"])} ({_e(k["kind"])}, '
                     f'{_e(k["launches"])} launch(es))</summary><pre>{_e(k["source"])}</pre></details>')
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
