"""Conformance: onnx's own backend test cases through ``compile`` + run on the interpreter.

``python -m cortado.conformance`` builds every node case of
``onnx.backend.test.case.node.collect_testcases()`` (each operator's reference cases, plus the
``*_expanded`` cases that spell a function op out in primitive ops) and the model folders onnx
ships under ``backend/test/data`` (``pytorch-converted``, ``pytorch-operator``, ``simple``).
Each case is compiled for the interpreter at the chosen opt level, run on the case's inputs
and compared with its expected outputs (dtype-aware tolerances, NaN equals NaN).

Every case ends in one status:

- ``pass``: outputs match;
- ``fail``: outputs differ (dtype, shape or values), or the case ran past its time limit;
- ``error``: something other than the unsupported-operator error was raised — a Cortado bug
  (or a model the frontend wrongly calls malformed);
- ``unsupported``: compile raised ``UnsupportedOpError`` (the reason is recorded);
- ``skipped``: the case is larger than the runner's size limit (reported, never silent).

The table groups node cases by the operator they test (an expanded case counts for the
function op it expands) and folder cases by their folder.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time
import traceback
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STATUSES = ("pass", "fail", "error", "unsupported", "skipped")
DATA_SOURCES = ("pytorch-converted", "pytorch-operator", "simple")
MAX_ELEMENTS = 1_000_000      # inputs + outputs of one case; larger cases are skipped, visibly
CASE_SECONDS = 120            # per-case time limit

# rtol, atol per output dtype. Kernels compute half types in float32 and round once on store.
TOLERANCES = {"float32": (1e-3, 1e-5), "float64": (1e-6, 1e-9), "float16": (2e-3, 1e-3),
              "bfloat16": (1e-2, 1e-2)}


@dataclass
class Case:
    name: str
    op: str                    # the operator a node case tests; the folder for folder cases
    source: str                # "node" or one of DATA_SOURCES
    model: object              # onnx.ModelProto
    inputs: list               # numpy arrays (None where the input is not a tensor)
    outputs: list


@dataclass
class Result:
    name: str
    op: str
    source: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    frozen: tuple = ()         # graph inputs bound to the case's values as constants


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    opt_level: int = 0

    def by_status(self, source: str | None = None) -> Counter:
        return Counter(r.status for r in self.results if source is None or r.source == source)

    def supported_ops(self) -> set[str]:
        from .frontends.onnx import supported_onnx_ops

        return set(supported_onnx_ops())

    def supported_pass_rate(self, exclude_types: bool = False) -> tuple[int, int]:
        """(passed, total) over node cases whose operator has an importer; total counts every
        status but ``skipped``, so a supported op's rejected case counts against the rate.
        With ``exclude_types``, cases rejected for an element type or value kind Cortado does not
        have (float8, int4, strings, sequences) or for training mode are left out: they test
        something besides the operator."""
        ops = self.supported_ops()
        rel = [r for r in self.results if r.source == "node" and r.op in ops and r.status != "skipped"]
        if exclude_types:
            rel = [r for r in rel if not (r.status == "unsupported" and excluded_reason(r.detail))]
        return sum(r.status == "pass" for r in rel), len(rel)


EXCLUDED_REASONS = {"element type": "an element type Cortado does not have (float8, int4, string, ...)",
                    "not a tensor": "sequence / optional / map values",
                    "training": "training mode"}


def excluded_reason(detail: str) -> str | None:
    for key in EXCLUDED_REASONS:
        if key in detail:
            return key
    return None


# -- collecting ------------------------------------------------------------------------------
def _node_cases() -> list[Case]:
    from onnx import numpy_helper
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        raw = collect_testcases(None)
    op_of = {c.name: c.model.graph.node[0].op_type for c in raw if len(c.model.graph.node) == 1}
    cases = []
    for c in raw:
        base = re.sub(r"_expanded(_ver\d+)?$", "", c.name)
        op = op_of.get(base) or op_of.get(c.name) or "?"
        for k, (ins, outs) in enumerate(c.data_sets):
            conv = [_as_array(x, numpy_helper) for x in ins]
            exp = [_as_array(x, numpy_helper) for x in outs]
            name = c.name if len(c.data_sets) == 1 else f"{c.name}[{k}]"
            cases.append(Case(name, op, "node", c.model, conv, exp))
    return cases


def _as_array(x, numpy_helper):
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "dims") and hasattr(x, "data_type"):
        try:
            return numpy_helper.to_array(x)
        except Exception:
            return None
    if np.isscalar(x):
        return np.asarray(x)
    return None     # sequences, optionals, maps


def _data_cases(source: str) -> list[Case]:
    import onnx
    from onnx import numpy_helper

    root = Path(onnx.__file__).parent / "backend" / "test" / "data" / source
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        model_path = folder / "model.onnx"
        if not model_path.is_file():
            continue
        model = onnx.load(str(model_path))
        for ds in sorted(folder.glob("test_data_set_*")):
            ins = [_read_pb(p, numpy_helper) for p in sorted(ds.glob("input_*.pb"), key=_pb_index)]
            outs = [_read_pb(p, numpy_helper) for p in sorted(ds.glob("output_*.pb"), key=_pb_index)]
            suffix = "" if ds.name == "test_data_set_0" else f"[{ds.name[len('test_data_set_'):]}]"
            cases.append(Case(folder.name + suffix, folder.name, source, model, ins, outs))
    return cases


def _pb_index(p: Path) -> int:
    return int(p.stem.split("_")[-1])


def _read_pb(path: Path, numpy_helper):
    import onnx

    t = onnx.TensorProto()
    try:
        t.ParseFromString(path.read_bytes())
        if not t.dims and not t.raw_data and t.data_type == 0:
            return None
        return numpy_helper.to_array(t)
    except Exception:
        return None


def collect(sources=("node",) + DATA_SOURCES, pattern: str | None = None) -> list[Case]:
    cases: list[Case] = []
    if "node" in sources:
        cases += _node_cases()
    for s in DATA_SOURCES:
        if s in sources:
            cases += _data_cases(s)
    if pattern:
        rx = re.compile(pattern)
        cases = [c for c in cases if rx.search(c.name) or rx.search(c.op)]
    return cases


# -- running -----------------------------------------------------------------------------------
class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def compare(got: np.ndarray, expected: np.ndarray) -> str | None:
    """None when ``got`` matches ``expected``; else a short reason."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype} != expected {expected.dtype}"
    if got.shape != expected.shape:
        return f"shape {got.shape} != expected {expected.shape}"
    if expected.dtype.kind in "biuU" or expected.dtype == object:
        bad = got != expected
        if np.any(bad):
            return f"{int(bad.sum())}/{bad.size} elements differ (first at {np.argwhere(bad)[0].tolist()})"
        return None
    rtol, atol = TOLERANCES.get(expected.dtype.name, (1e-3, 1e-5))
    g, e = got.astype(np.float64), expected.astype(np.float64)
    with np.errstate(all="ignore"):
        close = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if not np.all(close):
        k = np.argwhere(~close)[0]
        return (f"{int((~close).sum())}/{close.size} elements differ beyond rtol={rtol}, atol={atol} "
                f"(at {k.tolist()}: {g[tuple(k)]!r} vs {e[tuple(k)]!r})")
    return None


_NEEDS_CONSTANT = re.compile(r"'([^']+)' depends on tensor data")


def freeze_inputs(model, values: dict):
    """A copy of ``model`` with the named graph inputs turned into initializers."""
    import onnx
    from onnx import numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [vi for vi in m.graph.input if vi.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    for name, arr in values.items():
        m.graph.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
    return m


def inputs_to_bind(error, feeds: dict, frozen: dict) -> dict:
    """The graph inputs an ``UnsupportedOpError`` says must be known at compile time. When
    the value it names is computed from inputs (a window length through a Cast, a Range's
    trip count), the small inputs (at most 64 elements) it may come from."""
    wanted = {n for _, _, why in error.items for n in _NEEDS_CONSTANT.findall(why)}
    new = {n: feeds[n] for n in wanted if n in feeds and n not in frozen and feeds[n] is not None}
    if not new and wanted:
        new = {n: a for n, a in feeds.items() if n not in frozen and a is not None and a.size <= 64}
    return new


def _compile_binding_shape_inputs(case: Case, opt_level: int, target: str = "interpreter"):
    """Compile; when the frontend needs a shape-like operand (axes, pads, sizes...) that the
    case feeds as a graph input, bind that input to the case's value and try again — the way a
    user freezes such inputs. Returns (model, frozen names)."""
    from cortado.runtime.errors import UnsupportedOpError

    from .driver import compile as compile_model

    inputs = [vi.name for vi in case.model.graph.input
              if vi.name not in {t.name for t in case.model.graph.initializer}]
    feeds = dict(zip(inputs, case.inputs))
    frozen: dict = {}
    model = case.model
    while True:
        try:
            return compile_model(model, target=target, opt_level=opt_level), tuple(frozen)
        except UnsupportedOpError as e:
            new = inputs_to_bind(e, feeds, frozen)
            if not new:
                raise
            frozen.update(new)
            model = freeze_inputs(case.model, frozen)


def run_case(case: Case, opt_level: int = 0, time_limit: int = CASE_SECONDS, target: str = "interpreter") -> Result:
    """Compile and run one case on ``target``; never raises."""
    from cortado.runtime.errors import UnsupportedOpError

    t0 = time.perf_counter()

    def done(status, detail=""):
        return Result(case.name, case.op, case.source, status, detail, time.perf_counter() - t0)

    size = sum(int(a.size) for a in case.inputs + case.outputs if a is not None)
    if size > MAX_ELEMENTS:
        return done("skipped", f"{size} elements > {MAX_ELEMENTS}")
    use_alarm = hasattr(signal, "SIGALRM") and time_limit > 0
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(time_limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                m, frozen = _compile_binding_shape_inputs(case, opt_level, target)
            except UnsupportedOpError as e:
                return done("unsupported", "; ".join(f"{op}: {why}" for op, _, why in e.items))
            names = [vi.name for vi in case.model.graph.input
                     if vi.name not in {t.name for t in case.model.graph.initializer}]
            if any(a is None for a in case.inputs):
                return done("error", "compiled a model whose inputs are not all tensors")
            feeds = dict(zip(names, case.inputs))
            feeds = {k: v for k, v in feeds.items() if k in m.input_names}
            outs = m.run(feeds)
            problems = []
            for name, exp in zip(m.output_names, case.outputs):
                if exp is None:
                    continue
                why = compare(outs[name], exp)
                if why:
                    problems.append(f"{name}: {why}")
            r = done("fail", "; ".join(problems)) if problems else done("pass")
            r.frozen = frozen
            if frozen:
                r.detail = (r.detail + "; " if r.detail else "") + f"bound inputs {', '.join(frozen)}"
            return r
    except _Timeout:
        return done("fail", f"timed out after {time_limit}s")
    except Exception as e:  # a crash is a result to report, not a reason to stop
        last = traceback.extract_tb(e.__traceback__)[-1]
        return done("error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                             f"[{Path(last.filename).name}:{last.lineno}]")
    finally:
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)


_CASES: list[Case] = []
_OPT = 0
_TARGET = "interpreter"


def _work(i: int) -> Result:
    return run_case(_CASES[i], _OPT, target=_TARGET)


def run(sources=("node",) + DATA_SOURCES, *, pattern: str | None = None, jobs: int | None = None,
        opt_level: int = 0, progress=None, target: str = "interpreter") -> Report:
    """Run the conformance cases (in ``jobs`` worker processes) on ``target`` and return the
    report."""
    global _CASES, _OPT, _TARGET
    t0 = time.perf_counter()
    _CASES, _OPT, _TARGET = collect(sources, pattern), opt_level, target
    jobs = jobs or os.cpu_count() or 1
    results: list[Result] = []
    order = sorted(range(len(_CASES)), key=lambda i: -_case_size(_CASES[i]))   # big ones first
    if jobs > 1 and len(_CASES) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ctx.Pool(jobs) as pool:
            for r in pool.imap_unordered(_work, order, chunksize=4):
                results.append(r)
                if progress:
                    progress(len(results), len(_CASES), r)
    else:
        for i in order:
            results.append(_work(i))
            if progress:
                progress(len(results), len(_CASES), results[-1])
    rank = {c.name: i for i, c in enumerate(_CASES)}
    results.sort(key=lambda r: rank[r.name])
    return Report(results, time.perf_counter() - t0, opt_level)


def _case_size(c: Case) -> int:
    return sum(int(a.size) for a in c.inputs + c.outputs if a is not None)


# -- reporting ---------------------------------------------------------------------------------
def table_rows(report: Report, source: str = "node") -> list[tuple[str, Counter]]:
    groups: dict[str, Counter] = defaultdict(Counter)
    for r in report.results:
        if r.source == source:
            groups[r.op][r.status] += 1
    return sorted(groups.items())


def format_report(report: Report, *, markdown: bool = False, details: bool = True) -> str:
    lines: list[str] = []
    head = ("op", "cases") + STATUSES

    def row(cells):
        if markdown:
            return "| " + " | ".join(str(c) for c in cells) + " |"
        return f"{cells[0]:<34}" + "".join(f"{c:>12}" for c in cells[1:])

    for source in ("node",) + DATA_SOURCES:
        rows = table_rows(report, source)
        if not rows:
            continue
        lines.append("")
        lines.append(f"## {source} cases" if markdown else f"== {source} cases ==")
        lines.append(row(head))
        if markdown:
            lines.append("|" + "---|" * len(head))
        for op, c in rows:
            lines.append(row((op, sum(c.values())) + tuple(c.get(s, 0) for s in STATUSES)))
        tot = report.by_status(source)
        lines.append(row(("TOTAL", sum(tot.values())) + tuple(tot.get(s, 0) for s in STATUSES)))
    tot = report.by_status()
    passed, total = report.supported_pass_rate()
    lines.append("")
    lines.append(f"all sources: {sum(tot.values())} cases, " + ", ".join(f"{tot.get(s, 0)} {s}" for s in STATUSES))
    pct = 100.0 * passed / total if total else 0.0
    lines.append(f"node cases of supported ops: {passed}/{total} pass ({pct:.1f}%)")
    p2, t2 = report.supported_pass_rate(exclude_types=True)
    ops = report.supported_ops()
    why = Counter(excluded_reason(r.detail) for r in report.results
                  if r.source == "node" and r.op in ops and r.status == "unsupported" and excluded_reason(r.detail))
    lines.append(f"  leaving out {t - t2 if (t := total) else 0} cases rejected for "
                 + ", ".join(f"{EXCLUDED_REASONS[k]} ({n})" for k, n in sorted(why.items()))
                 + f": {p2}/{t2} pass ({100.0 * p2 / t2 if t2 else 0.0:.1f}%)")
    bound = sum(1 for r in report.results if r.status == "pass" and r.frozen)
    lines.append(f"{bound} of the passes bind shape-like graph inputs (axes, pads, sizes, ...) to the case's "
                 "values as constants first")
    lines.append(f"opt_level {report.opt_level}, {report.seconds:.1f} s")
    if details:
        bad = [r for r in report.results if r.status in ("fail", "error", "skipped")]
        if bad:
            lines.append("")
            lines.append("not passing (fail / error / skipped):")
            for r in bad:
                lines.append(f"  [{r.status}] {r.source}/{r.name}: {r.detail[:300]}")
    return "\n".join(lines).lstrip("\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cortado.conformance", description=__doc__.split("\n\n")[0])
    p.add_argument("-k", "--filter", help="regular expression over case names and op names")
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("-O", "--opt-level", type=int, default=0, choices=(0, 1, 2, 3))
    p.add_argument("--sources", default=",".join(("node",) + DATA_SOURCES),
                   help="comma-separated: node, " + ", ".join(DATA_SOURCES))
    p.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    p.add_argument("--unsupported", action="store_true", help="also list every unsupported case and why")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("--target", default="interpreter", choices=("interpreter", "cpu"),
                   help="where the cases run (default: the interpreter)")
    args = p.parse_args(argv)
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())

    def progress(done, total, r):
        if not args.quiet and sys.stderr.isatty():
            sys.stderr.write(f"\r{done}/{total} {r.status:<11} {r.name[:50]:<50}")
            sys.stderr.flush()

    report = run(sources, pattern=args.filter, jobs=args.jobs, opt_level=args.opt_level, progress=progress,
                 target=args.target)
    if not args.quiet and sys.stderr.isatty():
        sys.stderr.write("\n")
    print(format_report(report, markdown=args.markdown))
    if args.unsupported:
        print("\nunsupported:")
        for r in report.results:
            if r.status == "unsupported":
                print(f"  {r.source}/{r.name}: {r.detail[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
