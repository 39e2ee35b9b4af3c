"""Differential fuzzing in the suite: a small fixed budget of random models, every saved
regression model, and the fuzzer's own machinery (finding, shrinking, saving) on a planted bug.

The long runs are ``python -m cortado.fuzz --models 1000`` (or ``--minutes N``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from cortado.fuzz import check_model, fuzz, main, run_cortado
from cortado.testing.onnx_models import feeds_for
from cortado.testing.reference import HOST_TARGETS

REGRESSIONS = Path(__file__).parent / "regressions"


@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("seed", [1, 2])
def test_random_models_match_onnxruntime(seed, target):
    """A fixed budget per seed (the two run in parallel): no mismatch, no crash."""
    summary = fuzz(models=40, seed=seed, max_ops=5, target=target)
    assert summary.models == 40
    assert not summary.findings, summary.report()


@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.onnx")), ids=lambda p: p.stem)
def test_regression(path, target):
    """Each model the fuzzer once shrank a failure to (its doc string says what failed)."""
    model = onnx.load(path)
    finding = check_model(model, feeds_for(model), target=target)
    assert finding is None, f"{model.doc_string}\nnow: {finding.headline()}\n{finding.detail}"


def _sigmoid_off_by_one(model, feeds, level, target):
    """Cortado with a planted bug: outputs of models that use Sigmoid are off by one."""
    outs = run_cortado(model, feeds, level, target)
    if any(n.op_type == "Sigmoid" for n in model.graph.node):
        outs = [o + np.float32(1) for o in outs]
    return outs


def test_a_planted_bug_is_found_shrunk_and_saved(tmp_path):
    summary = fuzz(models=30, seed=3, families=("elementwise",), runner=_sigmoid_off_by_one, save_dir=tmp_path,
                   opt_levels=(0,))
    assert summary.mismatches >= 1 and summary.crashes == 0, summary.report()
    saved = sorted(tmp_path.glob("mismatch_*.onnx"))
    assert saved and all(f.saved in saved for f in summary.findings)
    minimal = onnx.load(saved[0])
    assert [n.op_type for n in minimal.graph.node] == ["Sigmoid"], onnx.printer.to_text(minimal.graph)
    assert "mismatch at O0 [Sigmoid]" in minimal.doc_string
    # the saved model reproduces the failure from its own metadata, and passes without the bug
    assert check_model(minimal, opt_levels=(0,), runner=_sigmoid_off_by_one).kind == "mismatch"
    assert check_model(minimal, opt_levels=(0,)) is None


def test_command_line_prints_a_summary(tmp_path, capsys):
    code = main(["--models", "3", "--save", str(tmp_path / "found"), "-q", "-O", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "models run: 3" in out and "mismatches: 0" in out and "crashes: 0" in out


def test_models_draw_symbolic_dims_at_any_axis():
    """The strategy puts its symbolic dim N on leading and non-leading axes, and the fuzzer
    runs such models (the fixed budget above includes them)."""
    from hypothesis import given, settings

    from cortado.testing.onnx_models import onnx_models

    axes: set[int] = set()

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)
    @given(onnx_models(max_ops=2))
    def draw(case):
        dims = case.model.graph.input[0].type.tensor_type.shape.dim
        axes.update(i for i, d in enumerate(dims) if d.dim_param == "N")

    draw()
    assert 0 in axes and any(a > 0 for a in axes), axes
