"""Reader for PyTorch's legacy (pre-1.6, non-zip) serialisation, standard library only.

Layout of such a file, as written by ``torch.save`` before the zip container:

1. a pickle of the magic number 0x1950a86a20f9469cfc6c,
2. a pickle of the protocol version (1001),
3. a pickle of ``sys_info`` (endianness, type sizes),
4. the pickle of the saved object, in which every tensor is a call to
   ``torch._utils._rebuild_tensor[_v2](storage, offset, size, stride, ...)`` and every storage is a
   *persistent id* ``('storage', StorageClass, key, location, numel, view_metadata)``,
5. a pickle of the sorted list of storage keys,
6. for each key in that order: an int64 element count, then the raw little-endian elements.

Only what the pretrained models use is supported: a (possibly ordered) dict of name -> tensor,
tensors of FloatStorage/DoubleStorage/LongStorage/IntStorage, contiguous or strided views.
Anything else raises ``PthError``: we never execute code from the file (``find_class`` is a
whitelist returning local stand-ins, not torch).
"""

import collections
import pickle
import struct

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001

# element format and size per storage class name
_STORAGE = {
    "FloatStorage": ("f", 4),
    "DoubleStorage": ("d", 8),
    "LongStorage": ("q", 8),
    "IntStorage": ("i", 4),
    "ShortStorage": ("h", 2),
    "CharStorage": ("b", 1),
    "ByteStorage": ("B", 1),
}


class PthError(Exception):
    pass


class Tensor:
    """A dense tensor: shape plus row-major list of Python numbers."""

    def __init__(self, shape, data):
        self.shape = tuple(shape)
        self.data = data

    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self):
        return "Tensor(shape=%r)" % (self.shape,)


class _StorageClass:
    def __init__(self, name):
        self.name = name


class _TensorRef:
    """A tensor whose storage has not been read yet."""

    def __init__(self, storage_key, offset, size, stride):
        self.storage_key = storage_key
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    if not (isinstance(storage, tuple) and storage[0] == "STORAGE"):
        raise PthError("tensor rebuilt from something that is not a storage")
    return _TensorRef(storage[1], storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE:
            return _StorageClass(name)
        raise PthError("unsupported pickled global %s.%s" % (module, name))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise PthError("unsupported persistent id %r" % (pid,))
        cls, key, _location, numel = pid[1], pid[2], pid[3], pid[4]
        if not isinstance(cls, _StorageClass):
            raise PthError("unsupported storage class %r" % (cls,))
        if len(pid) > 5 and pid[5] is not None:
            raise PthError("storage views are not supported")
        self.storages[key] = (cls.name, numel)
        return ("STORAGE", key)


def load(path):
    """Returns an OrderedDict name -> Tensor (float values as Python floats)."""
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != MAGIC:
            raise PthError("%s: not a legacy PyTorch file (bad magic)" % path)
        proto = pickle.load(f)
        if proto != PROTOCOL:
            raise PthError("%s: unsupported protocol version %r" % (path, proto))
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", False):
            raise PthError("%s: big-endian files are not supported" % path)
        storages = {}
        obj = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        raw = {}
        for key in keys:
            (n,) = struct.unpack("<q", f.read(8))
            cls, numel = storages[key]
            if n != numel:
                raise PthError("storage %s: %d elements on disk, %d declared" % (key, n, numel))
            fmt, size = _STORAGE[cls]
            buf = f.read(n * size)
            if len(buf) != n * size:
                raise PthError("storage %s truncated" % key)
            raw[key] = struct.unpack("<%d%s" % (n, fmt), buf)
        if f.read(1):
            raise PthError("%s: trailing bytes after the last storage" % path)

    if not isinstance(obj, dict):
        raise PthError("%s: top-level object is %s, not a state dict" % (path, type(obj)))
    out = collections.OrderedDict()
    for name, ref in obj.items():
        if not isinstance(ref, _TensorRef):
            raise PthError("%s: entry %s is not a tensor" % (path, name))
        out[name] = Tensor(ref.size, _gather(raw[ref.storage_key], ref))
    return out


def _gather(storage, ref):
    """Row-major copy of a strided view."""
    if not ref.size:
        return [storage[ref.offset]]
    idx = [ref.offset]
    for dim, stride in zip(ref.size, ref.stride):
        idx = [i + j * stride for i in idx for j in range(dim)]
    if idx and (min(idx) < 0 or max(idx) >= len(storage)):
        raise PthError("tensor view out of its storage")
    return [storage[i] for i in idx]
