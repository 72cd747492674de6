"""TF1 summary ops: ScalarSummary, HistogramSummary, ImageSummary, AudioSummaryV2, MergeSummary,
TensorSummaryV2.

Each returns a serialized `tensorflow.Summary` protocol buffer (a scalar string), encoded here
byte for byte as TensorFlow's C++ kernels serialize it: proto3 fields in field-number order,
default-valued singular fields left out, repeated doubles packed. Training graphs (MetaGraphs,
TF1 exports) keep these ops next to the model, often as the graph's sinks.
"""

from __future__ import annotations

import struct
import sys
from typing import Any

import numpy as np

from savedmodel.format import dtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.format.sstable import decode_varint
from savedmodel.ops._common import fail
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.proto import tensor_pb2

# Summary.Value fields
_TAG, _SIMPLE_VALUE, _IMAGE, _HISTO, _AUDIO, _TENSOR, _METADATA = 1, 2, 4, 5, 6, 8, 9


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        bits = n & 0x7F
        n >>= 7
        if n:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _bytes_field(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _double_field(field: int, value: float) -> bytes:
    return b"" if value == 0 and not np.signbit(value) else _key(field, 1) + struct.pack("<d", value)


def _packed_doubles(field: int, values: list[float]) -> bytes:
    if not values:
        return b""
    return _bytes_field(field, struct.pack(f"<{len(values)}d", *values))


def _tag_bytes(tag: Any) -> bytes:
    return tag if isinstance(tag, bytes) else str(tag).encode()


def _value(tag: bytes, payload: bytes) -> bytes:
    return _bytes_field(1, (_bytes_field(_TAG, tag) if tag else b"") + payload)


def _summary(values: list[bytes]) -> np.ndarray:
    return np.asarray(b"".join(values), dtype=object)


@kernel("ScalarSummary", family="summary", doc="a Summary with one simple_value per tag")
def _scalar_summary(ctx: Any, tags: Any, values: Any) -> np.ndarray:
    tags, values = np.asarray(tags), np.asarray(values)
    if tags.shape != values.shape:
        fail(f"tags and values are not the same shape: {_shape(tags.shape)} != {_shape(values.shape)}")
    out = []
    for tag, value in zip(tags.reshape(-1), values.reshape(-1), strict=True):
        simple = np.float32(value.real if np.iscomplexobj(value) else value)
        out.append(_value(_tag_bytes(tag), _key(_SIMPLE_VALUE, 5) + struct.pack("<f", simple)))
    return _summary(out)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _default_buckets() -> np.ndarray:
    """tensorflow/core/lib/histogram: limits growing by 10% from 1e-12 to 1e20, mirrored, and 0."""
    positive = []
    v = 1.0e-12
    while v < 1.0e20:
        positive.append(v)
        v *= 1.1
    positive.append(sys.float_info.max)
    negative = [-x for x in reversed(positive)]
    return np.asarray(negative + [0.0] + positive, dtype=np.float64)


_BUCKETS: np.ndarray | None = None


def _histogram(tag: bytes, values: np.ndarray) -> bytes:
    global _BUCKETS
    if _BUCKETS is None:
        _BUCKETS = _default_buckets()
    limits = _BUCKETS
    data = values.reshape(-1).astype(np.float64)
    counts = np.bincount(np.searchsorted(limits, data, side="right"), minlength=limits.size)
    if data.size:
        low, high = float(data.min()), float(data.max())
        total = 0.0
        squares = 0.0
        for x in data.tolist():  # sequential double sums, in TensorFlow's order
            total += x
            squares += x * x
    else:
        low, high, total, squares = sys.float_info.max, -sys.float_info.max, 0.0, 0.0
    bucket_limit: list[float] = []
    bucket: list[float] = []
    i, n = 0, limits.size
    while i < n:
        end, count = float(limits[i]), float(counts[i])
        i += 1
        if count <= 0.0:  # a run of empty buckets collapses into one
            while i < n and counts[i] <= 0:
                end, count = float(limits[i]), float(counts[i])
                i += 1
        bucket_limit.append(end)
        bucket.append(count)
    if not bucket:
        bucket_limit, bucket = [sys.float_info.max], [0.0]
    histo = (
        _double_field(1, low)
        + _double_field(2, high)
        + _double_field(3, float(data.size))
        + _double_field(4, total)
        + _double_field(5, squares)
        + _packed_doubles(6, bucket_limit)
        + _packed_doubles(7, bucket)
    )
    return _value(tag, _bytes_field(_HISTO, histo))


@kernel_factory("HistogramSummary", family="summary")
def _histogram_summary(node: NodeSpec) -> Any:
    """a Summary with a histogram of the values"""

    def run(ctx: Any, tag: Any, values: Any) -> np.ndarray:
        tag, values = np.asarray(tag), np.asarray(values)
        if tag.ndim != 0:
            fail(f"tags must be scalar, got shape {_shape(tag.shape)}")
        if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
            # TensorFlow reports NaN and infinity alike, naming the node.
            fail(f"Nan in summary histogram for: {node.name}")
        if values.dtype.kind == "c":
            values = values.real
        return _summary([_histogram(_tag_bytes(tag.item()), values)])

    return run


def _fields(data: bytes) -> list[tuple[int, int, bytes]]:
    """(field, wire type, raw value) of each field of a serialized message."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = decode_varint(data, pos)
        field, wire = key >> 3, key & 7
        start = pos
        if wire == 0:
            _, pos = decode_varint(data, pos)
            value = data[start:pos]
        elif wire == 1:
            pos += 8
            value = data[start:pos]
        elif wire == 5:
            pos += 4
            value = data[start:pos]
        elif wire == 2:
            length, pos = decode_varint(data, pos)
            value = data[pos : pos + length]
            pos += length
        else:
            raise ValueError("unsupported wire type")
        if pos > len(data) or field == 0:
            raise ValueError("truncated message")
        out.append((field, wire, value))
    return out


@kernel("MergeSummary", family="summary", doc="merges serialized Summary protos; tags must be unique")
def _merge_summary(ctx: Any, *inputs: Any) -> np.ndarray:
    seen: set[bytes] = set()
    values = []
    for tensor in inputs:
        for item in np.asarray(tensor, dtype=object).reshape(-1):
            data = item if isinstance(item, bytes) else str(item).encode()
            try:
                entries = _fields(data)
                parsed = [(wire, raw, _fields(raw)) for field, wire, raw in entries if field == 1]
            except ValueError:
                fail("Could not parse one of the summary inputs")
            for wire, raw, inner in parsed:
                if wire != 2:
                    fail("Could not parse one of the summary inputs")
                tag = b"".join(v for f, w, v in inner if f == _TAG and w == 2)
                if tag in seen:
                    fail(f"Duplicate tag {tag.decode('utf-8', 'replace')} found in summary inputs ")
                seen.add(tag)
                values.append(_bytes_field(1, raw))
    return _summary(values)


def _tensor_content_proto(array: np.ndarray) -> Any:
    """Tensor::AsProtoTensorContent: raw little-endian bytes in tensor_content (strings in string_val)."""
    proto = tensor_pb2.TensorProto(dtype=dtypes.from_numpy(array.dtype))
    proto.tensor_shape.CopyFrom(tensor_format.shape_to_proto(array.shape))
    if array.dtype.kind == "O":
        proto.string_val.extend(_tag_bytes(v) for v in array.reshape(-1))
    else:
        proto.tensor_content = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
    return proto


@kernel_factory("TensorSummaryV2", family="summary")
def _tensor_summary_v2(node: NodeSpec) -> Any:
    """a Summary holding the tensor, with the given serialized SummaryMetadata"""

    def run(ctx: Any, tag: Any, tensor: Any, metadata: Any) -> np.ndarray:
        tag_value = np.asarray(tag).reshape(-1)
        name = _tag_bytes(tag_value[0]) if tag_value.size else b""
        meta = np.asarray(metadata).reshape(-1)
        meta_bytes = _tag_bytes(meta[0]) if meta.size else b""
        proto = _tensor_content_proto(np.asarray(tensor))
        payload = _bytes_field(_TENSOR, proto.SerializeToString(deterministic=True))
        payload += _bytes_field(_METADATA, meta_bytes)  # always present, even when empty
        return _summary([_value(name, payload)])

    return run


def _int_field(field: int, value: int) -> bytes:
    return b"" if value == 0 else _key(field, 0) + _varint(value)


def _normalize_image(values: np.ndarray, bad_color: np.ndarray) -> np.ndarray:
    """TensorFlow's NormalizeFloatImage: [hw, depth] floats to uint8, non-finite pixels in bad_color."""
    compute = np.float64 if values.dtype == np.float64 else np.float32
    finite = np.all(np.isfinite(values), axis=1)
    good = values[finite].astype(np.float32)
    low = float(good.min()) if good.size else float("inf")
    high = float(good.max()) if good.size else float("-inf")
    if low < 0:
        top = max(abs(low), abs(high))
        scale, offset = (0.0 if top < 1e-6 else np.float32(127.0) / np.float32(top)), 128.0
    else:
        scale, offset = (0.0 if high < 1e-6 else np.float32(255.0) / np.float32(high)), 0.0
    scale_t, offset_t = compute(np.float32(scale)), compute(offset)
    if values.dtype == np.float16:  # Eigen::half arithmetic: each step rounded to half
        scaled = (values * np.float16(scale_t)).astype(np.float16) + np.float16(offset_t)
        pixels = scaled.astype(np.float32)
    else:
        pixels = values.astype(compute) * scale_t + offset_t
    out = np.zeros(values.shape, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        out[finite] = np.trunc(pixels[finite]).astype(np.int64).astype(np.uint8)
    out[~finite] = bad_color[: values.shape[1]]
    return out


@kernel_factory("ImageSummary", family="summary")
def _image_summary(node: NodeSpec) -> Any:
    """a Summary with up to max_images PNG images of the batch (floats rescaled as TensorFlow does)"""
    max_images = int(node.attrs.get("max_images", 3))
    bad = node.attrs.get("bad_color")
    bad_color = np.asarray(bad, dtype=np.uint8).reshape(-1) if bad is not None else np.array([255, 0, 0, 255])

    def run(ctx: Any, tag: Any, tensor: Any) -> np.ndarray:
        from savedmodel.ops._png import encode_png

        tag, tensor = np.asarray(tag), np.asarray(tensor)
        if tag.ndim != 0:
            fail("Tags must be a scalar")
        if tensor.ndim != 4 or tensor.shape[3] not in (1, 3, 4):
            fail(f"Tensor must be 4-D with last dim 1, 3, or 4, not {_shape(tensor.shape)}")
        batch, h, w, depth = tensor.shape
        if h * w <= 0 or depth <= 0:
            fail(f"input tensor must have non-zero dims. Found: [{batch}, {h}, {w}, {depth}].")
        if tensor.dtype != np.uint8 and bad_color.size < depth:
            fail(f"expected depth <= bad_color.size, got depth = {depth}, bad_color.size = {bad_color.size}")
        base = _tag_bytes(tag.item())
        out = []
        for i in range(min(max_images, batch)):
            name = base + (b"/image/" + str(i).encode() if max_images > 1 else b"/image")
            flat = tensor[i].reshape(h * w, depth)
            pixels = flat if tensor.dtype == np.uint8 else _normalize_image(flat, bad_color)
            png = encode_png(pixels.reshape(h, w, depth), -1)
            image = _int_field(1, h) + _int_field(2, w) + _int_field(3, depth) + _bytes_field(4, png)
            out.append(_value(name, _bytes_field(_IMAGE, image)))
        return _summary(out)

    return run


@kernel_factory("AudioSummaryV2", family="summary")
def _audio_summary_v2(node: NodeSpec) -> Any:
    """a Summary with up to max_outputs 16-bit WAV clips of the batch"""
    max_outputs = int(node.attrs.get("max_outputs", 3))

    def run(ctx: Any, tag: Any, tensor: Any, sample_rate: Any) -> np.ndarray:
        from savedmodel.ops.audio import _encode_wav

        tag, tensor, sample_rate = np.asarray(tag), np.asarray(tensor), np.asarray(sample_rate)
        if tag.ndim != 0:
            fail("Tag must be a scalar")
        if sample_rate.ndim != 0:
            fail(f"sample_rate must be rank-0, got shape {_shape(sample_rate.shape)}")
        rate = np.float32(sample_rate)
        if not rate > 0:
            fail("sample_rate must be > 0")
        if tensor.ndim not in (2, 3):
            fail(f"Tensor must be 3-D or 2-D, got: {_shape(tensor.shape)}")
        batch, frames = tensor.shape[0], tensor.shape[1]
        channels = 1 if tensor.ndim == 2 else tensor.shape[2]
        wav_rate = max(int(np.rint(rate)), 1)
        base = _tag_bytes(tag.item())
        out = []
        for i in range(min(max_outputs, batch)):
            name = base + (b"/audio/" + str(i).encode() if max_outputs > 1 else b"/audio")
            clip = tensor[i].astype(np.float32).reshape(frames, channels)
            wav = bytes(_encode_wav(None, clip, np.asarray(wav_rate)).item())
            audio = (
                _key(1, 5)
                + struct.pack("<f", rate)
                + _int_field(2, channels)
                + _int_field(3, frames)
                + _bytes_field(4, wav)
                + _bytes_field(5, b"audio/wav")
            )
            out.append(_value(name, _bytes_field(_AUDIO, audio)))
        return _summary(out)

    return run
