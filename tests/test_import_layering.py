"""The layering of DESIGN.md, checked on the import graph of the source tree (ast, no imports run).

    runtime  <-  ir, ops, kernel_groups  <-  passes  <-  codegen  <-  driver, jit, cli, frontends, ...

An import may point down or sideways, never up: a back-edge (passes importing codegen, runtime
importing the compiler) fails here with the file and line. Imports must not form cycles, not
even through an import inside a function (a package importing its own submodules is not one),
and passes and codegen keep their imports at module level except the few lazy ones listed
below. The last tests plant a back-edge and a cycle in a scratch tree to show the checks fail.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"compiler": "cortado", "passes": "cortado.passes", "codegen": "cortado.codegen",
           "runtime": "cortado.runtime"}
LAYERS = ["runtime", "ir/ops", "passes", "codegen", "compiler"]

# modules below the compiler that are not in a subpackage of their own
_BASE = {"cortado": "runtime",                 # the package root: lazy names only
         "cortado.legacy_names": "runtime",    # the old-spelling import aliases, stdlib only
         "cortado.kernel_groups": "ir/ops"}

# function-level imports that stay lazy in passes and codegen, with the reason
LAZY = {
    ("cortado.codegen.aot", "cortado.runtime.loader"): "triton's compiler loads only for ahead-of-time builds",
}


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    path: Path
    line: int
    module_level: bool


def layer_of(module: str) -> str:
    if module in _BASE:
        return _BASE[module]
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 else ""
    if sub == "runtime":
        return "runtime"
    if sub in ("ir", "ops"):
        return "ir/ops"
    if sub in ("passes", "codegen"):
        return sub
    return "compiler"


def modules(root: Path) -> dict[str, tuple[Path, bool]]:
    out = {}
    for folder, package in FOLDERS.items():
        for f in sorted((root / folder).rglob("*.py")):
            parts = list(f.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = (f, f.name == "__init__.py")
    return out


def _targets(module: str, is_package: bool, node, known) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".")[: len(module.split(".")) - (0 if is_package else 1) - (node.level - 1)]
            full = ".".join(base + ([node.module] if node.module else []))
        else:
            full = node.module or ""
        names = [full] + [f"{full}.{a.name}" for a in node.names if f"{full}.{a.name}" in known]
    out = []
    for name in names:
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in known and name != module:
            out.append(name)
    return out


def _module_level_nodes(tree: ast.Module):
    """Imports that run when the module is imported (including under if/try at top level)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            stack.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for h in getattr(node, "handlers", []):
                stack.extend(h.body)


def import_edges(root: Path) -> list[Edge]:
    known = modules(root)
    edges = []
    for module, (path, is_package) in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        top = {id(n) for n in _module_level_nodes(tree)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for dst in _targets(module, is_package, node, known):
                    edges.append(Edge(module, dst, path, node.lineno, id(node) in top))
    return edges


def back_edges(edges: list[Edge]) -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    return [f"{e.path}:{e.line}: {e.src} ({layer_of(e.src)}) imports {e.dst} ({layer_of(e.dst)})"
            for e in edges if rank[layer_of(e.dst)] > rank[layer_of(e.src)]]


def cycles(edges: list[Edge], *, lazy: bool = False) -> list[list[str]]:
    """Import cycles among modules (a package and its own submodules excepted); with ``lazy``,
    function-level imports count too: a cycle a lazy import hides is still two modules that
    cannot be understood, tested or moved apart."""
    g = nx.DiGraph()
    for e in edges:
        related = e.dst.startswith(e.src + ".") or e.src.startswith(e.dst + ".")
        if (e.module_level or lazy) and not related:
            g.add_edge(e.src, e.dst)
    return sorted(sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1)


def hidden_imports(edges: list[Edge], layers=("passes", "codegen", "ir/ops", "runtime")) -> list[str]:
    return [f"{e.path}:{e.line}: {e.src} imports {e.dst} inside a function"
            for e in edges if not e.module_level and layer_of(e.src) in layers and (e.src, e.dst) not in LAZY
            and layer_of(e.src) in ("passes", "codegen")]


@pytest.fixture(scope="module")
def edges():
    return import_edges(ROOT)


def test_the_graph_is_read(edges):
    srcs = {e.src for e in edges}
    assert {"cortado.passes.fusion", "cortado.codegen.templates.conv", "cortado.runtime.model"} <= srcs
    assert any(e.src == "cortado.passes.fusion" and e.dst == "cortado.kernel_groups" for e in edges)


def test_no_import_points_up_a_layer(edges):
    bad = back_edges(edges)
    assert not bad, "imports against the layering (DESIGN.md):\n" + "\n".join(bad)


def test_no_module_level_import_cycles(edges):
    found = cycles(edges)
    assert not found, f"import cycles: {found}"


def test_no_import_cycles_through_function_level_imports_either(edges):
    found = cycles(edges, lazy=True)
    assert not found, "import cycles (counting imports inside functions):\n" + "\n".join(map(str, found))


def test_passes_and_codegen_import_at_module_level(edges):
    bad = hidden_imports(edges)
    assert not bad, "function-level imports (move them up, or list a lazy one in LAZY with its reason):\n" + \
        "\n".join(bad)


def _scratch_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_a_planted_back_edge_fails(tmp_path):
    root = _scratch_tree(tmp_path, {
        "codegen/emit.py": "X = 1\n",
        "passes/fuse.py": "from cortado.ir import Graph\nfrom cortado.codegen.emit import X\n",
        "compiler/ir/__init__.py": "",
    })
    bad = back_edges(import_edges(root))
    assert len(bad) == 1 and "cortado.passes.fuse (passes) imports cortado.codegen.emit (codegen)" in bad[0]
    assert "fuse.py:2" in bad[0]


def test_a_planted_runtime_import_of_the_compiler_fails(tmp_path):
    root = _scratch_tree(tmp_path, {"runtime/model.py": "def f():\n    from cortado.driver import compile\n",
                                    "compiler/driver.py": ""})
    assert len(back_edges(import_edges(root))) == 1


def test_a_planted_cycle_and_hidden_import_fail(tmp_path):
    root = _scratch_tree(tmp_path, {
        "codegen/a.py": "from . import b\n",
        "codegen/b.py": "def f():\n    from . import c\n",
        "codegen/c.py": "from .a import x\n",
    })
    found = import_edges(root)
    assert hidden_imports(found) and "inside a function" in hidden_imports(found)[0]
    assert not cycles(found)     # the lazy import hides it ...
    assert cycles(found, lazy=True) == [["cortado.codegen.a", "cortado.codegen.b", "cortado.codegen.c"]]
    (root / "codegen/b.py").write_text("from . import c\n")
    assert cycles(import_edges(root)) == [["cortado.codegen.a", "cortado.codegen.b", "cortado.codegen.c"]]
