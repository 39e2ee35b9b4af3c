"""Bad ONNX models: broken files, broken graphs, bad shapes, absurd sizes, hostile external data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cortado.errors import (ModelFormatError, ModelLoadError, ResourceLimitError, ShapeError,
                             UnsupportedOpError)
from robust_cases import (F32, Bad, Case, compile_api, compile_argv, model_case, onnx_model, seeded_bytes,
                          tiny_onnx, vi, write_model)


def relu_model(x_shape, *, elem=F32, name="relu") -> onnx.ModelProto:
    return onnx_model([helper.make_node("Relu", ["x"], ["y"], name=name)], [vi("x", x_shape, elem)],
                      [vi("y", None)])


# -- files that are not (whole) models ----------------------------------------------------------

def random_bytes(tmp: Path) -> Bad:
    return model_case(tmp, seeded_bytes(512, 1))


def empty_file(tmp: Path) -> Bad:
    return model_case(tmp, b"")


def truncated(tmp: Path) -> Bad:
    data = tiny_onnx().SerializeToString()
    return model_case(tmp, data[: len(data) * 2 // 3])


def bit_flipped(tmp: Path) -> Bad:
    """The graph field's length prefix flipped so the message runs past the end of the file."""
    data = bytearray(tiny_onnx().SerializeToString())
    at = data.index(b"\x3a") + 1          # field 7 (graph), wire type 2: its length varint follows
    data[at] |= 0x7F
    return model_case(tmp, bytes(data))


def oversized_file(tmp: Path) -> Bad:
    """A sparse 5 GiB file: refused by its size, before it is read."""
    bad = model_case(tmp, tiny_onnx())
    with open(tmp / "model.onnx", "r+b") as f:
        f.truncate(5 * 1024**3)
    return bad


def protobuf_without_graph(tmp: Path) -> Bad:
    return model_case(tmp, b"\x08\x07\x12\x04test")   # ir_version 7, producer "test"


def folder_not_file(tmp: Path) -> Bad:
    (tmp / "model.onnx").mkdir()
    return Bad(compile_api(tmp / "model.onnx"), compile_argv(tmp / "model.onnx"))


def missing_file(tmp: Path) -> Bad:
    return Bad(compile_api(tmp / "model.onnx"), compile_argv(tmp / "model.onnx"))


# -- graphs that are not DAGs of defined values ---------------------------------------------------

def cycle(tmp: Path) -> Bad:
    m = onnx_model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                    helper.make_node("Relu", ["a"], ["b"], name="second"),
                    helper.make_node("Neg", ["a"], ["y"], name="out")], [vi("x", [3])], [vi("y", [3])])
    return model_case(tmp, m)


def dangling_input(tmp: Path) -> Bad:
    m = onnx_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")], [vi("x", [3])],
                   [vi("y", [3])])
    return model_case(tmp, m)


def value_defined_twice(tmp: Path) -> Bad:
    m = onnx_model([helper.make_node("Relu", ["x"], ["h"], name="one"),
                    helper.make_node("Neg", ["x"], ["h"], name="two"),
                    helper.make_node("Abs", ["h"], ["y"], name="out")], [vi("x", [3])], [vi("y", [3])])
    return model_case(tmp, m)


def initializer_twice(tmp: Path) -> Bad:
    w = numpy_helper.from_array(np.ones(3, np.float32), "w")
    m = onnx_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [vi("x", [3])], [vi("y", [3])],
                   [w, w])
    return model_case(tmp, m)


def input_twice(tmp: Path) -> Bad:
    m = onnx_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [3]), vi("x", [3])],
                   [vi("y", [3])])
    return model_case(tmp, m)


def output_not_produced(tmp: Path) -> Bad:
    m = onnx_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [3])],
                   [vi("y", [3]), vi("z", [3])])
    return model_case(tmp, m)


def no_outputs(tmp: Path) -> Bad:
    return model_case(tmp, onnx_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [vi("x", [3])], []))


# -- shapes, sizes and types -------------------------------------------------------------------

def zero_dim(tmp: Path) -> Bad:
    """A static empty input is valid (it becomes a constant); a 0 given for a dynamic dim is not."""
    return model_case(tmp, relu_model(["N", 4]), "--shape", "x=0x4", input_shapes={"x": (0, 4)})


def negative_dim(tmp: Path) -> Bad:
    return model_case(tmp, relu_model([2, -3]))


def absurd_input(tmp: Path) -> Bad:
    return model_case(tmp, relu_model([1_000_000, 1_000_000]))


def absurd_input_override(tmp: Path) -> Bad:
    m = relu_model(["N", 4])
    return model_case(tmp, m, "--shape", "x=1000000000000x4", input_shapes={"x": (10**12, 4)})


def over_configured_limit(tmp: Path) -> Bad:
    """A 2x64 input is fine by default but not under a limit of 100 elements (env var or argument)."""
    path = write_model(tmp, relu_model([2, 64]))
    return Bad(compile_api(path, max_elements=100), compile_argv(path), env={"CORTADO_MAX_ELEMENTS": "100"})


def over_limit_flag(tmp: Path) -> Bad:
    path = write_model(tmp, relu_model([2, 64]))
    return Bad(compile_api(path, max_elements=127), compile_argv(path, "--max-elements", "127"))


def invalid_limit_setting(tmp: Path) -> Bad:
    path = write_model(tmp, relu_model([2, 4]))
    return Bad(compile_api(path, max_elements="lots"), compile_argv(path), env={"CORTADO_MAX_ELEMENTS": "lots"})


def absurd_rank(tmp: Path) -> Bad:
    """Unsqueeze a rank-60 input 10 times: a rank-70 value no numpy array can hold."""
    nodes = [helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="grow")]
    axes = numpy_helper.from_array(np.arange(10, dtype=np.int64), "axes")
    return model_case(tmp, onnx_model(nodes, [vi("x", [1] * 60)], [vi("y", None)], [axes]))


def absurd_constant_of_shape(tmp: Path) -> Bad:
    shape = numpy_helper.from_array(np.array([100_000, 100_000, 100], np.int64), "shape")
    m = onnx_model([helper.make_node("ConstantOfShape", ["shape"], ["big"], name="huge_fill"),
                    helper.make_node("Relu", ["big"], ["y"], name="relu")],
                   [], [vi("y", None)], [shape])
    return model_case(tmp, m)


def raw_tensor(name: str, dims, data: bytes) -> TensorProto:
    """A tensor whose raw data need not fit its dims (onnx.helper checks; files need not)."""
    return TensorProto(name=name, data_type=F32, dims=list(dims), raw_data=data)


def initializer_data_mismatch(tmp: Path) -> Bad:
    w = raw_tensor("w", [3, 4], np.ones(5, np.float32).tobytes())
    m = onnx_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [vi("x", [3, 4])], [vi("y", [3, 4])],
                   [w])
    return model_case(tmp, m)


def initializer_absurd_dims(tmp: Path) -> Bad:
    w = raw_tensor("w", [1_000_000, 1_000_000], np.ones(4, np.float32).tobytes())
    m = onnx_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [vi("x", [1])], [vi("y", None)], [w])
    return model_case(tmp, m)


def initializer_wrong_for_op(tmp: Path) -> Bad:
    w = numpy_helper.from_array(np.ones((5, 3), np.float32), "w")   # MatMul needs (4, k)
    m = onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="project")], [vi("x", [2, 4])],
                   [vi("y", None)], [w])
    return model_case(tmp, m)


def unsupported_op(tmp: Path) -> Bad:
    m = onnx_model([helper.make_node("Relu", ["x"], ["h"], name="relu"),
                    helper.make_node("FancyNewOp", ["h"], ["y"], name="fancy")], [vi("x", [3])], [vi("y", [3])])
    return model_case(tmp, m)


def custom_domain_op(tmp: Path) -> Bad:
    node = helper.make_node("Relu", ["x"], ["y"], name="vendor_relu", domain="com.vendor")
    m = onnx_model([node], [vi("x", [3])], [vi("y", [3])])
    m.opset_import.append(helper.make_opsetid("com.vendor", 1))
    return model_case(tmp, m)


def string_input(tmp: Path) -> Bad:
    return model_case(tmp, relu_model([3], elem=TensorProto.STRING))


def sequence_input(tmp: Path) -> Bad:
    seq = helper.make_tensor_sequence_value_info("x", F32, [3])
    m = onnx_model([helper.make_node("Identity", ["x"], ["y"], name="id")], [seq], [vi("y", None)])
    return model_case(tmp, m)


def input_without_shape(tmp: Path) -> Bad:
    return model_case(tmp, relu_model(None))


def duplicate_attribute(tmp: Path) -> Bad:
    node = helper.make_node("Transpose", ["x"], ["y"], name="swap", perm=[1, 0])
    node.attribute.append(helper.make_attribute("perm", [0, 1]))
    return model_case(tmp, onnx_model([node], [vi("x", [2, 3])], [vi("y", None)]))


def attribute_out_of_range(tmp: Path) -> Bad:
    node = helper.make_node("Transpose", ["x"], ["y"], name="swap", perm=[0, 5])
    return model_case(tmp, onnx_model([node], [vi("x", [2, 3])], [vi("y", None)]))


def window_larger_than_input(tmp: Path) -> Bad:
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[5, 5])
    return model_case(tmp, onnx_model([node], [vi("x", [1, 1, 3, 3])], [vi("y", None)]))


def too_many_inputs(tmp: Path) -> Bad:
    node = helper.make_node("Relu", ["x", "x"], ["y"], name="relu2")
    return model_case(tmp, onnx_model([node], [vi("x", [3])], [vi("y", None)]))


def required_attribute_missing(tmp: Path) -> Bad:
    node = helper.make_node("Cast", ["x"], ["y"], name="cast")
    return model_case(tmp, onnx_model([node], [vi("x", [1, 4, 2, 2])], [vi("y", None)]))


def attribute_wrong_type(tmp: Path) -> Bad:
    node = helper.make_node("Softmax", ["x"], ["y"], name="soft", axis="last")
    return model_case(tmp, onnx_model([node], [vi("x", [2, 3])], [vi("y", None)]))


# -- external data that escapes the model's folder ------------------------------------------------

def _external_model(folder: Path, location: str, *, offset=None, length=None, dims=(3,)) -> Path:
    folder.mkdir(exist_ok=True)
    w = TensorProto(name="w", data_type=F32, dims=list(dims))
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = w.external_data.add()
            entry.key, entry.value = key, str(value)
    m = onnx_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [vi("x", [3])], [vi("y", [3])], [w])
    return write_model(folder, m)


def _secret(tmp: Path) -> Path:
    secret = tmp / "secret.bin"
    secret.write_bytes(np.arange(3, dtype=np.float32).tobytes())
    return secret


def _w_bin(tmp: Path, n: int = 3) -> None:
    (tmp / "model").mkdir(exist_ok=True)
    (tmp / "model" / "w.bin").write_bytes(np.zeros(n, np.float32).tobytes())


def _external_bad(tmp: Path, location: str, **kw) -> Bad:
    path = _external_model(tmp / "model", location, **kw)
    return Bad(compile_api(path), ["compile", "model/model.onnx", "-o", "out.cortado", "--target", "interpreter",
                                   "-q"])


def external_absolute_path(tmp: Path) -> Bad:
    return _external_bad(tmp, str(_secret(tmp)))


def external_dotdot_path(tmp: Path) -> Bad:
    _secret(tmp)
    return _external_bad(tmp, "../secret.bin")


def external_symlink(tmp: Path) -> Bad:
    secret = _secret(tmp)
    (tmp / "model").mkdir()
    os.symlink(secret, tmp / "model" / "w.bin")
    return _external_bad(tmp, "w.bin")


def external_missing(tmp: Path) -> Bad:
    return _external_bad(tmp, "w.bin")


def external_past_end(tmp: Path) -> Bad:
    (tmp / "model").mkdir()
    (tmp / "model" / "w.bin").write_bytes(np.zeros(3, np.float32).tobytes())
    return _external_bad(tmp, "w.bin", offset=8, length=12)


def external_absurd_dims(tmp: Path) -> Bad:
    """10^12 elements declared for data in a 12-byte file: refused before anything is read."""
    _w_bin(tmp)
    return _external_bad(tmp, "w.bin", dims=(1_000_000, 1_000_000))


def external_bad_offset(tmp: Path) -> Bad:
    _w_bin(tmp)
    return _external_bad(tmp, "w.bin", offset="twelve")


def external_length_over_dims(tmp: Path) -> Bad:
    """Asks for 400 bytes where its 3 floats need 12: refused before reading the rest."""
    _w_bin(tmp, 100)
    return _external_bad(tmp, "w.bin", length=400)


def absurd_range(tmp: Path) -> Bad:
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", 0), ("l", 10**12), ("d", 1))]
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"], name="counter"),
             helper.make_node("Cast", ["r"], ["y"], name="cast", to=TensorProto.FLOAT)]
    return model_case(tmp, onnx_model(nodes, [], [vi("y", None)], consts))


def range_of_vectors(tmp: Path) -> Bad:
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s", [0, 1]), ("l", 5), ("d", 1))]
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"], name="counter"),
             helper.make_node("Cast", ["r"], ["y"], name="cast", to=TensorProto.FLOAT)]
    return model_case(tmp, onnx_model(nodes, [], [vi("y", None)], consts))


def cast_to_unknown_type(tmp: Path) -> Bad:
    node = helper.make_node("Cast", ["x"], ["y"], name="cast", to=99)
    return model_case(tmp, onnx_model([node], [vi("x", [3])], [vi("y", None)]))


FILE = r"model\.onnx"

CASES = [
    Case("onnx_random_bytes", random_bytes, ModelLoadError, r"not a valid ONNX model|holds no ONNX graph", FILE),
    Case("onnx_empty_file", empty_file, ModelLoadError, r"is empty", FILE),
    Case("onnx_truncated", truncated, ModelLoadError, r"not a valid ONNX model.*(truncated|Error)", FILE),
    Case("onnx_bit_flipped", bit_flipped, ModelLoadError, r"not a valid ONNX model", FILE),
    Case("onnx_oversized_file", oversized_file, ModelLoadError, r"larger than the .*protobuf limit", FILE),
    Case("onnx_protobuf_without_graph", protobuf_without_graph, ModelLoadError, r"holds no ONNX graph", FILE),
    Case("onnx_path_is_folder", folder_not_file, ModelLoadError, r"is a folder", FILE),
    Case("onnx_missing_file", missing_file, ModelLoadError, r"model file not found", FILE),
    Case("onnx_cycle", cycle, ModelFormatError, r"cycle", r"node '(first|second)'"),
    Case("onnx_dangling_input", dangling_input, ModelFormatError, r"reads 'ghost', which no node", r"'adder'"),
    Case("onnx_value_defined_twice", value_defined_twice, ModelFormatError, r"'h' is produced twice", r"'two'"),
    Case("onnx_initializer_twice", initializer_twice, ModelFormatError, r"initializer 'w' is defined twice", FILE),
    Case("onnx_input_twice", input_twice, ModelFormatError, r"input 'x' is listed twice", FILE),
    Case("onnx_output_not_produced", output_not_produced, ModelFormatError, r"output 'z' is not produced", FILE),
    Case("onnx_no_outputs", no_outputs, ModelFormatError, r"no outputs", FILE),
    Case("onnx_zero_dim", zero_dim, ShapeError, r"non-positive dim|not a positive integer", r"'x'|x=0x4"),
    Case("onnx_negative_dim", negative_dim, ShapeError, r"dim -3 at axis 1", r"input 'x'"),
    Case("onnx_absurd_input", absurd_input, ResourceLimitError, r"1,000,000,000,000 elements", r"input 'x'"),
    Case("onnx_absurd_input_override", absurd_input_override, ResourceLimitError, r"4,000,000,000,000 elements",
         r"input 'x'"),
    Case("onnx_over_configured_limit", over_configured_limit, ResourceLimitError, r"128 elements.*limit of 100",
         r"input 'x'"),
    Case("onnx_over_limit_flag", over_limit_flag, ResourceLimitError, r"128 elements.*limit of 127",
         r"input 'x'"),
    Case("onnx_invalid_limit_setting", invalid_limit_setting, ResourceLimitError, r"must be a positive integer",
         r"max_elements|CORTADO_MAX_ELEMENTS"),
    Case("onnx_absurd_rank", absurd_rank, ResourceLimitError, r"has 70 dims; at most 64", r"'grow'|value 'y'"),
    Case("onnx_absurd_constant_of_shape", absurd_constant_of_shape, ResourceLimitError,
         r"1,000,000,000,000 elements", r"'huge_fill'"),
    Case("onnx_initializer_data_mismatch", initializer_data_mismatch, ModelFormatError, r"initializer 'w'", FILE),
    Case("onnx_initializer_absurd_dims", initializer_absurd_dims, ModelFormatError, r"initializer 'w'", FILE),
    Case("onnx_initializer_wrong_for_op", initializer_wrong_for_op, ShapeError, r"MatMul", r"'project'"),
    Case("onnx_unsupported_op", unsupported_op, UnsupportedOpError, r"FancyNewOp", r"'fancy'"),
    Case("onnx_custom_domain_op", custom_domain_op, UnsupportedOpError, r"com\.vendor", r"'vendor_relu'"),
    Case("onnx_string_input", string_input, UnsupportedOpError, r"element type STRING", r"input 'x'"),
    Case("onnx_sequence_input", sequence_input, UnsupportedOpError, r"sequences, maps and optionals", r"input 'x'"),
    Case("onnx_input_without_shape", input_without_shape, ShapeError, r"has no shape", r"input 'x'"),
    Case("onnx_duplicate_attribute", duplicate_attribute, ModelFormatError, r"'perm' appeared multiple times",
         r"node 'swap' \(Transpose\)"),
    Case("onnx_attribute_out_of_range", attribute_out_of_range, ShapeError, r"perm", r"'swap'"),
    Case("onnx_window_larger_than_input", window_larger_than_input, ShapeError, r"window", r"'pool'"),
    Case("onnx_too_many_inputs", too_many_inputs, ModelFormatError, r"input size 2 not in range \[min=1, max=1\]",
         r"node 'relu2' \(Relu\)"),
    Case("onnx_required_attribute_missing", required_attribute_missing, ModelFormatError,
         r"Required attribute 'to' is missing", r"node 'cast' \(Cast\)"),
    Case("onnx_attribute_wrong_type", attribute_wrong_type, ModelFormatError,
         r"Mismatched attribute type .*axis.* Expected: 'INT', actual: 'STRING'", r"node 'soft' \(Softmax\)"),
    Case("onnx_external_absolute_path", external_absolute_path, ModelLoadError, r"not a relative path",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_external_dotdot_path", external_dotdot_path, ModelLoadError, r"escapes the model's folder",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_external_symlink", external_symlink, ModelLoadError, r"escapes the model's folder",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_external_missing", external_missing, ModelLoadError, r"'w\.bin' .* is missing",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_external_absurd_dims", external_absurd_dims, ResourceLimitError, r"1,000,000,000,000 elements",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_external_bad_offset", external_bad_offset, ModelLoadError, r"offset 'twelve' .* is not an integer",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_external_length_over_dims", external_length_over_dims, ModelLoadError, r"is 400 bytes, but its dims",
         r"model\.onnx: .*tensor 'w'"),
    Case("onnx_absurd_range", absurd_range, ResourceLimitError, r"Range's output would hold 1,000,000,000,000",
         r"node 'counter' \(Range\)"),
    Case("onnx_range_of_vectors", range_of_vectors, ModelFormatError, r"must be scalars", r"node 'counter' \(Range\)"),
    Case("onnx_cast_to_unknown_type", cast_to_unknown_type, UnsupportedOpError, r"element type code 99",
         r"'cast'"),
    Case("onnx_external_past_end", external_past_end, ModelLoadError, r"runs past the end",
         r"model\.onnx: .*tensor 'w'"),
]
