"""CLI subcommands: one module each, with ``register(subparsers)`` and ``run(args)``.

``COMMANDS`` lists them in the order ``cortado --help`` shows them.
"""

from . import bench, check, compile, convert, debug_numerics, inspect, run, serve, sign

COMMANDS = [compile, run, check, inspect, convert, debug_numerics, bench, serve, sign]
