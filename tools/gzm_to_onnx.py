#!/usr/bin/env python3
"""Export the FLOAT network of a `.gzm` model (docs/MODEL_FORMAT.md, versions 1 and 2) to ONNX.

Usage:  python3 tools/gzm_to_onnx.py IN.gzm OUT.onnx

The file must carry float parameters (flag bit 0). The ONNX model (opset 13, ir_version 8) takes
the float input directly, "input" [1, C, H, W] float32 = (scale * pixel + offset) / float_div
(the header's input encoding is not part of the graph), and outputs "logits" [1, classes].
Float semantics: no requantisation, avg-pool averages, add is a plain sum. The script checks
onnxruntime against a numpy float forward of the same file on 5 random pixel images.
Needs numpy, onnx, onnxruntime.
"""

import struct
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MAGIC = b"GZNNMODL"
CONV, FC, RELU, SQUARE, MAXPOOL, AVGPOOL, FLATTEN, ADD = range(1, 9)


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated file")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def unpack(self, fmt):
        vals = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return vals if len(vals) > 1 else vals[0]

    def array(self, n, dtype):
        return np.frombuffer(self.take(4 * n), dtype=dtype).copy()


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_gzm(path):
    """Returns (header dict, list of layer dicts). Each layer has 'tag', 'input' (tensor index)
    and its fields; conv / fc layers carry float 'w' and 'b'."""
    data = open(path, "rb").read()
    if data[:8] != MAGIC:
        raise ValueError("not a .gzm file")
    if struct.unpack("<Q", data[-8:])[0] != fnv1a64(data[:-8]):
        raise ValueError("checksum mismatch")
    r = Reader(data[:-8])
    r.take(8)
    version, flags, act_bits, _ = r.unpack("HHBB")
    if version not in (1, 2):
        raise ValueError(f"unsupported version {version}")
    if flags != 1:
        raise ValueError(f"flags {flags:#x}: float parameters (bit 0, and only it) required")
    hd = {"version": version, "act_bits": act_bits}
    hd["name"] = r.take(r.unpack("B")).decode()
    hd["source"] = r.take(r.unpack("H")).decode()
    c, h, w, hd["scale"], hd["offset"], hd["float_div"] = r.unpack("HHHiiI")
    hd["shape"] = (c, h, w)
    hd["classes"] = r.unpack("H")
    if version >= 2:
        r.take(r.unpack("H"))  # class names
    layers = []
    for i in range(r.unpack("H")):
        tag = r.unpack("B")
        L = {"tag": tag, "input": r.unpack("B") if version >= 2 else i}
        if tag == CONV:
            L.update(zip(("in_c", "out_c", "k", "stride", "pad", "shift"), r.unpack("HHBBBB")))
            nw, nb = L["out_c"] * L["in_c"] * L["k"] ** 2, L["out_c"]
            wshape = (L["out_c"], L["in_c"], L["k"], L["k"])
        elif tag == FC:
            L.update(zip(("inputs", "outputs", "shift"), r.unpack("IIB")))
            nw, nb = L["outputs"] * L["inputs"], L["outputs"]
            wshape = (L["outputs"], L["inputs"])
        elif tag in (MAXPOOL, AVGPOOL):
            L.update(zip(("k", "stride"), r.unpack("BB")))
            if tag == AVGPOOL:
                r.unpack("B")
        elif tag == SQUARE:
            r.unpack("B")
        elif tag == ADD and version >= 2:
            L.update(zip(("other", "lshift_input", "lshift_other", "shift"), r.unpack("BBBB")))
        elif tag not in (RELU, FLATTEN):
            raise ValueError(f"layer {i}: unknown tag {tag}")
        if tag in (CONV, FC):
            r.take(4 * (nw + nb))  # integer weights and biases
            L["w"] = r.array(nw, "<f4").reshape(wshape)
            L["b"] = r.array(nb, "<f4")
        layers.append(L)
    if r.pos != len(r.data):
        raise ValueError("trailing bytes")
    return hd, layers


def pool_windows(x, k, s):
    """x: (C, H, W) -> (C, Ho, Wo, k, k) windows, floor mode, no padding."""
    c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    st = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (c, ho, wo, k, k), (st[0], st[1] * s, st[2] * s, st[1], st[2]))


def numpy_forward(layers, x):
    """Float forward of one CHW image (float64); returns the logits vector."""
    ts = [x.astype(np.float64)]
    for L in layers:
        t, tag = ts[L["input"]], L["tag"]
        if tag == CONV:
            p = L["pad"]
            xp = np.pad(t, ((0, 0), (p, p), (p, p)))
            win = pool_windows(xp, L["k"], L["stride"])  # C, Ho, Wo, k, k
            y = np.einsum("chwij,ocij->ohw", win, L["w"].astype(np.float64))
            y += L["b"][:, None, None]
        elif tag == FC:
            y = (L["w"].astype(np.float64) @ t.reshape(-1) + L["b"]).reshape(-1, 1, 1)
        elif tag == RELU:
            y = np.maximum(t, 0)
        elif tag == SQUARE:
            y = t * t
        elif tag == MAXPOOL:
            y = pool_windows(np.ascontiguousarray(t), L["k"], L["stride"]).max(axis=(3, 4))
        elif tag == AVGPOOL:
            y = pool_windows(np.ascontiguousarray(t), L["k"], L["stride"]).mean(axis=(3, 4))
        elif tag == FLATTEN:
            y = t.reshape(-1, 1, 1)
        elif tag == ADD:
            y = t + ts[L["other"]]
        ts.append(y)
    return ts[-1].reshape(-1)


def to_onnx(hd, layers):
    nodes, inits = [], []
    names, ranks = ["input"], [4]  # per tensor: ONNX name and rank (4 = NCHW, 2 = N x features)

    def reshaped(i, rank):
        """Name of tensor i with the wanted rank (n x 1 x 1 <-> n; inserts a node if needed)."""
        if ranks[i] == rank:
            return names[i]
        out = f"{names[i]}_r{rank}"
        if rank == 2:
            nodes.append(helper.make_node("Flatten", [names[i]], [out], axis=1))
        else:
            shape = f"shape4_{i}"
            inits.append(numpy_helper.from_array(np.array([1, -1, 1, 1], np.int64), shape))
            nodes.append(helper.make_node("Reshape", [names[i], shape], [out]))
        return out

    for i, L in enumerate(layers):
        tag, src, out = L["tag"], L["input"], f"t{i + 1}"
        rank = ranks[src]
        if tag == CONV:
            w, b = f"conv{i}_w", f"conv{i}_b"
            inits += [numpy_helper.from_array(L["w"], w), numpy_helper.from_array(L["b"], b)]
            nodes.append(helper.make_node(
                "Conv", [reshaped(src, 4), w, b], [out], kernel_shape=[L["k"]] * 2,
                strides=[L["stride"]] * 2, pads=[L["pad"]] * 4))
            rank = 4
        elif tag == FC:
            w, b = f"fc{i}_w", f"fc{i}_b"
            inits += [numpy_helper.from_array(L["w"], w), numpy_helper.from_array(L["b"], b)]
            nodes.append(helper.make_node("Gemm", [reshaped(src, 2), w, b], [out], transB=1))
            rank = 2
        elif tag == RELU:
            nodes.append(helper.make_node("Relu", [names[src]], [out]))
        elif tag == SQUARE:
            nodes.append(helper.make_node("Mul", [names[src], names[src]], [out]))
        elif tag in (MAXPOOL, AVGPOOL):
            op = "MaxPool" if tag == MAXPOOL else "AveragePool"
            nodes.append(helper.make_node(op, [reshaped(src, 4)], [out],
                                          kernel_shape=[L["k"]] * 2, strides=[L["stride"]] * 2))
            rank = 4
        elif tag == FLATTEN:
            nodes.append(helper.make_node("Flatten", [names[src]], [out], axis=1))
            rank = 2
        elif tag == ADD:
            nodes.append(helper.make_node(
                "Add", [names[src], reshaped(L["other"], rank)], [out]))
        names.append(out)
        ranks.append(rank)
    if ranks[-1] == 4:  # a conv / pool output classes x 1 x 1
        nodes.append(helper.make_node("Flatten", [names[-1]], ["logits"], axis=1))
    else:  # the last node made the last tensor: rename its output
        nodes[-1].output[0] = "logits"
    c, h, w = hd["shape"]
    graph = helper.make_graph(
        nodes, hd["name"],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, c, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, hd["classes"]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="gazelle-rs gzm_to_onnx")
    model.ir_version = 8
    model.doc_string = f"{hd['name']}: {hd['source']}"
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    hd, layers = read_gzm(argv[1])
    model = to_onnx(hd, layers)
    onnx.save(model, argv[2])
    print(f"{hd['name']} (v{hd['version']}): input {hd['shape']} = (scale {hd['scale']} * pixel "
          f"+ offset {hd['offset']}) / float_div {hd['float_div']}; act_bits {hd['act_bits']}; "
          f"{hd['classes']} classes")
    print("  nodes:", " ".join(n.op_type for n in model.graph.node))
    sess = ort.InferenceSession(argv[2], providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = worst_abs = 0.0
    for _ in range(5):
        pix = rng.integers(0, 256, size=hd["shape"])
        x = (hd["scale"] * pix + hd["offset"]) / hd["float_div"]
        ref = numpy_forward(layers, x)
        got = sess.run(["logits"], {"input": x[None].astype(np.float32)})[0].reshape(-1)
        diff = float(np.abs(got - ref).max())
        worst_abs, worst = max(worst_abs, diff), max(worst, diff / max(1.0, np.abs(ref).max()))
    print(f"  5 random inputs: max |onnxruntime - numpy| = {worst_abs:.3g}, "
          f"relative to max(1, max|logit|) = {worst:.3g}")
    if worst >= 1e-3:
        sys.exit("  MISMATCH")


if __name__ == "__main__":
    main(sys.argv)
