"""ms per inference on this machine's CPU: onnxruntime, Cortado's cpu target and its
interpreter target, side by side, as a Markdown table.

    python benchmarks/cpu_table.py [--models resnet18,tiny_cnn_b1] [--repeat 5] [--no-interpreter]

Models: a ResNet-18 built with onnx.helper (torch-free: conv 7x7/2 + BN + ReLU, max-pool,
four stages of two basic blocks, global average pool, classifier; seeded random weights),
the MobileNetV2 of ``examples/model_zoo.py``, one BERT-base encoder layer at sequence 128, and
``examples/tiny_cnn.onnx`` at batch 1 and 8. Each system runs the same seeded input; the
time is the fastest of ``--repeat`` runs after one warm-up, onnxruntime and the cpu target
taking turns (the interpreter target, which takes seconds to minutes per run, is timed
once). ``max diff`` is the largest absolute
difference of the cpu target's outputs from onnxruntime's. Numbers are benchmarks, not
tests: run on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cortado  # noqa: E402
from cortado.testing.models import with_input_shape  # noqa: E402
from examples.model_zoo import bert_encoder, bert_inputs, mobilenet_v2  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("resnet18", "mobilenet_v2", "bert_layer_s128", "tiny_cnn_b1", "tiny_cnn_b8")


def resnet18(batch: int = 1, resolution: int = 224, num_classes: int = 1000, seed: int = 0) -> onnx.ModelProto:
    """ResNet-18 (He et al. 2016) as torchvision exports it, with seeded random weights and
    BatchNormalization nodes left in the graph (Cortado folds them, onnxruntime too)."""
    rng = np.random.default_rng(seed)
    nodes, inits, count = [], [], [0]

    def name(base):
        count[0] += 1
        return f"{base}{count[0]}"

    def const(a, base):
        n = name(base)
        inits.append(numpy_helper.from_array(np.asarray(a, dtype=np.float32), n))
        return n

    def node(op, inputs, base, **attrs):
        out = name(base)
        nodes.append(helper.make_node(op, inputs, [out], name=out + "_node", **attrs))
        return out

    def conv_bn(x, cin, cout, k, stride, relu=True):
        w = const(rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k)), "w")
        y = node("Conv", [x, w], "conv", kernel_shape=[k, k], strides=[stride] * 2, pads=[k // 2] * 4)
        bn = [const(rng.uniform(0.8, 1.2, cout), "gamma"), const(rng.normal(0, 0.1, cout), "beta"),
              const(rng.normal(0, 0.1, cout), "mean"), const(rng.uniform(0.5, 1.5, cout), "var")]
        y = node("BatchNormalization", [y] + bn, "bn", epsilon=1e-5)
        return node("Relu", [y], "relu") if relu else y

    x = conv_bn("image", 3, 64, 7, 2)
    x = node("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for i in range(2):
            s = stride if i == 0 else 1
            y = conv_bn(conv_bn(x, cin, cout, 3, s), cout, cout, 3, 1, relu=False)
            short = conv_bn(x, cin, cout, 1, s, relu=False) if (s != 1 or cin != cout) else x
            x = node("Relu", [node("Add", [y, short], "add")], "relu")
            cin = cout
    x = node("Flatten", [node("GlobalAveragePool", [x], "gap")], "flatten", axis=1)
    fc_w = const(rng.standard_normal((num_classes, 512)) * np.sqrt(1.0 / 512), "fc_w")
    fc_b = const(rng.normal(0, 0.01, num_classes), "fc_b")
    nodes.append(helper.make_node("Gemm", [x, fc_w, fc_b], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(nodes, "resnet18",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                             [batch, 3, resolution, resolution])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, num_classes])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def build(name: str):
    """(model, feeds) of one benchmark row."""
    rng = np.random.default_rng(1)
    if name == "resnet18":
        model = resnet18()
    elif name == "mobilenet_v2":
        model = mobilenet_v2()
    elif name == "bert_layer_s128":
        model = bert_encoder(1, seq=128)
        return model, bert_inputs(model)
    elif name.startswith("tiny_cnn_b"):
        batch = int(name[len("tiny_cnn_b"):])
        model = with_input_shape(onnx.load(ROOT / "examples" / "tiny_cnn.onnx"), (batch, 3, 32, 32))
    else:
        raise SystemExit(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return model, {model.graph.input[0].name: rng.standard_normal(dims).astype(np.float32)}


def timed(fns, repeat: int) -> list[float]:
    """The fastest of ``repeat`` calls of each function, after one warm-up call each. The
    functions take turns, so a busy neighbour slows them alike; on a shared machine the
    minimum is the time the work itself takes, the median mostly measures the neighbours."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def row(name: str, repeat: int, interpreter: bool) -> dict:
    import onnxruntime as ort

    model, feeds = build(name)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ref = sess.run(None, feeds)
    cpu = cortado.compile(model, target="cpu")
    got = cpu.run(feeds)
    diff = max(float(np.max(np.abs(got[o] - r))) for o, r in zip(cpu.output_names, ref))
    t_ort, t_cpu = timed([lambda: sess.run(None, feeds), lambda: cpu.run(feeds)], repeat)
    del sess
    gc.collect()
    t_int = None
    if interpreter:
        interp = cortado.compile(model, target="interpreter")
        t_int = timed([lambda: interp.run(feeds)], 1)[0]
    return {"model": name, "ort": t_ort, "cpu": t_cpu, "interp": t_int, "diff": diff,
            "interpreted": len(cpu.plan["cpu"]["interpreted"])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--no-interpreter", action="store_true", help="skip the (slow) interpreter target")
    args = p.parse_args(argv)
    print("| model | onnxruntime ms | cpu ms | cpu / ort | interpreter ms | interpreter / ort | max diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        r = row(name.strip(), args.repeat, not args.no_interpreter)
        ms = lambda s: f"{s * 1e3:,.1f}"
        it = "-" if r["interp"] is None else ms(r["interp"])
        ir = "-" if r["interp"] is None else f"{r['interp'] / r['ort']:,.0f}x"
        note = f" ({r['interpreted']} launches interpreted)" if r["interpreted"] else ""
        print(f"| {r['model']} | {ms(r['ort'])} | {ms(r['cpu'])}{note} | {r['cpu'] / r['ort']:.1f}x | {it} | {ir} | "
              f"{r['diff']:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
