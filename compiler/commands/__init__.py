"""CLI subcommands: one module each, with ``register(subparsers)`` and ``run(args)``.

``COMMANDS`` lists them in the order ``cortado --help`` shows them.
"""

from . import compile, debug_numerics, inspect, run

COMMANDS = [compile, run, inspect, debug_numerics]
