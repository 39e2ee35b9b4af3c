"""The flags every subcommand shares, defined once so that they mean the same thing everywhere.

    MODEL                      model.onnx, net.prototxt (Caffe) or, where a command runs one,
                               a .cortado artifact
    --input NAME=FILE.npy|random|DIMS   input data; a file also fixes NAME's dims when compiling,
                               and dims (1x3x224x224) mean random data of those dims, as --shape
    --shape NAME=DIMS          an input's dims, e.g. image=1x3x224x224 or image=Nx3xHxW (names: symbolic)
    --weights W / --random-weights   a Caffe net's .caffemodel, or seeded random weights
    --target T                 auto | cuda | cpu | interpreter
    --dtype D                  float32 | float16 | bfloat16
    -O N                       optimization level 0..3
    -q / --quiet               no progress display and no notices

A command that has no use for a flag does not offer it; a command that offers one honours it
or refuses it with a message (``refuse_compile_flags``), never ignores it.
``tests/test_cli.py`` walks every subcommand's ``--help`` and holds them to this.
"""

from __future__ import annotations

import argparse

TARGETS = ("auto", "cuda", "cpu", "interpreter")
DTYPES = ("float32", "float16", "bfloat16")
OPT_LEVELS = (0, 1, 2, 3)

MODEL_HELP = "model.onnx or net.prototxt (Caffe; its weights with --weights)"
RUNNABLE_HELP = MODEL_HELP + ", or a compiled .cortado artifact"
INPUT_HELP = ("input data: a .npy file (read without unpickling), 'random' (seeded) or dims such as "
              "1x3x224x224 (seeded random data of those dims: the same as --shape NAME=DIMS); a file "
              "also fixes NAME's dims when the model is compiled. Repeat for each input")
SHAPE_HELP = ("an input's dims, e.g. data=1x3x224x224; a name keeps a dim symbolic at any axis (data=Nx3xHxW). "
              "Repeat per input")
WEIGHTS_HELP = "the Caffe net's .caffemodel weights"
RANDOM_WEIGHTS_HELP = "seeded random weights for a Caffe net without a .caffemodel (a notice says so)"
TARGET_HELP = ("where kernels run: auto (a GPU when present, else cpu), cuda, cpu (numpy kernels) or interpreter "
               "(the Triton kernels on Triton's CPU interpreter)")
DTYPE_HELP = ("storage type of float tensors; float16/bfloat16 keep float32 accumulation and float32 "
              "model inputs/outputs")
OPT_HELP = "optimization level: 0 none, 1 cleanup, 2 fusion (default), 3 autotuning on a GPU"
QUIET_HELP = "no progress display and no notices"


def add_model(p: argparse.ArgumentParser, *, runnable: bool = False) -> None:
    p.add_argument("model", metavar="MODEL", help=RUNNABLE_HELP if runnable else MODEL_HELP)


def add_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy|random|DIMS", help=INPUT_HELP)


def add_shape(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS", help=SHAPE_HELP)


def add_weights(p: argparse.ArgumentParser) -> None:
    w = p.add_mutually_exclusive_group()
    w.add_argument("--weights", metavar="W", help=WEIGHTS_HELP)
    w.add_argument("--random-weights", action="store_true", help=RANDOM_WEIGHTS_HELP)


def add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="auto", choices=TARGETS, metavar="T", help=TARGET_HELP)


def add_dtype(p: argparse.ArgumentParser) -> None:
    # default None: an artifact keeps the dtype it was compiled with, so an explicit --dtype on
    # one can be checked instead of silently overridden
    p.add_argument("--dtype", default=None, choices=DTYPES, metavar="D", help=DTYPE_HELP)


def add_opt_level(p: argparse.ArgumentParser) -> None:
    p.add_argument("-O", dest="opt_level", type=int, default=None, choices=OPT_LEVELS, metavar="N", help=OPT_HELP)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)


def add_compile_flags(p: argparse.ArgumentParser, *, target: bool = True, dtype: bool = True,
                      opt: bool = True) -> None:
    """The flags that say how a model is read and compiled."""
    add_shape(p)
    add_weights(p)
    if target:
        add_target(p)
    if dtype:
        add_dtype(p)
    if opt:
        add_opt_level(p)


def dtype_of(args) -> str:
    return getattr(args, "dtype", None) or "float32"


def opt_level_of(args) -> int:
    level = getattr(args, "opt_level", None)
    return 2 if level is None else level


COMPILE_ONLY = (("weights", "--weights"), ("random_weights", "--random-weights"), ("opt_level", "-O"))


def refuse_compile_flags(args, artifact_path: str, plan: dict | None = None) -> None:
    """An artifact is compiled already: the flags that choose how to compile are refused, not
    ignored. ``--dtype`` is accepted when it names the dtype the artifact was compiled with."""
    from cortado.runtime.errors import CortadoError

    given = [flag for attr, flag in COMPILE_ONLY if getattr(args, attr, None) not in (None, False)]
    if given:
        raise CortadoError(f"{' and '.join(given)} {'chooses' if len(given) == 1 else 'choose'} how a model is "
                           f"compiled, but {artifact_path} is a compiled artifact", hint="give the .onnx or .prototxt model instead, or drop "
                           f"{' and '.join(given)}")
    wanted = getattr(args, "dtype", None)
    have = ((plan or {}).get("precision") or {}).get("dtype", "float32")
    if wanted is not None and wanted != have:
        raise CortadoError(f"{artifact_path} was compiled for --dtype {have}, not {wanted}",
                           hint=f"recompile it: cortado compile MODEL --dtype {wanted}")


def check_target(args) -> None:
    """Refuse a --target this machine cannot run (``--target cuda`` without a GPU) before any
    slow import or compile."""
    if getattr(args, "target", "auto") == "cuda":
        from cortado.runtime.devices import resolve_target

        resolve_target("cuda")
