"""The picture of the fused groups on the ``inspect --html`` page: one box per kernel launch,
an arrow where one launch reads what another wrote.

The edges come from the optimized IR through its networkx view (``cortado.ir.to_networkx``),
contracted onto the groups; views that launch nothing (aliases, placed concats) are looked
through. The drawing is networkx's own (``draw_networkx`` on a matplotlib figure, written as
SVG): a library lays out and renders it, no hand-written SVG. Groups are placed in columns by
topological generation (``multipartite_layout``), so data flows left to right, and each box
links to its kernel's source on the page. matplotlib is the ``cortado[inspect]`` extra.
"""

from __future__ import annotations

import io
from typing import Sequence

KIND_COLOURS = {"pointwise": "#8ecae6", "window": "#90be6d", "reduction": "#f9c74f", "gemm": "#f3722c",
                "conv": "#f94144", "attention": "#b5838d", "special": "#cdb4db"}


def group_edges(graph, groups: Sequence[dict]) -> list[tuple[int, int]]:
    """(producer group, consumer group) index pairs, sorted, for the report's groups."""
    from .ir import to_networkx

    nxg = to_networkx(graph)
    group_of = {name: g["index"] for g in groups for name in g["nodes"]}
    node_group = {i: group_of.get(data["node"].name) for i, data in nxg.nodes(data=True)}

    def sources(i: int, seen: set) -> set[int]:
        """The groups whose output node ``i`` reads, looking through nodes that launch nothing."""
        out: set[int] = set()
        for p in nxg.predecessors(i):
            if p in seen:
                continue
            seen.add(p)
            out |= {node_group[p]} if node_group[p] is not None else sources(p, seen)
        return out

    edges = set()
    for i, gi in node_group.items():
        if gi is None:
            continue
        edges |= {(src, gi) for src in sources(i, set()) if src != gi}
    return sorted(edges)


def render_svg(groups: Sequence[dict], edges: Sequence[Sequence[int]]) -> str:
    """The SVG element (no XML prolog) of the fused-group graph."""
    import matplotlib
    import networkx as nx
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    g = nx.DiGraph()
    for grp in groups:
        g.add_node(grp["index"], kind=grp["kind"], kernel=grp["kernel"])
    g.add_edges_from((int(a), int(b)) for a, b in edges)
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for n in nodes:
            g.nodes[n]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer") if len(g) else {}
    columns = max((d["layer"] for _, d in g.nodes(data=True)), default=0) + 1
    tallest = max((sum(1 for _, d in g.nodes(data=True) if d["layer"] == c) for c in range(columns)), default=1)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cortado"}):
        fig = Figure(figsize=(min(2 + 1.6 * columns, 40), min(1.5 + 0.9 * tallest, 30)))
        FigureCanvasSVG(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        order = list(g.nodes)
        colours = [KIND_COLOURS.get(g.nodes[n]["kind"], "#dddddd") for n in order]
        boxes = nx.draw_networkx_nodes(g, pos, nodelist=order, node_color=colours, node_shape="s", node_size=900,
                                       edgecolors="#333333", ax=ax)
        boxes.set_urls([f"#{g.nodes[n]['kernel']}" for n in order])
        nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowstyle="-|>", node_shape="s", node_size=900,
                               edge_color="#666666")
        nx.draw_networkx_labels(g, pos, labels={n: f"{n}\n{g.nodes[n]['kind']}" for n in order}, font_size=7,
                                ax=ax)
        ax.margins(0.08)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]
