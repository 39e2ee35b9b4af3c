"""``cortado serve`` refuses bad invocations with one line and exit code 2, before Ray starts."""

import socket
import subprocess
import sys

import pytest

from cortado.runtime.serve.local import free_port


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    import cortado
    from tests.serve.tiny_model import build

    path = tmp_path_factory.mktemp("cli") / "tiny.cortado"
    cortado.compile(build(), target="interpreter").save(path)
    return path


def serve(capsys, *args) -> tuple[int, str]:
    """(exit code, stderr) of ``cortado serve ARGS`` run in this process."""
    from cortado.cli import main

    ports = ["--port", str(free_port()), "--grpc-port", str(free_port()), "--metrics-port", str(free_port())]
    try:
        code = main(["serve", *map(str, args), *ports, "-q"])
    except SystemExit as e:            # argparse's own refusals
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["missing.cortado"], "not found: missing.cortado"),
    (["{a}", "--replicas", "0"], "--replicas must be at least 1"),
    (["{a}", "--max-batch-size", "0"], "--max-batch-size must be at least 1"),
    (["{a}", "--batch-wait-ms", "-1"], "--batch-wait-ms must not be negative"),
    (["{a}", "--name", "a", "--name", "b"], "2 --name flags for 1 model"),
    (["{a}", "{a}"], "two models are named 'tiny'"),
    (["{a}", "--name", "no/slash"], "not usable in a URL"),
    (["{a}", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["{a}", "--weights", "w.caffemodel", "--random-weights"], "not allowed with argument"),
    (["{a}", "-O", "1"], "is a compiled artifact"),
])
def test_bad_invocations_exit_2_with_one_message(capsys, artifact, args, message):
    code, err = serve(capsys, *[a.format(a=artifact) for a in args])
    assert code == 2 and message in err, err


def test_a_model_that_does_not_compile_is_refused_before_ray_starts(capsys, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    code, err = serve(capsys, bad)
    assert code == 2 and "broken.onnx" in err, err


def test_trusted_key_with_a_model_to_compile_is_refused(capsys, tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    key = tmp_path / "k"
    from cortado.runtime import signing

    pytest.importorskip("cryptography", reason="signing needs the serve extra")
    signing.generate_key(key)
    code, err = serve(capsys, model, "--trusted-key", f"{key}.pub")
    assert code == 2 and "not a signed artifact" in err, err


def test_a_port_in_use_is_refused_up_front_from_the_command_line(artifact):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "cortado.cli", "serve", str(artifact), "--host", "127.0.0.1",
                            "--port", str(port), "--grpc-port", str(free_port()), "-q"],
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and f"--port {port} on 127.0.0.1 is not free" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2
