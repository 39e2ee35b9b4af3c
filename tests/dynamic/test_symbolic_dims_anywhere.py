"""Any dim may be symbolic: a transformer block compiled once with symbolic batch and sequence
length serves every (batch, seq); kernels take the sizes as arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from dynamic_models import DIM, transformer_block

import cortado
from cortado.runtime.errors import InputError
from cortado.testing.reference import assert_close, run_onnxruntime


TARGET = "interpreter"      # and "cpu": every test here runs on both host targets
pytestmark = pytest.mark.usefixtures("every_host_target")

ROOT = Path(__file__).resolve().parents[2]
SIZES = [(1, 7), (2, 33), (1, 128)]


def _x(b, s, seed=0):
    return np.random.default_rng(seed + 100 * b + s).standard_normal((b, s, DIM)).astype(np.float32)


@pytest.mark.parametrize("opt_level", [0, 2])
def test_transformer_block_compiled_once_runs_at_every_batch_and_sequence(opt_level):
    model = transformer_block()
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    # the graph inputs carry dim_params for batch and seq: nobody had to name them
    assert m.inputs[0]["shape"] == ["batch", "seq", DIM]
    for b, s in SIZES:
        x = _x(b, s)
        assert_close(m(x), run_onnxruntime(model, {"x": x})[0], what=f"(batch, seq) = ({b}, {s})")


def test_sizes_are_kernel_arguments_not_constants():
    """The sequence length reaches the kernels as an argument: at least one launch takes a size
    argument that depends on ``seq``, and no value in the plan has a seq-dependent static size."""
    m = cortado.compile(transformer_block(), target=TARGET, opt_level=2)
    size_args = [a["size"] for st in m.plan["steps"] for a in st["args"] if "size" in a]
    assert any("seq" in str(a) for a in size_args), size_args
    assert all(any("seq" in str(d) for d in v["shape"]) for k, v in m.plan["values"].items()
               if k in {o["name"] for o in m.plan["outputs"]})


def test_input_shapes_names_any_dim():
    """A model declared with static dims is compiled with names for its non-leading dims."""
    model = transformer_block(x_dims=(1, 8, DIM))
    m = cortado.compile(model, target=TARGET, opt_level=2, input_shapes={"x": ("B", "S", DIM)})
    assert m.inputs[0]["shape"] == ["B", "S", DIM]
    for b, s in ((2, 5), (1, 12)):
        x = _x(b, s)
        assert_close(m(x), run_onnxruntime(transformer_block(x_dims=("b", "s", DIM)), {"x": x})[0])


def test_cli_shape_names_any_dim(tmp_path):
    """``--shape x=BxSx16`` compiles one artifact that a process without the compiler runs at two sizes."""
    path = tmp_path / "block.onnx"
    onnx.save(transformer_block(x_dims=(1, 8, DIM)), path)
    out = tmp_path / "block.cortado"
    r = subprocess.run([sys.executable, "-m", "cortado.cli", "compile", str(path), "--shape", f"x=BxSx{DIM}",
                        "-o", str(out), "--target", "interpreter", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    xs = {f"x{i}": _x(b, s) for i, (b, s) in enumerate(((1, 3), (2, 9)))}
    for k, v in xs.items():
        np.save(tmp_path / f"{k}.npy", v)
    script = ("import sys, numpy as np, cortado.runtime as rt\n"
              f"m = rt.load({str(out)!r}, target='interpreter')\n"
              f"for k in {sorted(xs)!r}:\n"
              f"    np.save({str(tmp_path)!r} + '/y_' + k + '.npy', m(np.load({str(tmp_path)!r} + '/' + k + '.npy')))\n"
              "assert 'cortado.frontends' not in sys.modules and 'onnx' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    reference = transformer_block(x_dims=("b", "s", DIM))
    for k, v in xs.items():
        assert_close(np.load(tmp_path / f"y_{k}.npy"), run_onnxruntime(reference, {"x": v})[0], what=k)


def test_a_wrong_static_dim_is_still_named_at_run_time():
    m = cortado.compile(transformer_block(), target=TARGET, opt_level=0)
    with pytest.raises(InputError, match=r"expects shape \(batch, seq, 16\), got \(1, 3, 8\)"):
        m(np.zeros((1, 3, 8), np.float32))


def test_block_sizes_use_the_documented_representative_sizes():
    """A leading-only symbol stands for 1 (a batch), any other for 64 (a sequence length)."""
    from cortado.codegen.config import static_size, symbol_sizes
    from cortado.ir import Sym
    from cortado.ir.dims import OTHER_SYMBOL_SIZE, representative_sizes

    sizes = representative_sizes([("batch", "seq", DIM), ("batch", 4), (Sym("n"), Sym("n"))])
    assert sizes == {"batch": 1, "n": OTHER_SYMBOL_SIZE, "seq": OTHER_SYMBOL_SIZE}
    with symbol_sizes(sizes):
        assert static_size(Sym("batch") * Sym("seq")) == OTHER_SYMBOL_SIZE
        assert static_size(Sym("seq"), 1024) == 1024            # a caller's own guess still wins
    assert static_size(Sym("batch") * Sym("seq")) == 1           # outside code generation: 1


def test_block_kernels_compile_for_gpus_with_every_size_an_argument():
    """The symbolic block's kernels (flash attention with its empty-keys guard, the row mean's
    max(n, 1)) build for sm_80 and sm_90 without a GPU, and no size argument is specialized."""
    from cortado.codegen.aot import compile_jobs, jobs_for
    from cortado.runtime.loader import load_kernels

    m = cortado.compile(transformer_block(), target=TARGET, opt_level=2)
    module = load_kernels(m.source, interpret=False)
    for k in m.plan["kernels"]:
        fn = getattr(module, k["name"])
        sizes = [p for p in fn.params if not p.is_constexpr and not k["signature"][p.name].startswith(("*", "fp"))]
        assert sizes and all(p.do_not_specialize for p in sizes), k["name"]
    built = compile_jobs(jobs_for(m.source, m.plan, ["sm_80", "sm_90"]), workers=2)
    assert built and all(b.cubin and len(b.cubin) > 1000 for b in built)


def _torchscript_encoder():
    """The TorchScript-style encoder of tests/frontends/onnx, its sequence dim made symbolic."""
    import importlib.util

    path = ROOT / "tests" / "frontends" / "onnx" / "encoder_models.py"
    spec = importlib.util.spec_from_file_location("encoder_models_for_dynamic", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.torchscript_encoder()
    for vi in list(model.graph.input) + list(model.graph.output):
        dim = vi.type.tensor_type.shape.dim[1]
        dim.ClearField("dim_value")
        dim.dim_param = "seq"
    return model, mod.DIM


@pytest.mark.parametrize("opt_level", [0, 2])
def test_torchscript_head_split_over_a_symbolic_sequence(opt_level):
    """Head reshapes computed at run time from Shape -> Gather -> Unsqueeze -> Concat chains read
    the symbolic seq: they fold into symbolic Reshape targets."""
    model, dim = _torchscript_encoder()
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    name = model.graph.input[0].name
    for b, s in ((1, 5), (2, 11), (0, 3)):
        x = np.random.default_rng(s).standard_normal((b, s, dim)).astype(np.float32)
        assert_close(m(x), run_onnxruntime(model, {name: x})[0], what=f"(batch, seq) = ({b}, {s})")
