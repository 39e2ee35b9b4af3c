"""The ingress in-process, with a stand-in model handle: routes, the API key, the binary
tensor extension's framing, and how replica failures map to statuses."""

import asyncio
import json

import numpy as np
import pytest

pytest.importorskip("starlette", reason="cortado serve needs the serve extra: pip install -e '.[serve]'")

from starlette.requests import Request  # noqa: E402

from cortado.runtime.serve import http_codec  # noqa: E402
from cortado.runtime.serve.ingress import Ingress  # noqa: E402

IO = {"inputs": [{"name": "x", "shape": ["N", 2], "dtype": "float32"}],
      "outputs": [{"name": "y", "shape": ["N", 2], "dtype": "float32"},
                  {"name": "k", "shape": ["N"], "dtype": "int64"}]}


class Handle:
    """Doubles x, counts rows; or fails like a dead replica, or answers a model error."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.infer = self

    def remote(self, feeds):
        async def answer():
            if self.mode == "dead":
                raise RuntimeError("ActorDiedError: the replica died")
            if self.mode == "model error":
                return {"error": (500, "model error: kernel launch failed")}
            x = feeds["x"]
            return {"outputs": {"y": x * 2, "k": np.arange(len(x), dtype=np.int64)}}
        return answer()


def call(ingress, method, path, body=b"", headers=None):
    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    response = asyncio.run(ingress(Request(scope, receive)))
    return response.status_code, dict(response.headers), response.body


def infer_body(x, binary=False):
    t = {"name": "x", "shape": list(x.shape), "datatype": "FP32"}
    if binary:
        t["parameters"] = {"binary_data_size": x.nbytes}
        head = json.dumps({"inputs": [t], "parameters": {"binary_data_output": True}}).encode()
        return head + x.tobytes(), {http_codec.HEADER: str(len(head))}
    t["data"] = x.reshape(-1).tolist()
    return json.dumps({"inputs": [t], "id": "abc"}).encode(), {}


def test_api_key_guards_everything_but_health_probes():
    ingress = Ingress({"m": Handle()}, {"m": (IO, None)}, api_key="s3cret")
    body, _ = infer_body(np.ones((1, 2), np.float32))
    assert call(ingress, "GET", "/v2/health/ready")[0] == 200
    status, _, answer = call(ingress, "POST", "/v2/models/m/infer", body)
    assert status == 401 and "Bearer" in json.loads(answer)["error"]
    assert call(ingress, "POST", "/v2/models/m/infer", body, {"Authorization": "Bearer wrong"})[0] == 401
    assert call(ingress, "GET", "/v2/models/m", headers={"Authorization": "Bearer s3cret"})[0] == 200
    status, _, answer = call(ingress, "POST", "/v2/models/m/infer", body, {"Authorization": "Bearer s3cret"})
    assert status == 200 and json.loads(answer)["id"] == "abc"


def test_binary_in_and_out_round_trip():
    ingress = Ingress({"m": Handle()}, {"m": (IO, None)})
    x = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    body, headers = infer_body(x, binary=True)
    status, out_headers, answer = call(ingress, "POST", "/v2/models/m/versions/1/infer", body, headers)
    assert status == 200
    n = int(out_headers[http_codec.HEADER.lower()])
    head = json.loads(answer[:n])
    sizes = [o["parameters"]["binary_data_size"] for o in head["outputs"]]
    y = np.frombuffer(answer[n:n + sizes[0]], np.float32).reshape(head["outputs"][0]["shape"])
    k = np.frombuffer(answer[n + sizes[0]:], np.int64)
    np.testing.assert_array_equal(y, x * 2)
    np.testing.assert_array_equal(k, [0, 1, 2])
    assert [o["datatype"] for o in head["outputs"]] == ["FP32", "INT64"]


@pytest.mark.parametrize("body,headers,field", [
    (b'{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}xx',
     {http_codec.HEADER: "abc"}, "Inference-Header-Content-Length"),
    (b'{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}',
     {http_codec.HEADER: "999"}, "Inference-Header-Content-Length"),
    (b'{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":4}}]}1234',
     {http_codec.HEADER: "93"}, "binary_data_size"),
    (b'{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}],"id":7}', {}, "id"),
    (b'{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}],'
     b'"parameters":{"binary_data_output":"yes"}}', {}, "binary_data_output"),
])
def test_bad_framing_is_400_naming_the_field(body, headers, field):
    ingress = Ingress({"m": Handle()}, {"m": (IO, None)})
    status, _, answer = call(ingress, "POST", "/v2/models/m/infer", body, headers)
    assert status == 400 and field in json.loads(answer)["error"], answer


def test_replica_failures_and_model_errors_are_5xx():
    body, _ = infer_body(np.ones((1, 2), np.float32))
    status, _, answer = call(Ingress({"m": Handle("dead")}, {"m": (IO, None)}), "POST", "/v2/models/m/infer", body)
    assert status == 503 and "retry" in json.loads(answer)["error"]
    status, _, answer = call(Ingress({"m": Handle("model error")}, {"m": (IO, None)}), "POST",
                             "/v2/models/m/infer", body)
    assert status == 500 and json.loads(answer)["error"] == "model error: kernel launch failed"


def test_routes_and_methods():
    ingress = Ingress({"m": Handle()}, {"m": (IO, None)})
    assert call(ingress, "GET", "/v2/models/m/infer")[0] == 405
    assert call(ingress, "GET", "/v2/models/m/versions/2")[0] == 404
    assert call(ingress, "GET", "/v1/whatever")[0] == 404
    status, _, answer = call(ingress, "GET", "/v2/models/m")
    assert json.loads(answer)["outputs"][1] == {"name": "k", "datatype": "INT64", "shape": [-1]}
