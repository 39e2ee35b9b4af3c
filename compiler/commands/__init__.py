"""CLI subcommands: one module each, with ``register(subparsers)`` and ``run(args)``.

``COMMANDS`` lists them in the order ``cortado --help`` shows them.
"""

from . import compile, run

COMMANDS = [compile, run]
