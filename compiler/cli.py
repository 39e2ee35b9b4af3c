"""The ``cortado`` command line.

Every user-caused error (a bad file, a bad shape, an unsupported op, an optional dependency
that is not installed) ends with one message on stderr, in CLI words, and exit code 2;
outputs are written atomically, so a failed or interrupted command leaves no half-written
file behind. As Unix tools do, a closed pipe (``cortado check big.onnx | head -2``) ends the
command quietly, and Ctrl-C ends it with status 130 and no traceback.

Subcommands live in ``cortado.commands``, one module each, sharing the flags of
``cortado.commands.flags``. Nothing heavy (numpy, onnx, triton) is imported until a command
runs, so ``cortado --help`` answers at once (``benchmarks/cli_startup.py`` measures it).
"""

from __future__ import annotations

import argparse
import os
import sys

from cortado.runtime.errors import CortadoError

EXIT_USER_ERROR = 2
EXIT_BROKEN_PIPE = 141      # 128 + SIGPIPE, what a shell reports for a tool killed by the pipe
EXIT_INTERRUPTED = 130      # 128 + SIGINT


def build_parser() -> argparse.ArgumentParser:
    from .commands import COMMANDS

    p = argparse.ArgumentParser(prog="cortado", description="Compile ONNX and Caffe models into fused Triton kernels.")
    p.add_argument("--version", action="version", version="cortado 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


def _error(command: str | None, text: str) -> None:
    from .commands.messages import to_cli

    print(f"cortado{' ' + command if command else ''}: error: {to_cli(text)}", file=sys.stderr)


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's final flush
    cannot raise again (the recipe of the Python docs for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("cortado: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from .commands.common import missing_extra_message
    from .commands.messages import notices

    try:
        with notices(getattr(args, "quiet", False)):
            status = args.func(args)
        sys.stdout.flush()      # a closed pipe shows here, inside the handler, not at exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except CortadoError as e:
        _error(args.command, str(e))
        return EXIT_USER_ERROR
    except ModuleNotFoundError as e:
        # an optional dependency (onnxruntime, matplotlib, cuda-core, ray) a command reached for
        if e.name and e.name.split(".")[0] in ("onnxruntime", "matplotlib", "cuda", "ray"):
            _error(args.command, missing_extra_message(e.name))
            return EXIT_USER_ERROR
        raise
    except OSError as e:
        # the file system refused a path the user gave (missing folder, permissions, disk full):
        # the user's to fix, so one message naming the path, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        _error(args.command, f"{where}{e.strerror or e}")
        return EXIT_USER_ERROR
    except MemoryError:
        _error(args.command, "out of memory\n  hint: use smaller input shapes, or refuse large tensors early "
                             "with --max-elements")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cortado: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
