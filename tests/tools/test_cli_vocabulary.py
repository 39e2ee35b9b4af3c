"""One vocabulary across every subcommand: ``--input NAME=FILE.npy|random|DIMS`` is data
(dims: seeded random data of those dims, the compile spelling of DESIGN.md), ``--shape
NAME=DIMS`` is dims, and ``--weights``, ``--target``, ``--dtype``, ``-O`` and ``-q``
mean the same wherever they appear; a flag is honoured or refused, never ignored."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from cortado.cli import build_parser
from cortado.commands import flags

# flag -> (metavar, help) as every subcommand must show it
SHARED = {
    "--input": ("NAME=FILE.npy|random|DIMS", flags.INPUT_HELP),
    "--shape": ("NAME=DIMS", flags.SHAPE_HELP),
    "--weights": ("W", flags.WEIGHTS_HELP),
    "--random-weights": (None, flags.RANDOM_WEIGHTS_HELP),
    "--target": ("T", flags.TARGET_HELP),
    "--dtype": ("D", flags.DTYPE_HELP),
    "-O": ("N", flags.OPT_HELP),
    "-q": (None, flags.QUIET_HELP),
}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_subcommand_gives_shared_flags_one_meaning():
    commands = _subcommands()
    assert {"compile", "run", "check", "inspect", "convert", "debug-numerics", "bench"} <= set(commands)
    seen = {flag: [] for flag in SHARED}
    for name, p in commands.items():
        text = p.format_help()     # every --help renders
        assert text.startswith(f"usage: cortado {name}")
        for action in p._actions:
            for flag in action.option_strings:
                if flag in SHARED:
                    metavar, help_text = SHARED[flag]
                    assert (action.metavar, action.help) == (metavar, help_text), (name, flag)
                    seen[flag].append(name)
    # each shared flag is offered by several commands, so the check above compares something
    assert all(len(v) >= 2 for v in seen.values()), seen
    for name in ("compile", "run", "check", "inspect", "convert", "debug-numerics", "bench"):
        assert "--weights" in commands[name].format_help(), f"{name} must accept Caffe nets with their weights"


def test_input_with_dims_means_random_data_of_those_dims(cortado, tiny, tmp_path):
    """``--input NAME=DIMS`` is ``--shape NAME=DIMS``: the compile spelling of the design
    contract works for compile and run alike, and a disagreement with --shape is refused."""
    r = cortado("run", tiny, "--input", "image=2x3x32x32", "--target", "cpu")
    assert r.returncode == 0, r.stderr
    assert "probs: float32[2, 10]" in r.stdout
    art = tmp_path / "tiny.cortado"
    r = cortado("compile", tiny, "--input", "image=1x3x32x32", "-o", art, "-q")
    assert r.returncode == 0, r.stderr
    from cortado import runtime
    assert runtime.load(art, target="cpu").inputs[0]["shape"] == [1, 3, 32, 32]
    r = cortado("run", tiny, "--input", "image=2x3x32x32", "--shape", "image=3x3x32x32")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "disagrees" in r.stderr
    r = cortado("compile", tiny, "--input", "image=2x3x32x32", "--shape", "image=3x3x32x32",
                "-o", tmp_path / "no.cortado")
    assert r.returncode == 2 and "disagrees" in r.stderr and not (tmp_path / "no.cortado").exists()


def test_run_honours_shape_on_an_artifact_and_refuses_compile_flags(tiny, tmp_path, capsys):
    from cortado.cli import main

    art = tmp_path / "tiny.cortado"
    assert main(["compile", str(tiny), "-o", str(art), "--target", "interpreter", "-q"]) == 0
    capsys.readouterr()
    assert main(["run", str(art), "--shape", "image=3x3x32x32", "--target", "interpreter", "-q"]) == 0
    assert "probs: float32[3, 10]" in capsys.readouterr().out
    assert main(["run", str(art), "--shape", "image=3x3x16x16", "--target", "interpreter", "-q"]) == 2
    assert "(N, 3, 32, 32)" in capsys.readouterr().err
    for extra in (["-O", "1"], ["--random-weights"], ["--dtype", "float16"]):
        assert main(["run", str(art), *extra, "--target", "interpreter", "-q"]) == 2, extra
        err = capsys.readouterr().err
        assert "is a compiled artifact" in err or "was compiled for --dtype float32, not float16" in err, err
    assert main(["run", str(art), "--dtype", "float32", "--target", "interpreter", "-q"]) == 0


def test_input_file_fixes_dims_when_compiling(cortado, tiny, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 32, 32), np.float32))
    art = tmp_path / "two.cortado"
    r = cortado("compile", tiny, "--input", f"image={tmp_path / 'x.npy'}", "-o", art, "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stderr
    inputs = json.loads((art / "manifest.json").read_text())["plan"]["inputs"]
    assert inputs[0]["shape"] == [2, 3, 32, 32]
    r = cortado("compile", tiny, "--input", f"image={tmp_path / 'x.npy'}", "--shape", "image=4x3x32x32",
                "-o", tmp_path / "no.cortado")
    assert r.returncode == 2 and "disagrees" in r.stderr and not (tmp_path / "no.cortado").exists()


@pytest.mark.parametrize("args", [("compile", "--dtype", "float64"), ("run", "--target", "tpu"), ("check", "-O", "2")])
def test_unknown_values_and_flags_are_refused(cortado, tiny, args):
    r = cortado(args[0], tiny, *args[1:])
    assert r.returncode == 2 and "Traceback" not in r.stderr
