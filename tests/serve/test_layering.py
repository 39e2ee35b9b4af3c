"""The serving code keeps to the runtime: a serving machine needs no compiler, and the runtime
itself imports no serving dependency."""

import subprocess
import sys

import pytest

pytest.importorskip("ray.serve", reason="cortado serve needs the serve extra: pip install -e '.[serve]'")

CODE = """
import sys
import cortado.runtime
extra = sorted({k.split('.')[0] for k in sys.modules} & {'ray', 'starlette', 'grpc', 'cryptography', 'tritonclient'})
assert not extra, f'cortado.runtime imported {extra}'
import cortado.runtime.serve.app, cortado.runtime.serve.adapter, cortado.runtime.serve.ingress
bad = [k for k in sys.modules if k.split('.')[0] in ('onnx', 'networkx', 'lark')
       or (k.startswith('cortado.') and not k.startswith('cortado.runtime'))]
assert not bad, bad
"""


def test_serving_imports_only_the_runtime_and_the_runtime_no_serving():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
