"""Legacy Caffe layer formats, upgraded in-process to the current ``layer { type: "..." }`` form.

* V1 (``layers { type: CONVOLUTION ... }``, 2014-2015): the type is an enum; parameters use
  the same ``*_param`` messages as today, so only the type name and the shared-parameter
  names (``param: "w"``) change. ``blobs_lr`` / ``weight_decay`` are training-only.
* V0 (``layers { layer { type: "conv" kernelsize: 11 ... } bottom: "x" top: "y" }``, 2013):
  the parameters sit flat on the inner ``layer`` message. They move into the matching
  ``*_param`` message, data-layer preprocessing into ``transform_param``, and a separate
  ``"padding"`` layer is folded into the convolution or pooling layer it feeds, as Caffe's own
  upgrade tool does.
"""

from __future__ import annotations

from .schema import Record

__all__ = ["V1_TYPE_NAMES", "V0_TYPE_NAMES", "upgrade_v0_params"]

V1_TYPE_NAMES = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution", "DATA": "Data", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN",
    "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

V0_TYPE_NAMES = {
    "accuracy": "Accuracy", "bnll": "BNLL", "concat": "Concat", "conv": "Convolution", "data": "Data",
    "dropout": "Dropout", "euclidean_loss": "EuclideanLoss", "flatten": "Flatten", "hdf5_data": "HDF5Data",
    "hdf5_output": "HDF5Output", "im2col": "Im2col", "images": "ImageData", "infogain_loss": "InfogainLoss",
    "innerproduct": "InnerProduct", "lrn": "LRN", "multinomial_logistic_loss": "MultinomialLogisticLoss",
    "pool": "Pooling", "relu": "ReLU", "sigmoid": "Sigmoid", "softmax": "Softmax",
    "softmax_loss": "SoftmaxWithLoss", "split": "Split", "tanh": "TanH", "window_data": "WindowData",
    "padding": "padding",
}

# V0 field -> {v0 type: (LayerParameter field, field inside it, repeated there?)}
_V0_FIELDS: dict[str, dict[str, tuple[str, str, bool]]] = {
    "num_output": {"conv": ("convolution_param", "num_output", False),
                   "innerproduct": ("inner_product_param", "num_output", False)},
    "biasterm": {"conv": ("convolution_param", "bias_term", False),
                 "innerproduct": ("inner_product_param", "bias_term", False)},
    "weight_filler": {"conv": ("convolution_param", "weight_filler", False),
                      "innerproduct": ("inner_product_param", "weight_filler", False)},
    "bias_filler": {"conv": ("convolution_param", "bias_filler", False),
                    "innerproduct": ("inner_product_param", "bias_filler", False)},
    "pad": {"conv": ("convolution_param", "pad", True), "pool": ("pooling_param", "pad", False)},
    "kernelsize": {"conv": ("convolution_param", "kernel_size", True), "pool": ("pooling_param", "kernel_size", False)},
    "group": {"conv": ("convolution_param", "group", False)},
    "stride": {"conv": ("convolution_param", "stride", True), "pool": ("pooling_param", "stride", False)},
    "pool": {"pool": ("pooling_param", "pool", False)},
    "dropout_ratio": {"dropout": ("dropout_param", "dropout_ratio", False)},
    "local_size": {"lrn": ("lrn_param", "local_size", False)},
    "alpha": {"lrn": ("lrn_param", "alpha", False)},
    "beta": {"lrn": ("lrn_param", "beta", False)},
    "k": {"lrn": ("lrn_param", "k", False)},
    "source": {"data": ("data_param", "source", False), "hdf5_data": ("hdf5_data_param", "source", False),
               "images": ("image_data_param", "source", False), "window_data": ("window_data_param", "source", False),
               "infogain_loss": ("infogain_loss_param", "source", False)},
    "batchsize": {"data": ("data_param", "batch_size", False), "hdf5_data": ("hdf5_data_param", "batch_size", False),
                  "images": ("image_data_param", "batch_size", False),
                  "window_data": ("window_data_param", "batch_size", False)},
    "rand_skip": {"data": ("data_param", "rand_skip", False), "images": ("image_data_param", "rand_skip", False)},
    "shuffle_images": {"images": ("image_data_param", "shuffle", False)},
    "new_height": {"images": ("image_data_param", "new_height", False)},
    "new_width": {"images": ("image_data_param", "new_width", False)},
    "concat_dim": {"concat": ("concat_param", "concat_dim", False)},
    "det_fg_threshold": {"window_data": ("window_data_param", "fg_threshold", False)},
    "det_bg_threshold": {"window_data": ("window_data_param", "bg_threshold", False)},
    "det_fg_fraction": {"window_data": ("window_data_param", "fg_fraction", False)},
    "det_context_pad": {"window_data": ("window_data_param", "context_pad", False)},
    "det_crop_mode": {"window_data": ("window_data_param", "crop_mode", False)},
    "hdf5_output_param": {"hdf5_output": ("hdf5_output_param", "", False)},
}
# preprocessing moves to transform_param whatever the layer type
_V0_TRANSFORM = {"scale": "scale", "meanfile": "mean_file", "cropsize": "crop_size", "mirror": "mirror"}
_V0_IGNORED = {"name", "type", "blobs", "blobs_lr", "weight_decay"}


def upgrade_v0_params(v0: Record, v0_type: str, problems: list[tuple[int, int, str]]) -> Record:
    """A LayerParameter record carrying a V0 layer's parameters; misplaced ones are problems."""
    layer = Record.new("LayerParameter")
    layer.line, layer.column = v0.line, v0.column
    for name in v0.present():
        if name in _V0_IGNORED:
            continue
        value = getattr(v0, name)
        if name in _V0_TRANSFORM:
            layer.ensure("transform_param").set(_V0_TRANSFORM[name], value)
            continue
        target = _V0_FIELDS.get(name, {}).get(v0_type)
        if target is None:
            line, col = v0.pos(name)
            problems.append((line, col, f"V0 field {name!r} does not apply to a {v0_type!r} layer"))
            continue
        param, field, repeated = target
        if not field:   # the whole message moves
            layer.set(param, value)
            continue
        layer.ensure(param).set(field, [value] if repeated else value)
    return layer
