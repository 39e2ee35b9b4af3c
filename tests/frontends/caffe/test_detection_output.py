"""SSD's DetectionOutput against OpenCV's Caffe importer: small conv heads with a PriorBox in
every coding, and a MobileNet-SSD-shaped net at batch 1 and 2 from one compile; its ONNX form
(``cortado convert``) through onnxruntime; the parameters Cortado refuses.

OpenCV returns ``keep_top_k * batch`` rows padded with zeros (all zeros with no detection);
Cortado returns exactly the detections, ``(1, 1, K, 7)`` with ``K`` known after the run (0 when
nothing survives). Rows are compared as sets: the same (image, label) and values within a
tolerance, because NMS ties may be ordered differently.
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest

from cortado.cli import main
from cortado.debug_numerics import check_numerics
from cortado.errors import ArtifactError, ModelFormatError, UnsupportedOpError
from cortado.exporters import convert_caffe
from cortado.runtime import load
from cortado.runtime.plan_check import check_plan
from cortado.testing.reference import run_onnxruntime

from opencv_caffe import CaffeCase, net_text, random_blobs
from test_fork_nets import DETECTION, IMAGE, mobilenet_ssd

CLASSES = 4
SIDE = 6        # the input image, (N, 3, SIDE, SIDE); heads at 6x6 and 3x3
PRIORS = 3      # per cell: min_size, aspect ratio 2 and 1/2


def opencv_rows(out: np.ndarray) -> np.ndarray:
    """OpenCV's rows without its zero padding (a detection scores above a threshold >= 0)."""
    rows = out.reshape(-1, 7)
    return rows[rows[:, 2] > 0]


def assert_same_rows(got: np.ndarray, want: np.ndarray, atol=2e-5):
    """Same detections: each row of ``got`` matches a distinct row of ``want`` with the same
    image and label, and score and corners within ``atol``."""
    assert got.ndim == 4 and got.shape[:2] == (1, 1) and got.shape[3] == 7, got.shape
    got = got.reshape(-1, 7)
    assert got.shape == want.shape, f"{got.shape[0]} rows, OpenCV has {want.shape[0]}"
    free = np.ones(len(want), dtype=bool)
    for row in got:
        hit = free & (want[:, 0] == row[0]) & (want[:, 1] == row[1]) & np.all(np.abs(want[:, 2:] - row[2:]) <= atol, 1)
        assert hit.any(), f"no OpenCV row matches {row}"
        free[np.argmax(hit)] = False
    for i in np.unique(got[:, 0]):
        scores = got[got[:, 0] == i, 2]
        assert np.all(np.diff(scores) <= 0), "rows of an image come best score first"
    assert np.all(np.diff(got[:, 0]) >= 0), "rows come image by image"


def heads(loc_scale: float, loc_classes: int = 1) -> tuple[str, dict]:
    """Two PriorBox heads (6x6 and 3x3) with loc / conf convolutions, Caffe's usual Permute,
    Flatten and Concat, and a Softmax over the classes: the three bottoms of DetectionOutput.
    ``loc_classes``: boxes per prior (``CLASSES`` for ``share_location: false``)."""
    rng = np.random.default_rng(3)
    text, blobs, locs, confs, priors = "", {}, [], [], []
    for i, (bottom, stride, size) in enumerate((("data", 1, 2.0), ("pool", 2, 4.0))):
        if i == 1:
            text += ('layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" '
                     'pooling_param { pool: AVE kernel_size: 2 stride: 2 } }\n')
        for what, per, scale in (("loc", 4 * loc_classes, loc_scale), ("conf", CLASSES, 1.0)):
            name = f"h{i}_{what}"
            text += (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}" '
                     f'convolution_param {{ num_output: {PRIORS * per} kernel_size: 3 pad: 1 }} }}\n'
                     f'layer {{ name: "{name}_perm" type: "Permute" bottom: "{name}" top: "{name}_perm" '
                     'permute_param { order: 0 order: 2 order: 3 order: 1 } }\n'
                     f'layer {{ name: "{name}_flat" type: "Flatten" bottom: "{name}_perm" top: "{name}_flat" }}\n')
            blobs[name] = ("", random_blobs(rng, (PRIORS * per, 3, 3, 3), (PRIORS * per,), scale=scale))
            (locs if what == "loc" else confs).append(f'bottom: "{name}_flat"')
        text += (f'layer {{ name: "h{i}_prior" type: "PriorBox" bottom: "{bottom}" bottom: "data" top: "h{i}_prior" '
                 f'prior_box_param {{ min_size: {size} aspect_ratio: 2 flip: true clip: {str(i == 1).lower()} '
                 'variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 } }\n')
        priors.append(f'bottom: "h{i}_prior"')
    text += (f'layer {{ name: "loc" type: "Concat" {" ".join(locs)} top: "loc" }}\n'
             f'layer {{ name: "conf_raw" type: "Concat" {" ".join(confs)} top: "conf_raw" }}\n'
             f'layer {{ name: "prior" type: "Concat" {" ".join(priors)} top: "prior" concat_param {{ axis: 2 }} }}\n'
             f'layer {{ name: "conf_r" type: "Reshape" bottom: "conf_raw" top: "conf_r" '
             f'reshape_param {{ shape {{ dim: 0 dim: -1 dim: {CLASSES} }} }} }}\n'
             'layer { name: "conf_s" type: "Softmax" bottom: "conf_r" top: "conf_s" softmax_param { axis: 2 } }\n'
             'layer { name: "conf" type: "Flatten" bottom: "conf_s" top: "conf" }\n')
    return text, blobs


def detection(fields: str = "", nms: str = "nms_threshold: 0.45 top_k: 20") -> str:
    """The layer; OpenCV insists on share_location and background_label_id, so they are given."""
    for name, default in (("share_location", "true"), ("background_label_id", "0")):
        if name not in fields:
            fields += f" {name}: {default}"
    return (f'layer {{ name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" top: "det" '
            f'detection_output_param {{ num_classes: {CLASSES} nms_param {{ {nms} }} {fields} }} }}\n')


def small_case(tmp_path, fields: str, batch=2, loc_scale=0.5, nms: str = "nms_threshold: 0.45 top_k: 20"):
    body, blobs = heads(loc_scale, CLASSES if "share_location: false" in fields else 1)
    layer = detection(fields, nms)
    if "variance_encoded_in_target: true" in fields:   # OpenCV then wants the priors without variances
        body += ('layer { name: "prior_split" type: "Slice" bottom: "prior" top: "prior_box" top: "prior_var" '
                 'slice_param { axis: 1 slice_point: 1 } }\n')
        layer = layer.replace('bottom: "prior" ', 'bottom: "prior_box" ')
    text = net_text(body + layer, {"data": (batch, 3, SIDE, SIDE)})
    return CaffeCase(tmp_path, text, blobs)


def check_against_opencv(case: CaffeCase, model, batch: int, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((batch, 3, SIDE, SIDE)).astype(np.float32)
    got = model.run({"data": x})["det"]
    want = opencv_rows(case.opencv({"data": x}, ["det"])["det"])
    assert_same_rows(got, want)
    return got


CODINGS = {
    "center_size": "code_type: CENTER_SIZE keep_top_k: 30 confidence_threshold: 0.3",
    "center_size_variance_in_target": "code_type: CENTER_SIZE variance_encoded_in_target: true keep_top_k: 30 "
                                      "confidence_threshold: 0.3",
    "corner": "code_type: CORNER keep_top_k: 12 confidence_threshold: 0.3",
    "corner_variance_in_target": "code_type: CORNER variance_encoded_in_target: true keep_top_k: 30 "
                                 "confidence_threshold: 0.25 background_label_id: 2",
    "clip": "code_type: CENTER_SIZE clip: true keep_top_k: 40 confidence_threshold: 0.35 background_label_id: 3",
    "per_class_locations": "code_type: CENTER_SIZE share_location: false keep_top_k: 25 confidence_threshold: 0.3",
}


@pytest.mark.parametrize("fields", list(CODINGS.values()), ids=list(CODINGS))
def test_detection_output_matches_opencv(tmp_path, fields):
    loc_scale = 0.05 if "variance_encoded_in_target" in fields else 0.5
    case = small_case(tmp_path, fields, loc_scale=loc_scale)
    model = case.compile(target="auto")
    rows = check_against_opencv(case, model, 2)
    assert len(np.unique(rows[0, 0, :, 0])) == 2, "both images have detections"
    assert rows.shape[2] > 10, "enough rows to exercise NMS and keep_top_k"


def test_a_confidence_threshold_no_box_passes_gives_no_rows(tmp_path):
    case = small_case(tmp_path, "code_type: CENTER_SIZE keep_top_k: 10 confidence_threshold: 1.0")
    model = case.compile(target="auto")
    x = np.random.default_rng(0).standard_normal((2, 3, SIDE, SIDE)).astype(np.float32)
    got = model.run({"data": x})["det"]
    assert got.shape == (1, 1, 0, 7) and got.dtype == np.float32
    ref = case.opencv({"data": x}, ["det"])["det"]
    assert not ref.any(), "OpenCV's output is all zero padding"


@pytest.mark.parametrize("opt_level", [0, 2])
def test_top_k_and_keep_top_k_cut_as_caffe_does(tmp_path, opt_level):
    """A small top_k (candidates per class before NMS) and keep_top_k (rows per image)."""
    case = small_case(tmp_path, "code_type: CENTER_SIZE keep_top_k: 4 confidence_threshold: 0.2",
                      nms="nms_threshold: 0.3 top_k: 3")
    rows = check_against_opencv(case, case.compile(target="auto", opt_level=opt_level), 2, seed=1)
    assert rows.shape == (1, 1, 8, 7)


def test_on_the_interpreter_at_batch_1_and_3_from_one_compile(tmp_path):
    case = small_case(tmp_path, CODINGS["center_size"], batch=1)
    model = case.compile(target="interpreter", input_shapes={"data": ("N", 3, SIDE, SIDE)})
    steps = model.plan["steps"]
    assert [s["host"] for s in steps if "host" in s] == ["DetectionOutput"]
    for batch, seed in ((1, 0), (3, 1)):
        rows = check_against_opencv(case, model, batch, seed)
        assert set(np.unique(rows[0, 0, :, 0])) == set(range(batch))


def test_an_artifact_with_detection_output_loads_and_runs(tmp_path):
    case = small_case(tmp_path, CODINGS["corner"])
    model = case.compile(target="auto")
    model.save(tmp_path / "det.cortado")
    again = load(tmp_path / "det.cortado")
    x = np.random.default_rng(2).standard_normal((2, 3, SIDE, SIDE)).astype(np.float32)
    np.testing.assert_array_equal(again.run({"data": x})["det"], model.run({"data": x})["det"])


def direct_case(tmp_path, p, c, fields, per_class=False):
    """DetectionOutput alone, its three bottoms fed as net inputs."""
    loc = p * 4 * (c if per_class else 1)
    text = net_text(f'''layer {{ name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior"
  top: "det" detection_output_param {{ num_classes: {c} {fields} }} }}''',
                    {"loc": (2, loc), "conf": (2, p * c), "prior": (1, 2, p * 4)})
    return CaffeCase(tmp_path, text)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("per_class", [False, True], ids=["shared", "per_class"])
def test_tied_scores_and_inverted_boxes_match_opencv(tmp_path, seed, per_class):
    """Scores on a coarse grid (many ties: both sort candidates stably, lower index first) and
    CORNER offsets large enough to invert boxes (Caffe's overlap of an inverted box is 0)."""
    rng = np.random.default_rng(seed)
    p, c = 40, 3
    centre, half = rng.random((p, 2)), rng.random((p, 2)) * 0.3 + 0.02
    prior = np.stack([np.concatenate([centre - half, centre + half], 1).reshape(-1),
                      np.tile(np.float32([0.1, 0.1, 0.2, 0.2]), p)]).reshape(1, 2, -1).astype(np.float32)
    feeds = {"loc": (rng.standard_normal((2, p * 4 * (c if per_class else 1))) * 2).astype(np.float32),
             "conf": (np.round(rng.random((2, p * c)) * 8) / 8).astype(np.float32), "prior": prior}
    fields = (f"share_location: {str(not per_class).lower()} background_label_id: 0 code_type: CORNER "
              "nms_param { nms_threshold: 0.3 top_k: 25 } keep_top_k: 1000 confidence_threshold: 0.3")
    case = direct_case(tmp_path, p, c, fields, per_class)
    got = case.compile(target="auto").run(feeds)["det"]
    assert_same_rows(got, opencv_rows(case.opencv(feeds, ["det"])["det"]))
    rows = got.reshape(-1, 7)
    assert ((rows[:, 5] < rows[:, 3]) | (rows[:, 6] < rows[:, 4])).any(), "some kept boxes are inverted"
    assert len(np.unique(rows[:, 2])) < len(rows) / 4, "many scores tie"
    converted = onnx_rows(convert_caffe(case.proto), feeds)      # the ONNX form: the same rows, same order
    assert converted.shape == got.shape
    np.testing.assert_array_equal(converted[..., :3], got[..., :3])
    np.testing.assert_allclose(converted, got, atol=1e-6)


def test_debug_numerics_checks_every_kernel_of_the_net(tmp_path):
    """Each fused kernel (the decoding ones read scalar constants the cpu kernels take as
    values) against the unfused reference, on the default target; the host step is skipped."""
    case = small_case(tmp_path, CODINGS["center_size"])
    report = check_numerics(str(case.proto), weights=str(case.model), target="auto")
    assert report.ok and len(report.groups) >= 5, report
    assert [c.value for c in report.outputs] == ["det"]


@pytest.mark.parametrize("attr, value", [("nms_threshold", "0.45"), ("nms_threshold", float("nan")),
                                         ("top_k", -2), ("keep_top_k", True), ("background_label_id", 0.5)])
def test_the_plan_checker_refuses_forged_detection_attributes(tmp_path, attr, value):
    model = small_case(tmp_path, CODINGS["corner"]).compile(target="auto")
    check_plan(model.plan, model.constants, model.source)
    plan = copy.deepcopy(model.plan)
    next(s for s in plan["steps"] if s.get("host") == "DetectionOutput")["attrs"][attr] = value
    with pytest.raises(ArtifactError, match=f"attrs.{attr} is .*not a valid value"):
        check_plan(plan, model.constants, model.source)


@pytest.mark.slow
def test_mobilenet_ssd_with_detection_output_at_batch_1_and_2_from_one_compile(tmp_path):
    rng = np.random.default_rng(7)
    net = mobilenet_ssd(rng, "ConvolutionDepthwise")
    case = CaffeCase(tmp_path, net.prototxt() + DETECTION, net.blobs, name="mobilenet_ssd")
    model = case.compile(target="auto", input_shapes={"data": ("N", 3, IMAGE, IMAGE)})
    converted = convert_caffe(case.proto, weights=case.model, input_shapes={"data": ("N", 3, IMAGE, IMAGE)})
    for batch in (1, 2):
        x = rng.standard_normal((batch, 3, IMAGE, IMAGE)).astype(np.float32)
        got = model.run({"data": x})["detection_out"]
        want = opencv_rows(case.opencv({"data": x}, ["detection_out"])["detection_out"])
        assert_same_rows(got, want)
        assert got.shape[2] > 50 and set(np.unique(got[0, 0, :, 0])) == set(range(batch))
        assert_same_rows(run_onnxruntime(converted, {"data": x})[0], want)


def detection_only(tmp_path, fields: str) -> CaffeCase:
    body, blobs = heads(0.5)
    text = body + ('layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" '
                   f'top: "det" detection_output_param {{ {fields} }} }}\n')
    return CaffeCase(tmp_path, net_text(text, {"data": (1, 3, SIDE, SIDE)}), blobs)


UNSUPPORTED = [
    ("nms_param { nms_threshold: 0.45 eta: 0.9 } keep_top_k: 5", "nms_param.eta is 0.9"),
    ("nms_param { nms_threshold: 0.45 } code_type: CORNER_SIZE", "code_type CORNER_SIZE is not supported"),
    ("nms_param { nms_threshold: 0.45 top_k: 0 }", "top_k is 0"),
    ("nms_param { nms_threshold: 0.45 } normalized_bbox: false", "normalized_bbox: false"),
]


@pytest.mark.parametrize("fields, message", UNSUPPORTED, ids=[m.split()[0] for _, m in UNSUPPORTED])
def test_what_ssd_runs_but_cortado_does_not_is_refused_naming_the_field(tmp_path, fields, message):
    case = detection_only(tmp_path, f"num_classes: {CLASSES} {fields}")
    with pytest.raises(UnsupportedOpError) as e:
        case.compile(target="auto")
    assert [(t, n) for t, n, _ in e.value.items] == [("DetectionOutput", "det")]
    assert message in e.value.items[0][2]


BAD = [
    ("nms_param { nms_threshold: 0.45 }", "needs num_classes"),
    (f"num_classes: {CLASSES} nms_param {{ nms_threshold: -0.1 }}", "nms_threshold is -0.1"),
    (f"num_classes: {CLASSES} nms_param {{ nms_threshold: 0.45 top_k: -3 }}", "top_k is -3"),
    (f"num_classes: {CLASSES} nms_param {{ nms_threshold: 0.45 }} keep_top_k: -2", "keep_top_k is -2"),
    (f"num_classes: {CLASSES} nms_param {{ nms_threshold: 0.45 }} background_label_id: -1",
     "background_label_id -1 with share_location"),
]


@pytest.mark.parametrize("fields, message", BAD, ids=[m.split()[0] for _, m in BAD])
def test_bad_parameters_are_one_clear_error(tmp_path, fields, message):
    with pytest.raises(ModelFormatError) as e:
        detection_only(tmp_path, fields).compile(target="auto")
    assert message in str(e.value) and "layer 'det' (DetectionOutput, line" in str(e.value)


def test_check_lists_a_refused_detection_output_with_its_reason(tmp_path, capsys):
    case = detection_only(tmp_path, f"num_classes: {CLASSES} nms_param {{ nms_threshold: 0.45 eta: 0.9 }}")
    assert main(["check", str(case.proto), "--weights", str(case.model)]) == 1
    line = next(ln for ln in capsys.readouterr().out.splitlines() if " det " in f" {ln} ")
    assert "unsupported" in line and "eta" in line


def test_bottoms_that_do_not_fit_the_priors_are_an_error(tmp_path):
    body, blobs = heads(0.5)
    text = body + detection().replace(f"num_classes: {CLASSES}", "num_classes: 3")
    case = CaffeCase(tmp_path, net_text(text, {"data": (1, 3, SIDE, SIDE)}), blobs)
    with pytest.raises(ModelFormatError, match=r"conf \(bottom 1\).*3 classes"):
        case.compile(target="auto")
    text = body + detection().replace('bottom: "prior" ', "")
    case = CaffeCase(tmp_path, net_text(text, {"data": (1, 3, SIDE, SIDE)}), blobs)
    with pytest.raises(ModelFormatError, match="three bottoms"):
        case.compile(target="auto")


def test_check_lists_it_supported(tmp_path, capsys):
    case = small_case(tmp_path, CODINGS["center_size"])
    assert main(["check", str(case.proto)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if " det " in f" {ln} ")
    assert "DetectionOutput" in line and "supported" in line and "unsupported" not in line


def onnx_rows(model, feeds) -> np.ndarray:
    names = [o.name for o in model.graph.output]
    return run_onnxruntime(model, feeds)[names.index("det")]


@pytest.mark.parametrize("fields", list(CODINGS.values()) + [
    "code_type: CENTER_SIZE keep_top_k: 10 confidence_threshold: 1.0",
    "code_type: CENTER_SIZE keep_top_k: 4 confidence_threshold: 0.2 background_label_id: 1"],
    ids=list(CODINGS) + ["no_box", "keep_4"])
def test_convert_writes_a_subgraph_around_nms_that_onnxruntime_runs_alike(tmp_path, fields):
    """The same rows in the same order as the compiled net (so, as sets, as OpenCV's)."""
    loc_scale = 0.05 if "variance_encoded_in_target" in fields else 0.5
    nms = "nms_threshold: 0.3 top_k: 3" if "keep_top_k: 4" in fields else "nms_threshold: 0.45 top_k: 20"
    case = small_case(tmp_path, fields, loc_scale=loc_scale, nms=nms)
    out = tmp_path / "det.onnx"
    model = convert_caffe(case.proto, weights=case.model, output=out)
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert "NonMaxSuppression" in {n.op_type for n in model.graph.node}
    compiled = case.compile(target="auto")
    x = np.random.default_rng(0).standard_normal((2, 3, SIDE, SIDE)).astype(np.float32)
    want = compiled.run({"data": x})["det"]
    got = onnx_rows(model, {"data": x})
    assert got.shape == want.shape
    np.testing.assert_array_equal(got[..., :2], want[..., :2])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_an_nms_threshold_above_1_suppresses_nothing(tmp_path):
    """Caffe takes any threshold >= 0; ONNX NMS wants [0, 1], so the converted form uses 1."""
    case = small_case(tmp_path, "code_type: CENTER_SIZE keep_top_k: 200 confidence_threshold: 0.3",
                      nms="nms_threshold: 1.5 top_k: 20")
    rows = check_against_opencv(case, case.compile(target="auto"), 2)
    x = np.random.default_rng(0).standard_normal((2, 3, SIDE, SIDE)).astype(np.float32)
    conf = case.opencv({"data": x}, ["conf"])["conf"].reshape(2, -1, CLASSES)[..., 1:]
    assert rows.shape[2] == sum(min(20, int(n)) for n in (conf > 0.3).sum(1).reshape(-1)), "every candidate kept"
    np.testing.assert_allclose(onnx_rows(convert_caffe(case.proto, weights=case.model), {"data": x}), rows, atol=1e-6)


def test_converted_with_a_symbolic_batch_runs_at_batch_1_and_3(tmp_path):
    case = small_case(tmp_path, CODINGS["per_class_locations"])
    model = convert_caffe(case.proto, weights=case.model, input_shapes={"data": ("N", 3, SIDE, SIDE)})
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    for batch, seed in ((1, 0), (3, 1)):
        x = np.random.default_rng(seed).standard_normal((batch, 3, SIDE, SIDE)).astype(np.float32)
        want = opencv_rows(case.opencv({"data": x}, ["det"])["det"])
        assert_same_rows(onnx_rows(model, {"data": x}), want)


def test_cortado_convert_writes_it(tmp_path, capsys):
    case = small_case(tmp_path, CODINGS["corner"])
    target = tmp_path / "det.onnx"
    assert main(["convert", str(case.proto), "--weights", str(case.model), "-o", str(target)]) == 0, \
        capsys.readouterr().err
    assert "NonMaxSuppression" in {n.op_type for n in onnx.load(str(target)).graph.node}
