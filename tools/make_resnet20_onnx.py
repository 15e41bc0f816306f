#!/usr/bin/env python3
"""Write a ResNet-20-class CIFAR-10 network with RANDOM weights as ONNX (opset 13, ir_version 8).

Usage:  python3 tools/make_resnet20_onnx.py OUT.onnx [--seed N]      (default seed 0)

The weights are NOT trained: He-normal convolutions and Gemm (std sqrt(2 / fan_in)), zero Gemm
bias, and random but sane batch-norm statistics (gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1),
mean ~ N(0, 0.1), var ~ U(0.5, 1.5), epsilon 1e-5). It is a shape / operator test model (its
outputs are meaningless), deterministic for a given seed.

Graph ("input" [1, 3, 32, 32] float32 -> "logits" [1, 10]): conv3x3 3->16 + BN + Relu;
3 stages x 3 basic blocks (16, 32, 64 channels; stride 2 in the first block of stages 2 and 3),
each conv3x3 + BN + Relu + conv3x3 + BN, plus the shortcut (identity, or a 1x1 stride-2 conv + BN
projection when downsampling), Add, Relu; GlobalAveragePool (8x8) -> Flatten -> Gemm 64->10.
Convolutions have no bias input and BN stays unfolded (the usual PyTorch export).
Checks the model with onnx.checker and runs onnxruntime once. Needs numpy, onnx, onnxruntime.
"""

import argparse
import collections

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def build(seed):
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def param(name, array):
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(x, name, cin, cout, k, stride, relu):
        w = param(f"{name}.weight", rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k)))
        nodes.append(helper.make_node("Conv", [x, w], [f"{name}.conv"], kernel_shape=[k, k],
                                      strides=[stride] * 2, pads=[k // 2] * 4))
        bn = [param(f"{name}.bn.scale", rng.uniform(0.5, 1.5, cout)),
              param(f"{name}.bn.bias", rng.normal(0, 0.1, cout)),
              param(f"{name}.bn.mean", rng.normal(0, 0.1, cout)),
              param(f"{name}.bn.var", rng.uniform(0.5, 1.5, cout))]
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.conv"] + bn,
                                      [f"{name}.bn"], epsilon=1e-5))
        if not relu:
            return f"{name}.bn"
        nodes.append(helper.make_node("Relu", [f"{name}.bn"], [f"{name}.relu"]))
        return f"{name}.relu"

    x = conv_bn("input", "stem", 3, 16, 3, 1, relu=True)
    cin = 16
    for s, cout in enumerate((16, 32, 64), 1):
        for b in range(3):
            name, stride = f"layer{s}.{b}", 2 if (b == 0 and s > 1) else 1
            y = conv_bn(x, f"{name}.conv1", cin, cout, 3, stride, relu=True)
            y = conv_bn(y, f"{name}.conv2", cout, cout, 3, 1, relu=False)
            short = x if stride == 1 and cin == cout else \
                conv_bn(x, f"{name}.shortcut", cin, cout, 1, stride, relu=False)
            nodes.append(helper.make_node("Add", [y, short], [f"{name}.add"]))
            nodes.append(helper.make_node("Relu", [f"{name}.add"], [f"{name}.out"]))
            x, cin = f"{name}.out", cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"]))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], axis=1))
    w = param("fc.weight", rng.normal(0, np.sqrt(2 / 64), (10, 64)))
    b = param("fc.bias", np.zeros(10))
    nodes.append(helper.make_node("Gemm", ["flat", w, b], ["logits"], transB=1))

    graph = helper.make_graph(
        nodes, "resnet20_random",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="gazelle-rs make_resnet20_onnx")
    model.ir_version = 8
    model.doc_string = f"ResNet-20 (CIFAR-10 shape) with RANDOM weights, seed {seed}; not trained"
    return model


def main():
    ap = argparse.ArgumentParser(description="ResNet-20 with random weights -> ONNX")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = build(args.seed)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, args.out)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    print(f"{args.out}: {params} parameters (incl. BN statistics), "
          f"{len(model.graph.node)} nodes: " + ", ".join(f"{k} {v}" for k, v in ops.items()))
    sess = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(args.seed + 1).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    logits = sess.run(["logits"], {"input": x})[0]
    print(f"onnxruntime: logits {logits.shape} = {np.array2string(logits[0], precision=3)}")


if __name__ == "__main__":
    main()
