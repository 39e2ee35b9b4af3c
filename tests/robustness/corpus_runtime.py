"""Bad inputs at run time, and command lines whose outputs cannot be written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cortado.errors import ArtifactError, InputError, OutputError, ResourceLimitError
from robust_cases import Bad, Case, compile_argv, fresh_artifact, run_argv, tiny_model, tiny_onnx, write_model
from corpus_caffe import NET

X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)


def feed_case(tmp: Path, value, *, npy: np.ndarray | None = None, name: str = "x") -> Bad:
    """``value`` fed to the compiled tiny model as input ``name``; with ``npy``, the same kind of
    input as a .npy file for ``cortado run``."""
    def api():
        return tiny_model().run({name: value} if name == "x" else {"x": X, name: value})
    argv = None
    if npy is not None:
        art = fresh_artifact(tmp)
        np.save(tmp / "in.npy", npy, allow_pickle=False)
        argv = run_argv(art, "--input", f"{name}=in.npy")
    return Bad(api, argv)


def wrong_dtype(tmp):
    return feed_case(tmp, X.astype(np.float64), npy=X.astype(np.float64))


def wrong_shape(tmp):
    return feed_case(tmp, np.ones((2, 5), np.float32), npy=np.ones((2, 5), np.float32))


def wrong_rank(tmp):
    return feed_case(tmp, np.ones((2, 4, 1), np.float32), npy=np.ones((2, 4, 1), np.float32))


def unknown_input(tmp):
    bad = feed_case(tmp, X, name="nope")
    bad.argv = run_argv(fresh_artifact(tmp), "--input", "nope=random")
    return bad


def missing_input(tmp):
    return Bad(lambda: tiny_model().run({}))


def string_input(tmp):
    return feed_case(tmp, "not an array")


def ragged_list(tmp):
    return feed_case(tmp, [[1.0, 2.0], [3.0]])


def object_array(tmp):
    return feed_case(tmp, np.array([{"a": 1}, None], dtype=object))


def too_many_positional(tmp):
    return Bad(lambda: tiny_model()(X, X))


def absurd_batch(tmp):
    """A broadcast view of 10^10 x 4 elements costs no memory; it must be refused before any
    copy or buffer is made."""
    return feed_case(tmp, np.broadcast_to(np.float32(1), (10**10, 4)))


def batch_over_configured_limit(tmp):
    """Under a limit of 15 elements the model compiles (its largest static value has 12) but a
    batch of 5 (20 elements) is refused at run time."""
    bad = Bad(lambda: _limited_model().run({"x": np.ones((5, 4), np.float32)}))
    art = fresh_artifact(tmp)
    np.save(tmp / "in.npy", np.ones((5, 4), np.float32))
    bad.argv = run_argv(art, "--input", "x=in.npy")
    bad.env = {"CORTADO_MAX_ELEMENTS": "15"}
    return bad


def _limited_model():
    import cortado

    return cortado.compile(tiny_onnx("N"), target="interpreter", max_elements=15)


def npy_garbage(tmp):
    (tmp / "in.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    return Bad(None, run_argv(fresh_artifact(tmp), "--input", "x=in.npy"))


def npy_pickled(tmp):
    np.save(tmp / "in.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return Bad(None, run_argv(fresh_artifact(tmp), "--input", "x=in.npy"))


def npy_absurd_header(tmp):
    """A header promising 10^12 floats in a 100-byte file: refused before numpy allocates them."""
    from numpy.lib import format as npy

    with open(tmp / "in.npy", "wb") as f:
        npy.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)})
        f.write(bytes(16))
    return Bad(None, run_argv(fresh_artifact(tmp), "--input", "x=in.npy"))


def npy_truncated(tmp):
    np.save(tmp / "in.npy", np.ones((2, 4), np.float32))
    data = (tmp / "in.npy").read_bytes()
    (tmp / "in.npy").write_bytes(data[:-5])
    return Bad(None, run_argv(fresh_artifact(tmp), "--input", "x=in.npy"))


def npy_missing(tmp):
    return Bad(None, run_argv(fresh_artifact(tmp), "--input", "x=absent.npy"))


def bad_input_flag(tmp):
    return Bad(None, run_argv(fresh_artifact(tmp), "--input", "x"))


# -- outputs that cannot be written --------------------------------------------------------------

def compile_output_parent_is_file(tmp):
    path = write_model(tmp, tiny_onnx())
    (tmp / "afile").write_text("not a folder")
    return Bad(lambda: tiny_model().save(tmp / "afile" / "out.cortado"),
               ["compile", path.name, "-o", "afile/out.cortado", "--target", "interpreter", "-q"])


def compile_output_is_other_folder(tmp):
    path = write_model(tmp, tiny_onnx())
    (tmp / "photos").mkdir()
    (tmp / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    return Bad(lambda: tiny_model().save(tmp / "photos"),
               ["compile", path.name, "-o", "photos", "--target", "interpreter", "-q"])


def compile_output_is_file(tmp):
    path = write_model(tmp, tiny_onnx())
    (tmp / "out.cortado").write_text("precious")
    return Bad(lambda: tiny_model().save(tmp / "out.cortado"), compile_argv(path))


def save_outputs_is_file(tmp):
    art = fresh_artifact(tmp)
    (tmp / "outs").write_text("not a folder")
    return Bad(None, run_argv(art, "--save-outputs", "outs"))


def convert_output_is_folder(tmp):
    (tmp / "net.prototxt").write_text(NET)
    (tmp / "out.onnx").mkdir()

    def api():
        from cortado.exporters import convert_caffe

        return convert_caffe(tmp / "net.prototxt", random_weights=True, output=tmp / "out.onnx")
    return Bad(api, ["convert", "net.prototxt", "--random-weights", "-o", "out.onnx"])


def convert_output_folder_missing(tmp):
    (tmp / "net.prototxt").write_text(NET)

    def api():
        from cortado.exporters import convert_caffe

        return convert_caffe(tmp / "net.prototxt", random_weights=True, output=tmp / "nowhere" / "out.onnx")
    return Bad(api, ["convert", "net.prototxt", "--random-weights", "-o", "nowhere/out.onnx"])


def inspect_html_unwritable(tmp):
    path = write_model(tmp, tiny_onnx())
    (tmp / "afile").write_text("not a folder")
    return Bad(None, ["inspect", path.name, "--html", "afile/report.html"])


def repro_unwritable(tmp):
    path = write_model(tmp, tiny_onnx())
    (tmp / "afile").write_text("not a folder")

    def api():
        from cortado.codegen.repro import write_repro

        return write_repro(tiny_model(), tmp / "afile" / "repro", {"x": X})
    return Bad(api, ["compile", path.name, "-o", "out.cortado", "--repro", "afile/repro", "-q",
                     "--target", "interpreter"])


INPUT_X = r"input 'x'"

CASES = [
    Case("run_wrong_dtype", wrong_dtype, InputError, r"expects dtype float32, got float64", INPUT_X),
    Case("run_wrong_shape", wrong_shape, InputError, r"expects shape \(N, 4\), got \(2, 5\)", INPUT_X),
    Case("run_wrong_rank", wrong_rank, InputError, r"rank 2", INPUT_X),
    Case("run_unknown_input", unknown_input, InputError, r"'nope'", r"'nope'"),
    Case("run_missing_input", missing_input, InputError, r"missing 'x'", r"'x'"),
    Case("run_string_input", string_input, InputError, r"must be a numpy array, got str", INPUT_X),
    Case("run_ragged_list", ragged_list, InputError, r"cannot be read as an array", INPUT_X),
    Case("run_object_array", object_array, InputError, r"expects dtype float32, got object", INPUT_X),
    Case("run_too_many_positional", too_many_positional, InputError, r"takes 1 input\(s\) \(x\), got 2", r"\(x\)"),
    Case("run_absurd_batch", absurd_batch, ResourceLimitError, r"40,000,000,000 elements", r"value 'x'"),
    Case("run_batch_over_configured_limit", batch_over_configured_limit, ResourceLimitError,
         r"20 elements.*limit of 15", r"value 'x'|in\.npy"),
    Case("run_npy_garbage", npy_garbage, InputError, r"not a readable \.npy", r"in\.npy"),
    Case("run_npy_pickled", npy_pickled, InputError, r"not a readable \.npy", r"in\.npy"),
    Case("run_npy_absurd_header", npy_absurd_header, ResourceLimitError, r"1,000,000,000,000 elements",
         r"in\.npy"),
    Case("run_npy_truncated", npy_truncated, InputError, r"truncated", r"in\.npy"),
    Case("run_npy_missing", npy_missing, InputError, r"input file not found", r"absent\.npy"),
    Case("run_bad_input_flag", bad_input_flag, InputError, r"--input expects NAME=FILE\.npy", r"'x'"),
    Case("compile_output_parent_is_file", compile_output_parent_is_file, ArtifactError, r"cannot write the artifact",
         r"afile"),
    Case("compile_output_is_other_folder", compile_output_is_other_folder, ArtifactError,
         r"not a Cortado artifact; refusing to replace it", r"photos"),
    Case("compile_output_is_file", compile_output_is_file, ArtifactError,
         r"not a Cortado artifact; refusing to replace it", r"out\.cortado"),
    Case("run_save_outputs_is_file", save_outputs_is_file, OutputError, r"is a file, not a folder", r"outs"),
    Case("inspect_html_unwritable", inspect_html_unwritable, OutputError, r"cannot write", r"afile/report\.html"),
    Case("compile_repro_unwritable", repro_unwritable, OutputError, r"cannot write", r"afile/repro"),
    Case("convert_output_is_folder", convert_output_is_folder, OutputError, r"is a folder", r"out\.onnx"),
    Case("convert_output_folder_missing", convert_output_folder_missing, OutputError, r"does not exist",
         r"nowhere"),
]
