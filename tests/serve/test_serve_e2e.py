"""``cortado serve`` end to end: one server (local Ray, 2 replicas, batch 8) for these tests,
spoken to only through tritonclient (HTTP JSON, HTTP binary, gRPC) and raw HTTP.

Numerics are checked against onnxruntime on random data; every bad request gets its status
and the server still answers after it; a concurrent load and a replica killed mid-load lose
no request and mix no caller's rows; SIGINT stops the server and frees its ports.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("ray.serve", reason="cortado serve needs the serve extra: pip install -e '.[serve]'")
httpclient = pytest.importorskip("tritonclient.http", reason="the serve tests need tritonclient[http,grpc]")
grpcclient = pytest.importorskip("tritonclient.grpc", reason="the serve tests need tritonclient[http,grpc]")
from tritonclient.utils import InferenceServerException  # noqa: E402

import cortado  # noqa: E402

from cortado.runtime.serve.local import port_is_free, start  # noqa: E402
from tests.serve.raw_http import get, post  # noqa: E402
from tests.serve.tiny_model import build, reference  # noqa: E402

MODEL = "tiny"
TIMEOUT_S = 60


@pytest.fixture(scope="session")
def onnx_model():
    return build()


# session-scoped: under xdist, other modules' tests may run between this module's tests on the
# same worker, and a module-scoped server would be stopped and started again around each of them.
# Each xdist worker that draws one of these tests starts its own server (the last test, SIGINT,
# stops that worker's server: xdist hands a worker its tests in collection order).
@pytest.fixture(scope="session")
def server(tmp_path_factory, onnx_model):
    work = tmp_path_factory.mktemp("serve")
    artifact = work / "tiny.cortado"
    cortado.compile(onnx_model, target="interpreter").save(artifact)
    srv = start([str(artifact), "--name", MODEL, "--replicas", "2", "--max-batch-size", "8",
                 "--batch-wait-ms", "20", "--target", "interpreter"], work)
    yield srv
    srv.stop()


def feeds(rng, n):
    return {"x": rng.standard_normal((n, 4)).astype(np.float32),
            "y": rng.standard_normal((n, 3)).astype(np.float32)}


def http_infer(client, f, *, binary=False, outputs=("z", "s"), request_id=""):
    inputs = []
    for name, a in f.items():
        i = httpclient.InferInput(name, list(a.shape), "FP32")
        i.set_data_from_numpy(a, binary_data=binary)
        inputs.append(i)
    outs = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in outputs]
    return client.infer(MODEL, inputs, outputs=outs, request_id=request_id)


def grpc_infer(client, f, request_id="", outputs=None):
    inputs = []
    for name, a in f.items():
        i = grpcclient.InferInput(name, list(a.shape), "FP32")
        i.set_data_from_numpy(a)
        inputs.append(i)
    outs = [grpcclient.InferRequestedOutput(o) for o in outputs] if outputs else None
    return client.infer(MODEL, inputs, outputs=outs, request_id=request_id, client_timeout=TIMEOUT_S)


def check(result, f, onnx_model, names=("z", "s")):
    want = reference(onnx_model, f)
    for name in names:
        np.testing.assert_allclose(result.as_numpy(name), want[name], rtol=1e-5, atol=1e-5)


# -- health and metadata -----------------------------------------------------------------------
def test_health_and_metadata_over_http_and_grpc(server):
    h = httpclient.InferenceServerClient(server.url, network_timeout=TIMEOUT_S)
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    assert h.is_server_live() and h.is_server_ready() and h.is_model_ready(MODEL)
    assert g.is_server_live() and g.is_server_ready() and g.is_model_ready(MODEL)
    meta = h.get_model_metadata(MODEL)
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]},
                              {"name": "y", "datatype": "FP32", "shape": [-1, 3]}]
    assert [o["name"] for o in meta["outputs"]] == ["z", "s"]
    gm = g.get_model_metadata(MODEL, as_json=True)
    assert [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in gm["inputs"]] == \
        [("x", "FP32", [-1, 4]), ("y", "FP32", [-1, 3])]
    assert h.get_server_metadata()["name"] == "cortado"


# -- numerics ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3])
def test_outputs_match_onnxruntime_over_every_encoding(server, onnx_model, n):
    rng = np.random.default_rng(n)
    h = httpclient.InferenceServerClient(server.url, network_timeout=TIMEOUT_S)
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    f = feeds(rng, n)
    r = http_infer(h, f, request_id=f"json-{n}")
    check(r, f, onnx_model)
    assert r.get_response()["id"] == f"json-{n}"
    f = feeds(rng, n)
    r = http_infer(h, f, binary=True, request_id=f"bin-{n}")
    check(r, f, onnx_model)
    assert r.get_response()["id"] == f"bin-{n}"
    f = feeds(rng, n)
    r = grpc_infer(g, f, request_id=f"grpc-{n}")
    check(r, f, onnx_model)
    assert r.get_response().id == f"grpc-{n}"


def test_requested_outputs_only_and_curl_style_json(server, onnx_model):
    f = feeds(np.random.default_rng(7), 2)
    h = httpclient.InferenceServerClient(server.url, network_timeout=TIMEOUT_S)
    r = http_infer(h, f, outputs=("s",))
    assert [o["name"] for o in r.get_response()["outputs"]] == ["s"]
    check(r, f, onnx_model, names=("s",))
    body = {"inputs": [{"name": k, "shape": list(a.shape), "datatype": "FP32", "data": a.tolist()}
                       for k, a in f.items()]}          # nested lists, as a person writes them
    status, headers, raw = post(f"http://{server.url}/v2/models/{MODEL}/infer", json.dumps(body).encode())
    assert status == 200, raw
    out = {o["name"]: np.array(o["data"], np.float32).reshape(o["shape"]) for o in json.loads(raw)["outputs"]}
    np.testing.assert_allclose(out["z"], reference(onnx_model, f)["z"], rtol=1e-5, atol=1e-5)
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    r = grpc_infer(g, f, outputs=["z"])
    assert [o.name for o in r.get_response().outputs] == ["z"]


# -- bad requests ------------------------------------------------------------------------------
def _tensor(name="x", shape=(1, 4), datatype="FP32", data=None):
    n = int(np.prod(shape)) if all(isinstance(d, int) and d > 0 for d in shape) else 1
    return {"name": name, "shape": list(shape), "datatype": datatype, "data": data if data is not None else [0.5] * n}


GOOD_Y = _tensor("y", (1, 3))
BAD_REQUESTS = [
    ("malformed JSON", b'{"inputs": [', 400, "not valid JSON"),
    ("inputs not a list", {"inputs": "x"}, 400, "inputs"),
    ("shape not integers", {"inputs": [_tensor(shape=("1", 4)), GOOD_Y]}, 400, "inputs[0].shape"),
    ("data count", {"inputs": [_tensor(data=[1.0, 2.0]), GOOD_Y]}, 400, "inputs[0].data"),
    ("data strings", {"inputs": [_tensor(data=["a"] * 4), GOOD_Y]}, 400, "inputs[0].data"),
    ("unknown input", {"inputs": [_tensor(), GOOD_Y, _tensor("q", (1, 3))]}, 400, "inputs[2].name"),
    ("missing input", {"inputs": [_tensor()]}, 400, "missing 'y'"),
    ("unknown output", {"inputs": [_tensor(), GOOD_Y], "outputs": [{"name": "nope"}]}, 400, "outputs[0].name"),
    ("wrong datatype", {"inputs": [_tensor(datatype="INT32", data=[1] * 4), GOOD_Y]}, 400, "inputs[0].datatype"),
    ("unknown datatype", {"inputs": [_tensor(datatype="FP8"), GOOD_Y]}, 400, "inputs[0].datatype"),
    ("shape the model cannot take", {"inputs": [_tensor(shape=(1, 5)), GOOD_Y]}, 400, "inputs[0].shape"),
    ("batch dims disagree", {"inputs": [_tensor(shape=(2, 4)), GOOD_Y]}, 400, "inputs[1].shape[0]"),
    ("absurd shape", {"inputs": [{"name": "x", "shape": [2**40, 2**20], "datatype": "FP32",
                                  "parameters": {"binary_data_size": 16}}, GOOD_Y]}, 400, "inputs[0].shape"),
]


@pytest.mark.parametrize("what,body,status,field", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_is_refused_and_the_server_keeps_answering(server, onnx_model, what, body, status, field):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, _, answer = post(f"http://{server.url}/v2/models/{MODEL}/infer", raw, timeout=TIMEOUT_S)
    assert got == status, answer
    message = json.loads(answer)["error"]
    assert field in message and "\n" not in message, message
    f = feeds(np.random.default_rng(1), 1)
    check(http_infer(httpclient.InferenceServerClient(server.url, network_timeout=TIMEOUT_S), f), f, onnx_model)


def test_unknown_model_and_path_are_404(server):
    status, _, body = post(f"http://{server.url}/v2/models/nope/infer", b"{}")
    assert status == 404 and "unknown model 'nope'" in json.loads(body)["error"]
    assert get(f"http://{server.url}/v2/models/nope")[0] == 404
    assert get(f"http://{server.url}/v2/models/nope/ready")[0] == 404
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    with pytest.raises(InferenceServerException, match="unknown model") as e:
        g.get_model_metadata("nope")
    assert e.value.status() == "StatusCode.NOT_FOUND"


def test_grpc_bad_request_is_invalid_argument(server):
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    i = grpcclient.InferInput("x", [1, 5], "FP32")
    i.set_data_from_numpy(np.zeros((1, 5), np.float32))
    j = grpcclient.InferInput("y", [1, 3], "FP32")
    j.set_data_from_numpy(np.zeros((1, 3), np.float32))
    with pytest.raises(InferenceServerException, match=r"inputs\[0\].shape") as e:
        g.infer(MODEL, [i, j], client_timeout=TIMEOUT_S)
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"


# -- load, batching, faults --------------------------------------------------------------------
def _load(server, onnx_model, requests: int, threads: int, *, allow_5xx=False, batch_sizes=(1, 2, 3)):
    """``requests`` requests from ``threads`` threads (HTTP JSON, HTTP binary and gRPC in turn),
    every answer checked against onnxruntime; returns (ok, server errors)."""
    lock = threading.Lock()
    tally = {"ok": 0, "5xx": 0}

    def worker(t):
        rng = np.random.default_rng(1000 + t)
        h = httpclient.InferenceServerClient(server.url, network_timeout=TIMEOUT_S, connection_timeout=TIMEOUT_S)
        g = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
        for k in range(t, requests, threads):
            f = feeds(rng, int(rng.choice(batch_sizes)))
            try:
                if k % 3 == 2:
                    r = grpc_infer(g, f, request_id=f"r{k}")
                    assert r.get_response().id == f"r{k}"
                else:
                    r = http_infer(h, f, binary=k % 3 == 1, request_id=f"r{k}")
                    assert r.get_response()["id"] == f"r{k}"
            except InferenceServerException as e:
                code = str(e.status())
                server_side = code.startswith("5") or code in ("StatusCode.UNAVAILABLE", "StatusCode.INTERNAL")
                if allow_5xx and server_side and "DEADLINE" not in code:
                    with lock:
                        tally["5xx"] += 1
                    continue
                raise
            check(r, f, onnx_model)                  # exactly this caller's rows, nobody else's
            with lock:
                tally["ok"] += 1

    with ThreadPoolExecutor(threads) as pool:
        for fut in [pool.submit(worker, t) for t in range(threads)]:
            fut.result(timeout=600)
    assert tally["ok"] + tally["5xx"] == requests
    return tally["ok"], tally["5xx"]


def _metric(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.slow
def test_concurrent_load_every_answer_right_and_batches_formed(server, onnx_model):
    t0 = time.monotonic()
    ok, _ = _load(server, onnx_model, requests=320, threads=16)
    assert ok == 320
    print(f"320 requests from 16 threads in {time.monotonic() - t0:.1f}s")
    # dynamic batching happened: fewer model runs than successful requests (each request is run
    # exactly once, alone or concatenated with others); Ray reports metrics every ~2 s
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    deadline, last = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        answered = _metric(text, "ray_cortado_requests_total", model=MODEL, code="200")
        runs = _metric(text, "ray_cortado_batch_rows_count", model=MODEL)
        if answered >= 320 and (answered, runs) == last:
            break
        last = (answered, runs)
        time.sleep(3)
    assert answered >= 320, text[-2000:]
    assert 0 < runs < answered, f"{runs} model runs for {answered} requests: no batch was formed"
    assert "ray_serve_" in text                      # Ray Serve's own metrics beside ours


def _replica_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "ServeReplica:cortado:model-tiny"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.slow
def test_killing_a_replica_during_load_loses_no_request_and_mixes_no_rows(server, onnx_model):
    pids = _replica_pids()
    if not pids:
        pytest.skip("cannot find the replica processes by name (pgrep)")
    killer = threading.Timer(1.0, lambda: os.kill(pids[0], signal.SIGKILL))
    killer.start()
    try:
        ok, failed = _load(server, onnx_model, requests=120, threads=8, allow_5xx=True)
    finally:
        killer.cancel()
    assert ok > 0
    print(f"replica {pids[0]} killed: {ok} answered right, {failed} got 5xx")
    # Ray Serve replaces the replica; the server answers afterwards
    f = feeds(np.random.default_rng(5), 2)
    h = httpclient.InferenceServerClient(server.url, network_timeout=TIMEOUT_S)
    check(http_infer(h, f), f, onnx_model)
    deadline = time.monotonic() + 120
    while len(_replica_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(2)
    assert len(_replica_pids()) >= 2, "the killed replica was not replaced"


# -- shutdown (last: it stops the module's server) -----------------------------------------------
def test_sigint_during_load_exits_cleanly_and_frees_the_ports(server, onnx_model):
    """Clients keep sending while SIGINT arrives: every answer is either right (in-flight work
    drains) or a clean refusal (5xx, connection refused or reset) -- no wrong rows, no hang --
    and the process exits 0 with its ports free."""
    outcomes, stop = [], threading.Event()

    def client(t):
        rng = np.random.default_rng(500 + t)
        while not stop.is_set():
            f = feeds(rng, 1)
            body = json.dumps({"inputs": [{"name": k, "shape": list(a.shape), "datatype": "FP32",
                                           "data": a.reshape(-1).tolist()} for k, a in f.items()]}).encode()
            try:
                status, _, raw = post(f"http://{server.url}/v2/models/{MODEL}/infer", body, timeout=TIMEOUT_S)
            except OSError:                          # refused or reset: the server is going away
                outcomes.append("refused")
                time.sleep(0.1)
                continue
            if status == 200:
                out = {o["name"]: np.array(o["data"], np.float32).reshape(o["shape"]) for o in json.loads(raw)["outputs"]}
                if not np.allclose(out["z"], reference(onnx_model, f)["z"], rtol=1e-5, atol=1e-5):
                    status = "wrong rows"
            outcomes.append(status)

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(4)]
    for t in threads:
        t.start()
    time.sleep(2)
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    code = server.proc.wait(90)
    print(f"stopped in {time.monotonic() - t0:.1f}s")
    stop.set()
    for t in threads:
        t.join(TIMEOUT_S + 5)
    assert not any(t.is_alive() for t in threads), "a client hung past its timeout"
    assert code == 0, server.output()
    print("outcomes during shutdown:", {o: outcomes.count(o) for o in set(outcomes)})
    assert outcomes.count(200) > 0
    assert set(outcomes) <= {200, 500, 502, 503, 504, "refused"}, outcomes
    deadline = time.monotonic() + 30
    while not all(port_is_free(p) for p in (server.http_port, server.grpc_port)) and time.monotonic() < deadline:
        time.sleep(1)
    assert port_is_free(server.http_port) and port_is_free(server.grpc_port)
    assert re.search(r"shutting down", server.output())
