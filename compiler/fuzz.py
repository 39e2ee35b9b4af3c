"""Differential fuzzing: random valid ONNX models through Cortado and onnxruntime.

Hypothesis draws models (``cortado.testing.onnx_models``); each runs through onnxruntime and
through Cortado at every requested opt level (default O0 and O2, interpreter target), and the
outputs are compared with the per-dtype tolerances of ``cortado.testing.reference`` (NaN and
infinities must match exactly). A *crash* is any exception from Cortado on a valid model —
including a ``CortadoError``, since the strategy draws only supported ops; a *mismatch* is an
output outside tolerance. A failure is shrunk by hypothesis to a minimal model, which is saved
as ``.onnx`` (its input seed in its metadata) for a regression test, and fuzzing goes on with
the next seed.

    python -m cortado.fuzz --minutes 10                   # until the time is up
    python -m cortado.fuzz --models 1000 --save DIR       # a fixed number of random models
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import onnx

from .testing.onnx_models import FuzzCase, feeds_for, onnx_models
from .testing.reference import assert_close, run_onnxruntime

__all__ = ["Finding", "Summary", "check_model", "fuzz", "main"]


@dataclass
class Finding:
    kind: str            # "crash", "mismatch", or "invalid" (onnxruntime refused the drawn model)
    opt_level: int
    detail: str
    case: FuzzCase | None = None
    saved: Path | None = None

    def headline(self) -> str:
        first = self.detail.strip().splitlines()[-1] if self.kind == "crash" else self.detail.strip().splitlines()[0]
        ops = " -> ".join(self.case.ops) if self.case else "?"
        return f"{self.kind} at O{self.opt_level} [{ops}]: {first[:200]}"


@dataclass
class Summary:
    models: int = 0              # random models drawn and checked (not counting shrink steps)
    runs: int = 0                # every model checked, shrink steps included
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)   # distinct minimal models
    repeats: int = 0             # failures that shrank to a model already found
    op_counts: dict[str, int] = field(default_factory=dict)

    @property
    def crashes(self) -> int:
        return sum(f.kind == "crash" for f in self.findings)

    @property
    def invalid(self) -> int:
        return sum(f.kind == "invalid" for f in self.findings)

    @property
    def mismatches(self) -> int:
        return sum(f.kind == "mismatch" for f in self.findings)

    def report(self) -> str:
        lines = [f"models run: {self.models} (with shrink steps: {self.runs}) in {self.seconds:.0f}s",
                 f"mismatches: {self.mismatches}", f"crashes: {self.crashes}"]
        if self.invalid:
            lines.append(f"invalid models drawn (a bug in the strategy): {self.invalid}")
        if self.repeats:
            lines.append(f"failures that shrank to an already reported model: {self.repeats}")
        for f in self.findings:
            lines.append(f"  {f.headline()}" + (f"\n    saved: {f.saved}" if f.saved else ""))
        top = sorted(self.op_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append("ops drawn: " + ", ".join(f"{op} {n}" for op, n in top))
        return "\n".join(lines)


def run_cortado(model: onnx.ModelProto, feeds, opt_level: int, target: str = "interpreter") -> list[np.ndarray]:
    """Compile and run; the plan must also pass the artifact loader's structural checks."""
    from cortado.runtime.plan_check import check_plan

    from .driver import compile as compile_model

    m = compile_model(model, target=target, opt_level=opt_level)
    check_plan(m.plan, m.constants, m.source)
    outs = m.run(feeds)
    return [outs[o.name] for o in model.graph.output]


def check_model(model: onnx.ModelProto, feeds=None, *, opt_levels: Sequence[int] = (0, 2),
                target: str = "interpreter", runner: Callable = run_cortado) -> Finding | None:
    """Compare Cortado with onnxruntime on one model; the first difference, or None."""
    feeds = feeds if feeds is not None else feeds_for(model)
    try:
        expected = run_onnxruntime(model, feeds)
    except Exception:   # the strategy drew a model onnxruntime refuses: a bug in the strategy
        return Finding("invalid", -1, traceback.format_exc(limit=4))
    for level in opt_levels:
        try:
            got = runner(model, feeds, level, target)
        except Exception:   # any exception on a valid model is a finding, CortadoError included
            return Finding("crash", level, traceback.format_exc(limit=12))
        for out, a, e in zip(model.graph.output, got, expected):
            try:
                assert_close(a, e, "float32", what=f"output {out.name!r}")
            except AssertionError as err:
                return Finding("mismatch", level, str(err))
    return None


class _Failed(Exception):
    pass


def save_case(case: FuzzCase, finding: Finding, folder: Path) -> Path:
    """Write the model as ``<kind>_<hash>.onnx``; its doc string says what went wrong."""
    folder.mkdir(parents=True, exist_ok=True)
    model = onnx.ModelProto.FromString(case.model.SerializeToString())
    model.doc_string = f"cortado fuzz finding: {finding.headline()}"
    data = model.SerializeToString()
    path = folder / f"{finding.kind}_{hashlib.sha256(data).hexdigest()[:12]}.onnx"
    from cortado.runtime.loader import write_atomic

    write_atomic(path, data)
    return path


def fuzz(*, models: int | None = None, seconds: float | None = None, seed: int = 0, max_ops: int = 6,
         opt_levels: Sequence[int] = (0, 2), save_dir: Path | str | None = None, batch: int = 25,
         runner: Callable = run_cortado, derandomize: bool = False, progress: Callable[[str], None] | None = None,
         families: tuple[str, ...] | None = None, target: str = "interpreter") -> Summary:
    """Check random models until ``models`` have run or ``seconds`` have passed (whichever is
    given first) on ``target``; shrink and save each failure. Returns the counts and findings."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    if models is None and seconds is None:
        raise ValueError("give models= or seconds=")
    import onnxruntime

    onnxruntime.set_default_logger_severity(4)     # models that fail in Cortado are reported here
    summary = Summary()
    start = time.perf_counter()
    say = progress or (lambda msg: None)

    def time_left() -> bool:
        return seconds is None or time.perf_counter() - start < seconds

    def wanted() -> bool:
        return (models is None or summary.models < models) and time_left()

    round_no = 0
    while wanted():
        state = {"failed": None, "last": None}
        todo = batch if models is None else min(batch, models - summary.models)

        @hseed(seed * 100_003 + round_no)
        @settings(max_examples=todo, deadline=None, database=None, derandomize=derandomize,
                  phases=[Phase.generate, Phase.shrink], verbosity=Verbosity.quiet, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck))
        @given(onnx_models(max_ops=max_ops, families=families))
        def one(case: FuzzCase) -> None:
            if state["failed"] is None:
                if not wanted():
                    return
                summary.models += 1
                for op in case.ops:
                    summary.op_counts[op] = summary.op_counts.get(op, 0) + 1
            summary.runs += 1
            finding = check_model(case.model, case.feeds, opt_levels=opt_levels, target=target, runner=runner)
            if finding is not None:
                finding.case = case
                state["failed"] = state["failed"] or finding
                state["last"] = finding
                raise _Failed(finding.headline())

        try:
            one()
        except Exception:   # the shrunk failure (or a flaky one): recorded below, fuzzing goes on
            pass
        if state["last"] is not None:
            finding = state["last"]            # hypothesis replays the minimal example last
            key = finding.case.model.SerializeToString()
            if any(f.case.model.SerializeToString() == key for f in summary.findings):
                summary.repeats += 1               # the same minimal model again: one bug, counted once
            else:
                if save_dir is not None:
                    finding.saved = save_case(finding.case, finding, Path(save_dir))
                summary.findings.append(finding)
                say(f"found: {finding.headline()}")
        round_no += 1
        summary.seconds = time.perf_counter() - start
        say(f"{summary.models} models, {summary.mismatches} mismatches, {summary.crashes} crashes, "
            f"{summary.seconds:.0f}s")
    summary.seconds = time.perf_counter() - start
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cortado.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, help="fuzz for this long")
    p.add_argument("--models", type=int, help="fuzz this many random models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-ops", type=int, default=6, help="ops per model (at most)")
    p.add_argument("-O", dest="opt_levels", default="0,2", help="opt levels to compare, e.g. 0,2")
    p.add_argument("--save", default="fuzz-findings", help="folder for minimal failing models (.onnx)")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.minutes is None and args.models is None:
        args.minutes = 1.0
    levels = tuple(int(x) for x in args.opt_levels.split(","))
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    summary = fuzz(models=args.models, seconds=None if args.minutes is None else args.minutes * 60,
                   seed=args.seed, max_ops=args.max_ops, opt_levels=levels, save_dir=args.save, progress=say)
    print(summary.report())
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main())
