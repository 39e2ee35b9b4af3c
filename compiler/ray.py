"""Offline batch inference with a compiled model over a Ray Data dataset.

    import ray, cortado.ray
    ds = ray.data.from_numpy(x).rename_columns({"data": "x"})      # one column per model input
    out = cortado.ray.map_batches(ds, "net.cortado", batch_size=64, concurrency=2)
    out.take(2)        # the input columns plus one column per model output

The same engine as ``cortado serve``: Ray schedules a pool of actors, each loads the artifact
once with ``cortado.runtime`` (no compiler on the workers) and runs it on numpy batches.
Columns are matched to the model's inputs by name; ``columns={"image": "x"}`` maps dataset
columns onto differently named inputs. The artifact path must be readable on every node.
Needs ``pip install 'cortado[serve]'`` plus Ray Data (``ray[data]``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["CompiledModelPredictor", "map_batches"]


class CompiledModelPredictor:
    """A Ray Data callable class: loads the artifact once per actor, runs it per batch."""

    def __init__(self, artifact: str, *, target: str = "auto", trusted_keys=None,
                 columns: Mapping[str, str] | None = None, outputs: Sequence[str] | None = None):
        from cortado import runtime

        self.model = runtime.load(artifact, target=target, trusted_keys=trusted_keys)
        self.columns = dict(columns or {})
        self.outputs = list(outputs) if outputs else self.model.output_names

    def __call__(self, batch: dict) -> dict:
        from cortado.runtime.dtypes import numpy_dtype
        from cortado.runtime.errors import InputError

        feeds = {}
        for info in self.model.inputs:
            column = next((c for c, i in self.columns.items() if i == info["name"]), info["name"])
            if column not in batch:
                raise InputError(f"the dataset has no column {column!r} for model input {info['name']!r}",
                                 hint=f"its columns are {', '.join(batch)}; map them with columns={{COLUMN: INPUT}}")
            a = np.asarray(batch[column])
            if a.dtype == object:      # ragged rows come as an object array of arrays
                a = np.stack(list(a))
            feeds[info["name"]] = np.ascontiguousarray(a, dtype=numpy_dtype(info["dtype"]))
        outs = self.model.run(feeds)
        result = dict(batch)
        result.update({name: outs[name] for name in self.outputs})
        return result


def map_batches(dataset, artifact, *, batch_size: int = 64, concurrency: int = 1, target: str = "auto",
                trusted_keys=None, columns: Mapping[str, str] | None = None, outputs: Sequence[str] | None = None,
                num_cpus: float | None = None, num_gpus: float | None = None, **ray_options):
    """``dataset`` with the model's outputs added as columns (lazy, as Ray Data is)."""
    import os

    if target == "cuda" and num_gpus is None:
        num_gpus = 1
    kwargs = {"num_cpus": num_cpus} if num_cpus is not None else {}
    if num_gpus:
        kwargs["num_gpus"] = num_gpus
    return dataset.map_batches(
        CompiledModelPredictor, batch_size=batch_size, batch_format="numpy", concurrency=concurrency,
        fn_constructor_kwargs={"artifact": os.path.abspath(os.fspath(artifact)), "target": target,
                               "trusted_keys": trusted_keys, "columns": columns, "outputs": outputs},
        **kwargs, **ray_options)
