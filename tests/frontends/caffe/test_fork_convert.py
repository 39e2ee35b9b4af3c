"""``cortado convert`` on nets with the forks' layers: ONNX that onnxruntime runs to the values
of Cortado's reference evaluator (the compiled kernels are checked against OpenCV in
test_fork_layers), and one clear refusal naming the layers it cannot write (DetectionOutput's
refusal is in test_detection_output)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from cortado.cli import main
from cortado.errors import UnsupportedOpError
from cortado.exporters import convert_caffe, onnx_export
from cortado.frontends.caffe import import_caffe
from cortado.ir import Op
from cortado.ops import evaluate
from cortado.testing.reference import run_onnxruntime

from opencv_caffe import CaffeCase, net_text, random_blobs

FORK_NET = '''
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "r6" type: "ReLU6" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" top: "mask"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 ceil_mode: false } }
layer { name: "dw" type: "DepthwiseConvolution" bottom: "pool" top: "dw" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "dw" top: "shuffle" shuffle_channel_param { group: 2 } }
layer { name: "gap" type: "Pooling" bottom: "shuffle" top: "gap" pooling_param { pool: AVE global_pooling: true } }
layer { name: "axpy" type: "Axpy" bottom: "gap" bottom: "shuffle" bottom: "pool" top: "axpy" }
layer { name: "norm" type: "Normalize" bottom: "axpy" top: "norm" norm_param { across_spatial: false channel_shared: false } }
layer { name: "unpool" type: "Upsample" bottom: "norm" bottom: "mask" top: "unpool" upsample_param { upsample_h: 9 upsample_w: 10 } }
layer { name: "interp" type: "Interp" bottom: "unpool" top: "interp" interp_param { zoom_factor: 2 pad_beg: -1 pad_end: -1 } }
layer { name: "up" type: "Upsample" bottom: "norm" top: "up" upsample_param { scale: 2 } }
layer { name: "reorg" type: "Reorg" bottom: "up" top: "reorg" reorg_param { stride: 2 } }
layer { name: "region" type: "Region" bottom: "reorg" top: "region" region_param { classes: 3 coords: 4 num: 4 softmax: true } }
layer { name: "prior" type: "PriorBox" bottom: "norm" bottom: "data" top: "prior"
  prior_box_param { min_size: 3 max_size: 6 aspect_ratio: 2 flip: true clip: true variance: 0.1 } }
'''
OUTPUTS = ["interp", "region", "prior"]


def _case(tmp_path, rng, extra=""):
    blobs = {"conv": ("", random_blobs(rng, (8, 3, 3, 3), (8,))), "dw": ("", random_blobs(rng, (8, 1, 3, 3), (8,))),
             "norm": ("", [(rng.random(8) + 1).astype(np.float32)])}
    return CaffeCase(tmp_path, net_text(FORK_NET + extra, {"data": (2, 3, 9, 10)}), blobs)


def test_fork_layers_convert_to_onnx_that_onnxruntime_runs_alike(tmp_path):
    rng = np.random.default_rng(5)
    case = _case(tmp_path, rng)
    out = tmp_path / "forks.onnx"
    model = convert_caffe(case.proto, weights=case.model, output=out)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert [o.name for o in model.graph.output] == OUTPUTS
    x = rng.standard_normal((2, 3, 9, 10)).astype(np.float32)
    ref = dict(zip(OUTPUTS, run_onnxruntime(model, {"data": x})))
    graph = import_caffe(case.proto, weights=case.model, quiet=True)
    ours = evaluate(graph, {"data": x})
    for name in OUTPUTS:
        np.testing.assert_allclose(ours[name], ref[name], rtol=1e-5, atol=1e-5, err_msg=name)
    assert ours["region"].shape == (2, 32, 5, 5) and ours["interp"].shape == (2, 8, 13, 15)


def test_convert_names_the_layers_it_cannot_write(tmp_path, capsys):
    case = _case(tmp_path, np.random.default_rng(5), extra='''
layer { name: "proposal" type: "Proposal" bottom: "interp" top: "rois" }
layer { name: "psroi" type: "PSROIPooling" bottom: "interp" top: "psroi" }''')
    out = tmp_path / "net.onnx"
    code = main(["convert", str(case.proto), "--weights", str(case.model), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert "Proposal (node 'proposal'): line 20: unknown Caffe layer type" in err
    assert "PSROIPooling (node 'psroi'): line 21: unknown Caffe layer type" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["net.caffemodel", "net.prototxt"]


def test_an_op_onnx_export_lacks_names_its_caffe_layer(tmp_path, monkeypatch):
    """Every IR op exports today; were one not to, the error names the Caffe layer and line."""
    monkeypatch.setattr(onnx_export, "_PLAIN", onnx_export._PLAIN - {Op.CLIP})
    case = CaffeCase(tmp_path, net_text('layer { name: "r6" type: "ReLU6" bottom: "data" top: "r6" }',
                                        {"data": (1, 2, 3, 3)}))
    with pytest.raises(UnsupportedOpError) as e:
        convert_caffe(case.proto)
    assert e.value.items[0][0] == "Clip" and "from Caffe layer 'r6', line 2" in e.value.items[0][2]
