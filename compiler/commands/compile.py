"""``cortado compile``: a model into a .cortado artifact (optionally with cubins)."""

from __future__ import annotations

from pathlib import Path

from ..progress import Progress
from . import flags
from .common import add_limit_flag, check_destination, feeds_for, fmt_bytes, input_shapes, random_input

REPRO_SEED = 0


def register(sub) -> None:
    c = sub.add_parser("compile", help="compile a model into a .cortado artifact")
    flags.add_model(c)
    c.add_argument("-o", "--output", help="artifact path (folder, or .zip); default MODEL.cortado")
    flags.add_compile_flags(c)
    flags.add_input(c)
    c.add_argument("--no-tf32", dest="allow_tf32", action="store_false",
                   help="exact float32 dots on GPUs (tf32 tensor cores are used by default where present)")
    c.add_argument("--arch", help="also compile kernels ahead of time, e.g. sm_80,sm_90")
    c.add_argument("--repro", metavar="DIR", help="also write each distinct kernel as a standalone script "
                   "(inputs, launch, numpy reference) into DIR")
    c.add_argument("--disable", action="append", default=[], metavar="PASS",
                   help="skip a graph pass by name (repeat or comma-separate; an unknown name lists them)")
    c.add_argument("--dump-after", action="append", default=[], metavar="PASS",
                   help="print the graph to stderr after a pass (repeat or comma-separate)")
    add_limit_flag(c)
    flags.add_quiet(c)
    c.set_defaults(func=run)


def pass_list(items) -> tuple[str, ...]:
    """--disable a,b --disable c -> ("a", "b", "c")."""
    return tuple(name.strip() for item in items for name in item.split(",") if name.strip())


def run(args) -> int:
    with Progress(enabled=not args.quiet) as progress:
        return _run(args, progress)


def _run(args, progress) -> int:
    from cortado.runtime.artifact import check_destination as check_artifact_destination

    from ..driver import compile as compile_model

    flags.check_target(args)
    archs = None
    if args.arch:
        from cortado.codegen.aot import parse_archs

        archs = parse_archs(args.arch)   # before the compile: a typo fails fast
    out = args.output or (Path(args.model).stem + ".cortado")
    check_artifact_destination(out)
    if args.repro:
        check_destination(args.repro, "--repro", folder=True)
    model = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                          input_shapes=input_shapes(args), target=args.target, dtype=flags.dtype_of(args),
                          opt_level=flags.opt_level_of(args), allow_tf32=args.allow_tf32, progress=progress.step,
                          max_elements=args.max_elements, disable=pass_list(args.disable),
                          dump_after=pass_list(args.dump_after))
    if archs:
        from cortado.codegen.aot import attach_cubins

        progress.step(f"compiling kernels for {', '.join(archs)}")
        attach_cubins(model, archs)
    progress.step("saving artifact")
    model.save(out)
    scripts = None
    if args.repro:
        import numpy as np

        from cortado.codegen.repro import write_repro

        # the --input data where given (with seeded random data for the other inputs), else one
        # seeded stream for all inputs; the model's input dims already hold any --shape
        rng = np.random.default_rng(REPRO_SEED)
        feeds = feeds_for(model, args) if args.input else {
            info["name"]: random_input(info, rng) for info in model.inputs}
        scripts = write_repro(model, args.repro, feeds, seed=REPRO_SEED, progress=progress.step)
    progress.done()
    s = model.stats
    print(f"compiled {args.model} -> {out}")
    print(f"  nodes {s['nodes_in']} -> {s['nodes_out']}, kernels {s['kernels']} ({s['unique_kernels']} distinct), "
          f"peak {fmt_bytes(s['peak_bytes'])}, est. HBM traffic {fmt_bytes(s['est_hbm_bytes'])}, "
          f"{s['compile_seconds']:.2f}s")
    if scripts is not None:
        print(f"  wrote {len(scripts)} kernel repro script(s) to {args.repro} (python {args.repro}/<kernel>.py)")
    return 0
