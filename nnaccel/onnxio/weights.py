"""An ONNX model's initializers, read safely: external data only from the model's own folder,
sizes checked against the file before a byte is read, and large external tensors read lazily.

A model may keep its weights in files beside it (`external data`). onnx >= 1.16 refuses
locations outside the model's folder (CVE-2024-27318); nnaccel checks them itself as well, so
that no version of onnx can make it read another file: a location must be relative, without
'..', and no component of it may be a symbolic link; the file must be a regular file holding
exactly the bytes the tensor's declared shape needs. Such a tensor is then a shape-only
placeholder (an array of the right shape and type that holds no memory) until its values are
asked for: the zeros of a weight (`--sparsity measured`), read in chunks, or a fold.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import onnx
from onnx import external_data_helper, helper, numpy_helper

#: Elements read at a time when counting the zeros of an external weight (32 MiB of float64).
_CHUNK = 2**22


class WeightError(Exception):
    """An initializer that cannot be read as declared; the message says which and why."""


@dataclass(frozen=True)
class External:
    """Where an external tensor's bytes are: checked, not yet read."""

    path: Path
    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def read(self) -> np.ndarray:
        return np.fromfile(self.path, self.dtype, count=self.size, offset=self.offset) \
            .reshape(self.shape)

    def zero_fraction(self) -> float:
        if not self.size:
            return 0.0
        zeros = 0
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            left = self.size
            while left:
                chunk = np.fromfile(f, self.dtype, count=min(left, _CHUNK))
                if not chunk.size:
                    raise WeightError(f"the file '{self.path.name}' ended early")
                zeros += int(np.count_nonzero(chunk == 0))
                left -= chunk.size
        return zeros / self.size


def _describe(t: onnx.TensorProto) -> str:
    return f"initializer '{t.name}' of shape {list(t.dims)}"


def _dtype(t: onnx.TensorProto) -> np.dtype:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
    except Exception:
        raise WeightError(f"{_describe(t)}: unknown element type {t.data_type}") from None


def _shape(t: onnx.TensorProto) -> tuple[int, ...]:
    if any(d < 0 for d in t.dims):
        raise WeightError(f"{_describe(t)}: a negative dimension")
    return tuple(int(d) for d in t.dims)


def external(t: onnx.TensorProto, folder: Path) -> External:
    """The checked location of external tensor `t`, stored relative to the model's `folder`."""
    info = external_data_helper.ExternalDataInfo(t)
    where = f"{_describe(t)}: external data '{info.location}'"
    location = info.location
    parts = PurePosixPath(location.replace("\\", "/")).parts
    if not location or "\0" in location:
        raise WeightError(f"{_describe(t)}: external data without a file name")
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute() or \
            PureWindowsPath(location).drive:
        raise WeightError(f"{where} is an absolute path; nnaccel reads external data only "
                          "from files beside the model")
    if ".." in parts:
        raise WeightError(f"{where} leads out of the model's folder ('..'); nnaccel reads "
                          "external data only from files beside the model")
    path = folder
    for part in parts:
        path = path / part
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise WeightError(f"{where}: cannot read it: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise WeightError(f"{where}: '{part}' is a symbolic link; nnaccel reads external "
                              "data only from files in the model's folder, not through links")
    if not stat.S_ISREG(st.st_mode):
        raise WeightError(f"{where} is not a regular file")
    dtype, shape = _dtype(t), _shape(t)
    need = math.prod(shape) * dtype.itemsize
    offset = info.offset or 0
    if offset < 0 or offset > st.st_size:
        raise WeightError(f"{where}: offset {offset:,} is beyond the file's {st.st_size:,} bytes")
    length = info.length if info.length else st.st_size - offset
    if length != need or offset + need > st.st_size:
        raise WeightError(f"{where}: holds {min(length, st.st_size - offset):,} bytes, the "
                          f"declared shape needs {need:,}")
    return External(path, offset, dtype, shape)


def placeholder(ext: External) -> np.ndarray:
    """An array of `ext`'s shape and type that holds no memory (its values are not the weights')."""
    return np.broadcast_to(np.zeros((), ext.dtype), ext.shape)


def to_array(t: onnx.TensorProto) -> np.ndarray:
    """An initializer stored in the model, its data checked against its declared shape."""
    shape = _shape(t)
    try:
        array = numpy_helper.to_array(t)
    except Exception as exc:  # numpy's reshape of data that does not fit the dims, mostly
        raise WeightError(f"{_describe(t)}: its data does not match the declared shape "
                          f"({' '.join(str(exc).split())[:100]})") from None
    if array.shape != shape:
        raise WeightError(f"{_describe(t)}: its data has shape {list(array.shape)}")
    return array
