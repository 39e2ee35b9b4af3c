"""The ``cortado`` command line.

Every user-caused error (a bad file, a bad shape, an unsupported op) ends with one message on
stderr and exit code 2; outputs are written atomically, so a failed command leaves no
half-written file behind. Subcommands live in ``cortado.commands``, one module each.
"""

from __future__ import annotations

import argparse
import sys

from cortado.runtime.errors import CortadoError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    from .commands import COMMANDS

    p = argparse.ArgumentParser(prog="cortado", description="Compile ONNX and Caffe models into fused Triton kernels.")
    p.add_argument("--version", action="version", version="cortado 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return args.func(args)
    except CortadoError as e:
        print(f"cortado {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        # the file system refused a path the user gave (missing folder, permissions, disk full):
        # the user's to fix, so one message naming the path, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"cortado {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print(f"cortado {args.command}: error: out of memory", file=sys.stderr)
        print("  hint: use smaller input shapes, or refuse large tensors early with --max-elements",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cortado: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
