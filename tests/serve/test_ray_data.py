"""``cortado.ray.map_batches``: a compiled model over a Ray Data dataset, on a small local Ray
instance, checked row by row against onnxruntime."""

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data", reason="cortado.ray needs Ray Data: pip install 'ray[data]'")
pytest.importorskip("pandas", reason="Ray Data needs pandas: pip install 'ray[data]'")

import cortado  # noqa: E402
import cortado.ray  # noqa: E402
from tests.serve.tiny_model import build, reference  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=100 * 2**20, include_dashboard=False, address="local",
             logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def test_map_batches_adds_the_models_outputs(tmp_path, local_ray):
    onnx_model = build()
    artifact = tmp_path / "tiny.cortado"
    cortado.compile(onnx_model, target="interpreter").save(artifact)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 4)).astype(np.float32)
    y = rng.standard_normal((37, 3)).astype(np.float32)
    ds = ray.data.from_items([{"features": x[i], "y": y[i], "row": i} for i in range(37)])
    out = cortado.ray.map_batches(ds, artifact, batch_size=8, concurrency=1, target="interpreter",
                                  columns={"features": "x"}, num_cpus=0.5)
    rows = sorted(out.take_all(), key=lambda r: r["row"])
    want = reference(onnx_model, {"x": x, "y": y})
    assert len(rows) == 37
    np.testing.assert_allclose(np.stack([r["z"] for r in rows]), want["z"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.stack([r["s"] for r in rows]), want["s"], rtol=1e-5, atol=1e-5)
