"""CLI subcommands: one module each, with ``register(subparsers)`` and ``run(args)``.

``COMMANDS`` lists them in the order ``cortado --help`` shows them.
"""

from . import compile, convert, run

COMMANDS = [compile, run, convert]
