"""The pre-namespace spellings (``import compiler``, ``from runtime.devices import ...``), for one
release.

Before 0.2 the four source folders were importable as top-level packages. They are now
installed as ``cortado`` (compiler/), ``cortado.passes``, ``cortado.codegen`` and
``cortado.runtime``, and only a source checkout on ``sys.path`` can still reach the old names.
Importing one warns once and hands back the ``cortado`` module itself (never a second copy,
so classes and registries stay one), and every dotted name below it is aliased the same way.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

OLD_TO_NEW = {"compiler": "cortado", "passes": "cortado.passes", "codegen": "cortado.codegen",
              "runtime": "cortado.runtime"}


def _new_name(old: str) -> str | None:
    top, dot, rest = old.partition(".")
    return OLD_TO_NEW[top] + dot + rest if top in OLD_TO_NEW else None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str):
        self.new = new

    def create_module(self, spec):
        return importlib.import_module(self.new)

    def exec_module(self, module):
        """The module was executed under its ``cortado`` name already."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = _new_name(fullname)
        if new is None or "." not in fullname:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def alias_old_name(old: str) -> None:
    """Called by a package ``__init__`` executing under its old top-level name ``old``."""
    warnings.warn(f"'import {old}' is deprecated: write 'import {OLD_TO_NEW[old]}' (the old names go in the "
                  "next release)", DeprecationWarning, stacklevel=3)
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
    sys.modules[old] = importlib.import_module(OLD_TO_NEW[old])
