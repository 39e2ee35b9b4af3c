"""Every IR operator, registered once (see ``registry``), plus the reference evaluator and the
full verifier."""

from . import (control, conv, dynamic, elementwise, generate, indexing, linalg, movement, normalize, pool, reduce, resize,  # noqa: F401
               scan, slicing)  # (registration)
from .registry import (Category, NoAttrs, OpDef, all_ops, apply, get_op, infer_types, make_attrs,
                       register_op, run_reference)
from .evaluate import evaluate
from .verify import verify

__all__ = ["Category", "NoAttrs", "OpDef", "all_ops", "apply", "evaluate", "get_op", "infer_types",
           "make_attrs", "register_op", "run_reference", "verify"]
