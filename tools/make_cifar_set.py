#!/usr/bin/env python3
"""Build bundled/data/cifar10-test-20.gzi from the 20 CIFAR-10 test images that the PyPI package
foolbox 3.3.4 (MIT) ships as foolbox/data/cifar10_NN_LABEL.png. Standard library only.

    pip download --no-deps -d /tmp/fb foolbox==3.3.4
    (cd /tmp/fb && unzip -o foolbox-3.3.4-py3-none-any.whl 'foolbox/data/*')
    python3 tools/make_cifar_set.py /tmp/fb/foolbox/data [OUT_DIR]

The images are the first 20 of the CIFAR-10 test set (labels 3 8 8 0 6 6 1 6 3 1 ...), 32x32 RGB,
8 bits per channel; stored CHW like every .gzi set (format: bundled/data/README.md).
"""

import os
import re
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_datasets import write_set  # noqa: E402


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png_rgb(path):
    """Decodes an 8-bit RGB (colour type 2) or RGBA (6), non-interlaced PNG to (w, h, HWC bytes)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, hdr = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    w, h, depth, colour, _, _, interlace = hdr
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError("%s: only 8-bit RGB/RGBA non-interlaced PNGs" % path)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(bytes(idat)), w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            line[i] = (line[i] + [0, a, b, (a + b) // 2, paeth(a, b, c)][f]) & 0xFF
        out += line
        prev = line
    if bpp == 4:
        out = bytearray(v for i, v in enumerate(out) if i % 4 != 3)
    return w, h, bytes(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    src = argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(here), "bundled", "data")
    names = sorted(n for n in os.listdir(src) if re.fullmatch(r"cifar10_\d\d_\d\.png", n))
    if len(names) != 20:
        raise SystemExit("expected 20 cifar10_NN_LABEL.png files in %s, found %d" % (src, len(names)))
    records = []
    for name in names:
        w, h, hwc = read_png_rgb(os.path.join(src, name))
        if (w, h) != (32, 32):
            raise ValueError("%s: not 32x32" % name)
        chw = bytes(hwc[(y * w + x) * 3 + ch] for ch in range(3) for y in range(h) for x in range(w))
        records.append((int(name[-5]), chw))
    write_set(os.path.join(out_dir, "cifar10-test-20.gzi"), 3, 32, 32, records)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
