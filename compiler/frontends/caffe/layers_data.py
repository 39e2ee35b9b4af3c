"""Layers that feed the net (inputs) and layers that only matter for training (dropped).

Input converters return ``(top name, shape)`` pairs; a dim that the prototxt does not fix is
``None`` and must come from ``input_shapes``. A data layer's top is the blob *after* its
``transform_param`` preprocessing (scale, mean subtraction, crop, mirror): that preprocessing
reads files and random state, so it is not compiled — feed the transformed data, as a deploy
net expects. Label tops become inputs only if a kept layer reads them.
"""

from __future__ import annotations

from .registry import caffe_layer

LOSS_LAYERS = ("SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss", "InfogainLoss",
               "MultinomialLogisticLoss", "ContrastiveLoss")


def _note_transform(ctx, layer) -> None:
    tp = layer.param("transform_param")
    what = [k for k in ("scale", "mean_file", "mean_value", "crop_size", "mirror") if tp.has(k)]
    if what:
        ctx.note(f"its preprocessing ({', '.join(what)}) is not compiled; feed the '{layer.tops[0]}' blob "
                 "already transformed")


def _with_labels(layer, data_shape, batch):
    out = [(layer.tops[0], data_shape)] if layer.tops else []
    for t in layer.tops[1:]:
        out.append((t, (batch,)))
    return out


def _crop(layer):
    c = layer.param("transform_param").crop_size
    return (c, c) if c else (None, None)


@caffe_layer("Input", kind="input")
def _input(ctx, layer, inputs):
    shapes = [tuple(int(d) for d in s.dim) for s in layer.param("input_param").shape]
    if shapes and len(shapes) not in (1, len(layer.tops)):
        raise ctx.error(f"input_param has {len(shapes)} shapes for {len(layer.tops)} tops; give one or one per top")
    return [(t, shapes[i] if len(shapes) > 1 else (shapes[0] if shapes else None)) for i, t in enumerate(layer.tops)]


@caffe_layer("Data", kind="input")
def _data(ctx, layer, inputs):
    _note_transform(ctx, layer)
    batch = layer.param("data_param").batch_size or None
    h, w = _crop(layer)
    return _with_labels(layer, (batch, None, h, w), batch)


@caffe_layer("ImageData", kind="input")
def _image_data(ctx, layer, inputs):
    _note_transform(ctx, layer)
    p = layer.param("image_data_param")
    h, w = _crop(layer)
    if h is None and p.new_height and p.new_width:
        h, w = p.new_height, p.new_width
    return _with_labels(layer, (p.batch_size or None, 3 if p.is_color else 1, h, w), p.batch_size or None)


@caffe_layer("WindowData", kind="input")
def _window_data(ctx, layer, inputs):
    _note_transform(ctx, layer)
    p = layer.param("window_data_param")
    c = layer.param("transform_param").crop_size or p.crop_size or None
    return _with_labels(layer, (p.batch_size or None, 3, c, c), p.batch_size or None)


@caffe_layer("MemoryData", kind="input")
def _memory_data(ctx, layer, inputs):
    _note_transform(ctx, layer)
    p = layer.param("memory_data_param")
    dims = tuple(getattr(p, k) if p.has(k) else None for k in ("batch_size", "channels", "height", "width"))
    return _with_labels(layer, dims, dims[0])


@caffe_layer("HDF5Data", kind="input")
def _hdf5_data(ctx, layer, inputs):
    batch = layer.param("hdf5_data_param").batch_size or None
    return [(t, None) for t in layer.tops] if batch is None else [(t, (batch, None, None, None)) for t in layer.tops]


@caffe_layer("DummyData", kind="input")
def _dummy_data(ctx, layer, inputs):
    p = layer.param("dummy_data_param")
    n = len(layer.tops)
    if p.shape:
        shapes = [tuple(int(d) for d in s.dim) for s in p.shape]
    else:
        cols = [list(getattr(p, k)) for k in ("num", "channels", "height", "width")]
        count = max((len(c) for c in cols), default=0)
        shapes = [tuple(c[i if len(c) > 1 else 0] if c else None for c in cols) for i in range(count)]
    if shapes and len(shapes) not in (1, n):
        raise ctx.error(f"dummy_data_param has {len(shapes)} shapes for {n} tops")
    ctx.note("its generated data is compiled as a graph input; feed the data it would produce")
    return [(t, shapes[i] if len(shapes) > 1 else (shapes[0] if shapes else None)) for i, t in enumerate(layer.tops)]


@caffe_layer(*LOSS_LAYERS, "Accuracy", kind="drop")
def _training_only(ctx, layer, inputs):
    ctx.note("dropped for inference (loss and accuracy layers only matter in training)")
    return []


@caffe_layer("Silence", "HDF5Output", kind="drop")
def _sink(ctx, layer, inputs):
    ctx.note("dropped: it produces nothing the compiled net returns")
    return []
