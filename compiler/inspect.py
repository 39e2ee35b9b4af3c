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

    say = progress or (lambda msg: None)
    say("importing model")
    before = load_graph(model, weights=weights, random_weights=random_weights, input_shapes=input_shapes,
                        quiet=progress is None)
    m = compile_model(before, target=target, dtype=dtype, opt_level=opt_level, progress=say, name=before.name)
    say("compiling unfused (O0) for comparison")
    base = compile_model(before, target=target, dtype=dtype, opt_level=0, name=before.name)
    s, b = m.stats, base.stats
    sources = kernel_sources(m.source)
    launches: Counter = Counter(st["kernel"] for st in m.plan["steps"])
    groups = []
    for i, k in enumerate(s["per_kernel"]):
        groups.append({
            "index": i, "kernel": k["kernel"], "kind": k["kind"], "nodes": list(k["nodes"]),
            "ops": list(k["ops"]), "sources": list(k.get("sources", [])), "outputs": list(k.get("outputs", [])),
            "bytes_read": _json_dim(k["bytes_read"]), "bytes_written": _json_dim(k["bytes_written"]),
            "flops": _json_dim(k["flops"]), "why_not": list(k["why_not"]),
        })
    kernels = [{"name": k["name"], "kind": k["kind"], "launches": launches[k["name"]],
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
        lines += ["", "passes:"]
        lines += [f"  {p.get('pass')}: {p.get('nodes_before')} -> {p.get('nodes_after')} nodes"
                  f"{'' if p.get('changed') else ' (no change)'}" for p in r["passes"]]
    kw = max([len(g["kernel"]) for g in r["groups"]] + [6])
    lines += ["", "fusion groups (launch order):",
              f"  {'#':>3}  {'kernel':<{kw}}  {'kind':<9}  {'reads':>12}  {'writes':>12}  nodes"]
    for g in r["groups"]:
        lines.append(f"  {g['index']:>3}  {g['kernel']:<{kw}}  {g['kind']:<9}  {fmt_bytes(g['bytes_read']):>12}  "
                     f"{fmt_bytes(g['bytes_written']):>12}  {_node_text(g)}")
        lines += [f"  {'':>3}  not fused: {why}" for why in g["why_not"]]
    lines += ["", "kernels:"]
    lines += [f"  {k['name']} ({k['kind']}), {k['launches']} launch(es), {len(k['params'])} parameters"
              for k in r["kernels"]]
    return "\n".join(lines)


# -- HTML ---------------------------------------------------------------------------------------
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .2em .7em; border: 1px solid #ddd; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.kind { font-weight: 600; } .why { color: #a33; font-size: .92em; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: 12px; }
details { margin: .4em 0; } summary { cursor: pointer; }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _table(head: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[int] = (), raw: Sequence[int] = ()) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            cells.append(f"<td{cls}>{c if i in raw else _e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(r: dict) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8"/>',
             f"<title>Cortado: {_e(r['model'])}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>Cortado inspect: {_e(r['model'])}</h1>",
             "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in _summary_lines(r)) + "</ul>"]
    ops = sorted(set(r["before"]["ops"]) | set(r["after"]["ops"]))
    parts.append("<h2>Graph before and after passes</h2>")
    parts.append(_table(["op", "before", "after"],
                        [[o, r["before"]["ops"].get(o, 0), r["after"]["ops"].get(o, 0)] for o in ops]
                        + [["total", r["before"]["nodes"], r["after"]["nodes"]]], numeric=(1, 2)))
    if r["passes"]:
        parts.append(_table(["pass", "nodes before", "nodes after", "changed"],
                            [[p.get("pass"), p.get("nodes_before"), p.get("nodes_after"), p.get("changed")]
                             for p in r["passes"]], numeric=(1, 2)))
    parts.append("<h2>Fusion groups</h2>")
    rows = []
    for g in r["groups"]:
        why = "".join(f'<div class="why">{_e(w)}</div>' for w in g["why_not"])
        rows.append([g["index"], f'<a href="#{_e(g["kernel"])}">{_e(g["kernel"])}</a>',
                     f'<span class="kind">{_e(g["kind"])}</span>', _e(_node_text(g)),
                     _e(fmt_bytes(g["bytes_read"])), _e(fmt_bytes(g["bytes_written"])), _e(g["flops"]), why or ""])
    parts.append(_table(["#", "kernel", "kind", "nodes", "reads", "writes", "FLOPs", "why not fused"], rows,
                        numeric=(0, 4, 5, 6), raw=(1, 2, 3, 4, 5, 6, 7)))
    if r["why_not_fused"]:
        parts.append("<h2>Why not fused</h2>")
        parts.append("<ul>" + "".join(f"<li>{_e(w)}</li>" for w in r["why_not_fused"]) + "</ul>")
    parts.append("<h2>Kernels</h2>")
    for k in r["kernels"]:
        parts.append(f'<details id="{_e(k["name"])}"><summary>{_e(k["name"])} ({_e(k["kind"])}, '
                     f'{_e(k["launches"])} launch(es))</summary><pre>{_e(k["source"])}</pre></details>')
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
