"""Neural-network ops: activations, softmax, bias, convolutions, pooling, normalization."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from savedmodel.ops import _buffers as buffers
from savedmodel.ops import _eigen_x86 as eigen_x86
from savedmodel.ops._common import (
    FLOATS,
    FUSABLE_FLOATS,
    NUMERIC,
    Epilogue,
    EpilogueFor,
    as_dtype,
    fail,
    float_op,
    pad_constant,
    shape_str,
    upcast,
)
from savedmodel.ops._gemm_order import slice_bounds, sliced_matmul
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory, lookup

# How kernels differ from TensorFlow's (docs/ops.md), for those registered through notes=NOTES.
NOTES: dict[str, str] = {
    "Conv3D": "dilations > 1 supported (TensorFlow's CPU kernel refuses them)",
    "DepthwiseConv2dNative": "dilations > 1 supported (TensorFlow's CPU kernel refuses them)",
    "Conv2DBackpropInput": "dilations > 1 supported (TensorFlow's CPU kernel refuses them); no groups",
}


def lookup_prepared(op: str, node: NodeSpec) -> Any:
    """The registered kernel of `op`, prepared for `node`."""
    definition = lookup(op)
    assert definition is not None
    return definition.prepare(node)


def _data_format(node: NodeSpec, default: str = "NHWC") -> str:
    fmt = node.attrs.get("data_format", default.encode())
    return fmt.decode() if isinstance(fmt, bytes) else str(fmt)


# --------------------------------------------------------------------------- activations


def _activation(op: str, fn: Any, types: tuple[str, ...] = FLOATS) -> None:
    wrapped = float_op(fn)
    kernel(op, family="nn", dtypes=types)(lambda ctx, x: wrapped(x))


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x: np.ndarray) -> np.ndarray:
    neg = _SELU_SCALE * _SELU_ALPHA * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, _SELU_SCALE * x, neg)


def _softplus(x: np.ndarray) -> np.ndarray:
    # Same regimes as TensorFlow: large x -> x, very negative x -> exp(x), else log1p(exp(x)).
    threshold = np.log(np.finfo(x.dtype).eps) + 2
    too_large = x > -threshold
    too_small = x < threshold
    mid = np.log1p(np.exp(np.where(too_large | too_small, 0, x)))
    return np.where(too_large, x, np.where(too_small, np.exp(x), mid))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, x.dtype.type(0))  # np.maximum propagates NaN, as TensorFlow's Relu does


def _relu6(x: np.ndarray) -> np.ndarray:
    out = np.maximum(x, x.dtype.type(0))
    if type(out) is not np.ndarray:  # a 0-d input gives a NumPy scalar
        return np.minimum(out, x.dtype.type(6))
    return np.minimum(out, x.dtype.type(6), out=out)


_activation("Relu", _relu, NUMERIC)
_activation("Relu6", _relu6, NUMERIC)
_activation("Elu", _elu)
_activation("Selu", _selu)
_activation("Softplus", _softplus)
_activation("Softsign", lambda x: x / (1 + np.abs(x)))


@kernel_factory("LeakyRelu", family="nn", dtypes=FLOATS)
def _leaky_relu(node: NodeSpec) -> Any:
    alpha = float(node.attrs.get("alpha", 0.2))

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        w = upcast(x)
        return as_dtype(np.where(w > 0, w, w * np.asarray(alpha, dtype=w.dtype)), x.dtype)

    return run


# --------------------------------------------------------------------------- softmax / bias


def _softmax(x: np.ndarray, log: bool) -> np.ndarray:
    if x.ndim < 1:
        fail(f"logits must have >= 1 dimension, got {shape_str(x.shape)}")
    w = upcast(x)
    with np.errstate(all="ignore"):
        shifted = w - np.max(w, axis=-1, keepdims=True) if w.size else w
        e = np.exp(shifted)
        total = np.sum(e, axis=-1, keepdims=True)
        out = shifted - np.log(total) if log else e / total
    return as_dtype(out, x.dtype)


kernel("Softmax", family="nn", dtypes=FLOATS)(lambda ctx, x: _softmax(x, False))
kernel("LogSoftmax", family="nn", dtypes=FLOATS)(lambda ctx, x: _softmax(x, True))


@kernel_factory("BiasAdd", "BiasAddV1", family="nn", dtypes=NUMERIC)
def _bias_add(node: NodeSpec) -> Any:
    fmt = _data_format(node)

    def run(ctx: Any, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        if x.ndim < 2:
            fail(f"Input tensor must be at least 2D: {shape_str(x.shape)}")
        if bias.ndim != 1:
            fail(f"Biases must be 1D: {shape_str(bias.shape)}")
        axis = 1 if fmt.startswith("NC") else x.ndim - 1
        if x.shape[axis] != bias.shape[0]:
            fail(
                f"Must provide as many biases as the channel dimension of the input tensor: "
                f"{shape_str(bias.shape)} vs. {shape_str(x.shape)}"
            )
        shape = [1] * x.ndim
        shape[axis] = -1
        with np.errstate(all="ignore"):
            return as_dtype(upcast(x) + upcast(bias).reshape(shape), x.dtype)

    return run


# --------------------------------------------------------------------------- convolution helpers


def _text_attr(node: NodeSpec, name: str, default: str) -> str:
    value = node.attrs.get(name, default.encode())
    return value.decode() if isinstance(value, bytes) else str(value)


def _spatial_from_format(values: list[int], fmt: str, rank: int) -> list[int]:
    """Pick the spatial entries of a per-dimension attr (strides, dilations, ksize)."""
    if len(values) != rank:
        fail(f"expected {rank} values (one per input dimension), got {values}")
    if fmt.startswith("NC"):
        return list(values[2:])
    return list(values[1:-1])


def _to_channels_last(x: np.ndarray, fmt: str) -> np.ndarray:
    return np.moveaxis(x, 1, -1) if fmt.startswith("NC") else x


def _from_channels_last(x: np.ndarray, fmt: str) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if fmt.startswith("NC") else x


def _out_and_pads(
    size: int, k: int, stride: int, dilation: int, padding: str, explicit: tuple[int, int] | None = None
) -> tuple[int, int, int]:
    """(output size, pad before, pad after) for one spatial dim, by TensorFlow's rules."""
    eff = (k - 1) * dilation + 1
    if padding == "VALID":
        out = (size - eff) // stride + 1 if size >= eff else 0
        return max(out, 0), 0, 0
    if padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2, total - total // 2
    if padding == "EXPLICIT":
        before, after = explicit or (0, 0)
        padded = size + before + after
        out = (padded - eff) // stride + 1 if padded >= eff else 0
        return max(out, 0), before, after
    fail(f"unsupported padding {padding!r}")


def _explicit_pads(node: NodeSpec, fmt: str, rank: int) -> list[tuple[int, int]] | None:
    flat = [int(v) for v in (node.attrs.get("explicit_paddings", []) or [])]
    if not flat:
        return None
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(len(flat) // 2)]
    return _spatial_from_format(pairs, fmt, rank)  # type: ignore[arg-type]


def _windows(
    xp: np.ndarray, ks: list[int], strides: list[int], dilations: list[int], outs: list[int]
) -> np.ndarray:
    """[N, *out, C, *k] view of every (dilated) window of a channels-last padded input."""
    r = len(ks)
    eff = [(k - 1) * d + 1 for k, d in zip(ks, dilations, strict=True)]
    view = np.lib.stride_tricks.sliding_window_view(xp, eff, axis=tuple(range(1, r + 1)))
    index = (slice(None),) + tuple(slice(0, o * s, s) for o, s in zip(outs, strides, strict=True))
    index += (slice(None),) + tuple(slice(None, None, d) for d in dilations)
    return view[index]


def _pad_spatial(x: np.ndarray, pads: list[tuple[int, int]], value: float = 0) -> np.ndarray:
    """`x` (channels last) with its spatial dims padded by `value` (`x` itself when no padding)."""
    if not any(p for pair in pads for p in pair):
        return x
    return pad_constant(x, [(0, 0), *pads, (0, 0)], value)


class ConvGeometry:
    """Strides, dilations and padding of a conv/pool node, resolved for one input shape."""

    def __init__(self, node: NodeSpec, rank: int, default_format: str, dilations: bool = True) -> None:
        self.fmt = _text_attr(node, "data_format", default_format)
        self.padding = _text_attr(node, "padding", "VALID")
        self.rank = rank
        self.strides = _spatial_from_format(
            [int(v) for v in node.attrs.get("strides", [1] * rank)], self.fmt, rank
        )
        dil = node.attrs.get("dilations", None) if dilations else None
        self.dilations = (
            _spatial_from_format([int(v) for v in dil], self.fmt, rank) if dil else [1] * (rank - 2)
        )
        self.explicit = _explicit_pads(node, self.fmt, rank) if self.padding == "EXPLICIT" else None

    def resolve(self, spatial: tuple[int, ...], ks: list[int]) -> tuple[list[int], list[tuple[int, int]]]:
        outs, pads = [], []
        for i, (size, k) in enumerate(zip(spatial, ks, strict=True)):
            explicit = self.explicit[i] if self.explicit else None
            o, b, a = _out_and_pads(size, k, self.strides[i], self.dilations[i], self.padding, explicit)
            outs.append(o)
            pads.append((b, a))
        return outs, pads


def _im2col(xp: np.ndarray, ks: list[int], geom: ConvGeometry, outs: list[int]) -> np.ndarray:
    """[N, *outs, *ks, C]: the (dilated, strided) window of every output of a padded channels-last
    input, taps in the filter's row-major order with channels innermost, so that it reshapes to
    the [rows, taps * C] operand of one matrix product with the filter. A 1x1 filter needs no
    windows: the input itself (subsampled when strided), without a copy when unstrided."""
    if all(k == 1 for k in ks):
        index = (slice(None),) + tuple(slice(0, o * s, s) for o, s in zip(outs, geom.strides, strict=True))
        return xp[index].reshape(xp.shape[0], *outs, *ks, xp.shape[-1])
    cols = np.empty((xp.shape[0], *outs, *ks, xp.shape[-1]), dtype=xp.dtype)
    r = len(ks)
    for taps in np.ndindex(*ks):  # one strided copy per tap: contiguous channel runs
        cols[(slice(None),) * (r + 1) + taps] = xp[_tap(taps, geom.dilations, geom.strides, outs)]
    return cols


def _tap(
    taps: tuple[int, ...], dilations: list[int], strides: list[int], outs: list[int]
) -> tuple[slice, ...]:
    """Index of a padded channels-last input giving, for every output, its window's element at
    filter position `taps`."""
    spans = zip(taps, dilations, outs, strides, strict=True)
    return (slice(None),) + tuple(slice(k * d, k * d + (o - 1) * s + 1, s) for k, d, o, s in spans)


def conv_nd(x: np.ndarray, w: np.ndarray, geom: ConvGeometry) -> np.ndarray:
    """Channels-last N-d convolution (cross-correlation) with grouped-channel support."""
    r = x.ndim - 2
    ks = list(w.shape[:r])
    cin_w, cout = w.shape[r], w.shape[r + 1]
    cin = x.shape[-1]
    if cin_w == 0 or cin % cin_w:
        fail(f"input depth must be evenly divisible by filter depth: {cin} vs {cin_w}")
    groups = cin // cin_w
    if cout % groups:
        fail(f"output depth must be evenly divisible by the number of groups: {cout} vs {groups}")
    outs, pads = geom.resolve(x.shape[1:-1], ks)
    n = x.shape[0]
    if any(o == 0 for o in outs) or n == 0:
        return np.zeros((n, *outs, cout), dtype=x.dtype)
    rows = int(np.prod(outs)) * n
    kk = int(np.prod(ks))
    if groups == 1 and r == 2:  # in blocks: a bounded im2col, cache-sized matrix products
        return _conv2d_blocks(_pad_spatial(x, pads), w, ks, geom, outs, None)
    if groups == 1:
        cols = _im2col(_pad_spatial(x, pads), ks, geom, outs).reshape(rows, kk * cin)
        return (cols @ w.reshape(kk * cin, cout)).reshape(n, *outs, cout)
    xp = _pad_spatial(x, pads)
    win = np.moveaxis(_windows(xp, ks, geom.strides, geom.dilations, outs), 1 + r, -1)  # [N,*outs,*ks,C]
    cols = win.reshape(rows, kk, groups, cin_w)
    wg = w.reshape(kk, cin_w, groups, cout // groups)
    out = np.einsum("rkgc,kcgo->rgo", cols, wg, optimize=True)
    return out.reshape(n, *outs, cout)


def _conv_kernel(op: str, rank: int, default_format: str) -> None:
    @kernel_factory(op, family="nn", dtypes=FLOATS + ("int32",), notes=NOTES)
    def prepare(node: NodeSpec) -> Any:
        geom = ConvGeometry(node, rank, default_format)

        def run(ctx: Any, x: np.ndarray, w: np.ndarray) -> np.ndarray:
            if x.ndim != rank:
                fail(f"input must be {rank}-dimensional: {shape_str(x.shape)}")
            if w.ndim != rank:
                fail(f"filter must be {rank}-dimensional: {shape_str(w.shape)}")
            xl = upcast(_to_channels_last(x, geom.fmt))
            with np.errstate(all="ignore"):
                out = conv_nd(xl, upcast(w), geom)
            return as_dtype(_from_channels_last(out, geom.fmt), x.dtype)

        return run


_conv_kernel("Conv2D", 4, "NHWC")
_conv_kernel("Conv3D", 5, "NDHWC")

# im2col bytes a blocked convolution gathers at a time (and at least _CONV_BLOCK_ROWS output pixels,
# so that each block's matrix product stays large enough for BLAS to run at full speed).
_CONV_BLOCK_BYTES = 1 << 22
_CONV_BLOCK_ROWS = 512


def conv2d_fused(node: NodeSpec) -> Any:
    """Conv2D as `run(ctx, epilogue_for, x, w) -> (out, applied)`: NHWC float inputs are computed in
    blocks of output rows (or whole images), each block's im2col gathered, multiplied by the filter
    into the output, and given the epilogue while in the cache; other inputs run the plain kernel."""
    plain = lookup_prepared("Conv2D", node)
    geom = ConvGeometry(node, 4, "NHWC")

    def run(ctx: Any, epilogue_for: EpilogueFor, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, bool]:
        if (
            geom.fmt != "NHWC"
            or x.ndim != 4
            or w.ndim != 4
            or x.dtype not in FUSABLE_FLOATS
            or w.dtype != x.dtype
            or w.shape[2] != x.shape[3]
            or not x.size
            or not w.size
        ):
            return plain(ctx, x, w), False
        ks = list(w.shape[:2])
        outs, pads = geom.resolve(x.shape[1:3], ks)
        n, cout = x.shape[0], w.shape[3]
        if 0 in outs:
            return plain(ctx, x, w), False
        epilogue = epilogue_for(x.dtype, (n, *outs, cout))
        with np.errstate(all="ignore"):
            out = _conv2d_blocks(_pad_spatial(x, pads), w, ks, geom, outs, epilogue)
        return out, epilogue is not None

    return run


def _conv2d_blocks(
    xp: np.ndarray,
    w: np.ndarray,
    ks: list[int],
    geom: ConvGeometry,
    outs: list[int],
    epilogue: Epilogue | None,
) -> np.ndarray:
    n, (oh, ow), (cin, cout) = xp.shape[0], outs, w.shape[2:]
    depth = ks[0] * ks[1] * cin
    if not depth or not cout:
        return np.zeros((n, oh, ow, cout), dtype=xp.dtype)
    out = buffers.empty((n, oh, ow, cout), xp.dtype)
    w2 = w.reshape(depth, cout)
    order = _tf_conv_order(xp, w, ks, geom, outs)
    if order is not None:
        w2 = np.ascontiguousarray(w2)
    rows = max(_CONV_BLOCK_BYTES // (ow * depth * xp.itemsize), -(-_CONV_BLOCK_ROWS // ow), 1)
    if order is not None and ks == [1, 1]:  # no im2col copy: blocks as large as the slices make
        rows *= len(order)  # them (one BLAS call per block and slice)
    images = max(1, rows // oh)
    rows = min(rows, oh)
    for first in range(0, n, images):
        batch = slice(first, first + images)
        for top in range(0, oh, rows):
            block = out[batch, top : top + rows]
            height, start = block.shape[1], top * geom.strides[0]
            span = (height - 1) * geom.strides[0] + (ks[0] - 1) * geom.dilations[0] + 1  # input rows read
            cols = _im2col(xp[batch, start : start + span], ks, geom, [height, ow])
            flat = block.reshape(-1, cout)
            if order is None:
                np.matmul(cols.reshape(flat.shape[0], depth), w2, out=flat)
            else:
                sliced_matmul(cols.reshape(flat.shape[0], depth), w2, order, out=flat)
            if epilogue is not None:
                epilogue(flat)
    return out


def _tf_conv_order(
    xp: np.ndarray, w: np.ndarray, ks: list[int], geom: ConvGeometry, outs: list[int]
) -> list[tuple[int, int]] | None:
    """The K slices in which TensorFlow sums a float32 Conv2D's products (ops/_gemm_order.py), or
    None where its order is not modelled. TensorFlow runs a 1x1 unit-stride filter, and a filter
    as large as the (unpadded) input with no padding, as a plain matrix product; others over image
    patches, which its thread cost model prices higher."""
    if xp.dtype != np.float32 or w.dtype != np.float32:
        return None
    rows, depth, cout = xp.shape[0] * outs[0] * outs[1], ks[0] * ks[1] * xp.shape[3], w.shape[3]
    pointwise = ks == [1, 1] and list(geom.strides) == [1, 1]
    whole = geom.padding == "VALID" and outs == [1, 1] and list(xp.shape[1:3]) == ks
    return slice_bounds(rows, cout, depth, patches=not (pointwise or whole))


# Output bytes a depthwise convolution computes at a time: its running sums and products then stay
# in the CPU cache across the filter taps instead of streaming through memory once per tap.
_DEPTHWISE_BLOCK_BYTES = 1 << 17


def _depthwise_taps(
    xp: np.ndarray,
    w: np.ndarray,
    strides: list[int],
    dilations: list[int],
    outs: list[int],
    epilogue: Epilogue | None = None,
) -> np.ndarray:
    """Depthwise convolution of a padded NHWC input, summed tap by tap.

    TensorFlow's CPU kernel accumulates each output over the filter taps in row-major (row, column)
    order, a rounded product added to a rounded sum (no fused multiply-add); summing in that order
    gives its float32 results bit for bit (a contraction over the taps in another order differs in
    the last bits, and a deep network such as EfficientNet amplifies those differences). The output
    is computed in blocks of rows (or of whole images) that fit the cache; each element's sum is the
    same. `epilogue` runs on each finished block (channels last), while it is in the cache."""
    kh, kw, c, m = w.shape
    n, (oh, ow) = xp.shape[0], outs
    dtype = np.result_type(xp.dtype, w.dtype)
    if m == 1 and xp.dtype == w.dtype:
        return _depthwise_taps_flat(xp, w[..., 0], strides, dilations, outs, epilogue)
    out = np.zeros((n, oh, ow, c, m), dtype=dtype)
    rows = max(1, _DEPTHWISE_BLOCK_BYTES // (ow * c * m * dtype.itemsize))
    images = max(1, rows // oh)
    rows = min(rows, oh)
    product = np.empty((min(images, n), rows, ow, c, m), dtype=dtype)
    if m == 1:  # one output per channel: 4-D operands (faster inner loops than a broadcast 5th axis)
        out, product, w = out[..., 0], product[..., 0], w[..., 0]
    (sh, sw), (dh, dw) = strides, dilations
    for first in range(0, n, images):
        batch = slice(first, first + images)
        for top in range(0, oh, rows):
            acc = out[batch, top : top + rows]
            prod = product[: acc.shape[0], : acc.shape[1]]
            for i, j in np.ndindex(kh, kw):
                start = top * sh + i * dh
                patch = xp[
                    batch,
                    start : start + (acc.shape[1] - 1) * sh + 1 : sh,
                    j * dw : j * dw + (ow - 1) * sw + 1 : sw,
                ]
                np.multiply(patch if m == 1 else patch[..., None], w[i, j], out=prod)  # rounded product,
                np.add(acc, prod, out=acc)  # then a rounded sum
            if epilogue is not None:
                epilogue(acc.reshape(*acc.shape[:3], c * m))
    return out.reshape(n, oh, ow, c * m)


def _depthwise_taps_flat(
    xp: np.ndarray,
    w: np.ndarray,
    strides: list[int],
    dilations: list[int],
    outs: list[int],
    epilogue: Epilogue | None,
) -> np.ndarray:
    """_depthwise_taps with one output per channel (w: [kh, kw, c]), the same sums, with long inner
    loops: each filter tap's weights repeated along an output row, so that (unstrided) every product
    and sum runs over whole rows of (width x channels) instead of one pixel's channels at a time."""
    kh, kw, c = w.shape
    n, (oh, ow), (sh, sw), (dh, dw) = xp.shape[0], outs, strides, dilations
    dtype = xp.dtype
    rows = max(1, _DEPTHWISE_BLOCK_BYTES // (ow * c * dtype.itemsize))
    images = max(1, rows // oh)
    rows = min(rows, oh)
    # column tap j: the input columns its outputs read, [n, padded rows, ow, c] (contiguous rows
    # when unstrided; gathering strided ones first costs more than it saves)
    columns = [xp[:, :, j * dw : j * dw + (ow - 1) * sw + 1 : sw] for j in range(kw)]
    weights = w[:, :, None, :]  # strided columns: one pixel's channels per inner loop anyway
    if sw == 1:
        weights = np.ascontiguousarray(np.broadcast_to(weights, (kh, kw, ow, c)))
    out = buffers.empty((n, oh, ow, c), dtype)
    product = np.empty((min(images, n), rows, ow, c), dtype=dtype)
    zero = dtype.type(0)
    for first in range(0, n, images):
        batch = slice(first, first + images)
        for top in range(0, oh, rows):
            acc = out[batch, top : top + rows]
            height = acc.shape[1]
            prod = product[: acc.shape[0], :height]
            for i, j in np.ndindex(kh, kw):
                start = top * sh + i * dh
                patch = columns[j][batch, start : start + (height - 1) * sh + 1 : sh]
                np.multiply(patch, weights[i, j], out=prod)  # rounded product,
                if i == j == 0:  # the sum starts at 0 (0 + -0.0 is 0.0), without zeroing `acc` first
                    np.add(prod, zero, out=acc)
                else:
                    np.add(acc, prod, out=acc)  # then a rounded sum
            if epilogue is not None:
                epilogue(acc)
    return out


@kernel_factory("DepthwiseConv2dNative", family="nn", dtypes=FLOATS, notes=NOTES)
def _depthwise(node: NodeSpec) -> Any:
    return depthwise_conv(node)


def depthwise_conv(node: NodeSpec, fused: bool = False) -> Any:
    """The DepthwiseConv2dNative kernel; `fused`: `run(ctx, epilogue_for, x, w) -> (out, applied)`,
    applying `epilogue_for(dtype, shape)` (when it gives one) to each block as it is finished."""
    geom = ConvGeometry(node, 4, "NHWC")

    def run(ctx: Any, x: np.ndarray, w: np.ndarray, epilogue_for: EpilogueFor | None = None) -> Any:
        if x.ndim != 4 or w.ndim != 4:
            fail(f"input and filter must be 4-D: {shape_str(x.shape)}, {shape_str(w.shape)}")
        xl = upcast(_to_channels_last(x, geom.fmt))
        kh, kw, c, m = w.shape
        if xl.shape[-1] != c:
            fail(f"input depth {xl.shape[-1]} does not match filter depth {c}")
        outs, pads = geom.resolve(xl.shape[1:3], [kh, kw])
        xp = _pad_spatial(xl, pads)
        n = xl.shape[0]
        epilogue = None
        if (
            epilogue_for is not None
            and geom.fmt == "NHWC"
            and x.dtype in FUSABLE_FLOATS  # half types round once more between the ops
            and x.dtype == w.dtype
            and n
            and 0 not in outs
        ):
            epilogue = epilogue_for(x.dtype, (n, *outs, c * m))
        if n == 0 or 0 in outs:
            out = np.zeros((n, *outs, c * m), dtype=xl.dtype)
        else:
            with np.errstate(all="ignore"):
                out = _depthwise_taps(xp, upcast(w), geom.strides, geom.dilations, outs, epilogue)
        out = as_dtype(_from_channels_last(out, geom.fmt), x.dtype)
        return (out, epilogue is not None) if fused else out

    if fused:
        return lambda ctx, epilogue_for, x, w: run(ctx, x, w, epilogue_for)
    return run


def conv_backprop_input(
    sizes: list[int], w: np.ndarray, dy: np.ndarray, geom: ConvGeometry, depthwise: bool = False
) -> np.ndarray:
    """Gradient of a channels-last convolution with respect to its input (transposed conv)."""
    r = len(sizes) - 2
    ks = list(w.shape[:r])
    outs, pads = geom.resolve(tuple(sizes[1:-1]), ks)
    if list(dy.shape[1:-1]) != outs:
        fail(
            f"Conv backprop: out_backprop spatial shape {shape_str(dy.shape)} does not match the "
            f"computed output {outs}"
        )
    n, cin = sizes[0], sizes[-1]
    padded = [s + b + a for s, (b, a) in zip(sizes[1:-1], pads, strict=True)]
    dx = np.zeros((n, *padded, cin), dtype=dy.dtype)
    if depthwise:
        c, m = w.shape[r], w.shape[r + 1]
        cols = np.einsum("nhwcm,ijcm->nhwijc", dy.reshape(*dy.shape[:-1], c, m), w, optimize=True)
    else:
        cin_w = w.shape[r]
        if cin_w != cin:
            fail("grouped convolution backprop is not supported")
        cols = np.tensordot(dy, w, axes=([dy.ndim - 1], [r + 1]))  # [N, *outs, *ks, Cin]
    for kidx in np.ndindex(*ks):
        target = (slice(None),) + tuple(
            slice(k * d, k * d + (o - 1) * s + 1, s)
            for k, d, o, s in zip(kidx, geom.dilations, outs, geom.strides, strict=True)
        )
        dx[target] += cols[(slice(None),) + (slice(None),) * r + kidx]
    crop = (slice(None),) + tuple(slice(b, b + s) for (b, _), s in zip(pads, sizes[1:-1], strict=True))
    return dx[crop]


def _conv_backprop_kernel(op: str, rank: int, default_format: str, depthwise: bool = False) -> None:
    @kernel_factory(op, family="nn", dtypes=FLOATS, notes=NOTES)
    def prepare(node: NodeSpec) -> Any:
        geom = ConvGeometry(node, rank, default_format)

        def run(ctx: Any, input_sizes: np.ndarray, w: np.ndarray, dy: np.ndarray) -> np.ndarray:
            sizes = [int(v) for v in np.asarray(input_sizes).reshape(-1)]
            if len(sizes) != rank:
                fail(f"input_sizes must have {rank} elements, got {sizes}")
            if geom.fmt.startswith("NC"):
                sizes = [sizes[0]] + sizes[2:] + [sizes[1]]
            dyl = upcast(_to_channels_last(dy, geom.fmt))
            with np.errstate(all="ignore"):
                dx = conv_backprop_input(sizes, upcast(w), dyl, geom, depthwise)
            return as_dtype(_from_channels_last(dx, geom.fmt), dy.dtype)

        return run


_conv_backprop_kernel("Conv2DBackpropInput", 4, "NHWC")
_conv_backprop_kernel("Conv3DBackpropInputV2", 5, "NDHWC")
_conv_backprop_kernel("DepthwiseConv2dNativeBackpropInput", 4, "NHWC", depthwise=True)


# --------------------------------------------------------------------------- pooling


def _pool(x: np.ndarray, ks: list[int], geom: ConvGeometry, kind: str) -> np.ndarray:
    outs, pads = geom.resolve(x.shape[1:-1], ks)
    n, c = x.shape[0], x.shape[-1]
    if n == 0 or 0 in outs or c == 0:
        return np.zeros((n, *outs, c), dtype=x.dtype)
    if kind == "max":
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        return _reduce_taps(np.maximum, _pad_spatial(x, pads, fill), ks, geom.strides, outs)
    total = _reduce_taps(np.add, _pad_spatial(x, pads, 0), ks, geom.strides, outs)
    ones = np.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
    counts = _reduce_taps(np.add, _pad_spatial(ones, pads, 0), ks, geom.strides, outs)
    return np.divide(total, counts, out=total)


def _reduce_taps(
    ufunc: np.ufunc, xp: np.ndarray, ks: list[int], strides: list[int], outs: list[int]
) -> np.ndarray:
    """`ufunc` over every window of a padded channels-last input, tap after tap in row-major
    order: one pass over a strided view per tap (reducing a window view over its small trailing
    axes instead walks the memory element by element)."""
    out: np.ndarray | None = None
    for taps in np.ndindex(*ks):
        view = xp[_tap(taps, [1] * len(ks), strides, outs)]
        if out is None:
            out = buffers.empty(view.shape, view.dtype)
            np.copyto(out, view)
        else:
            ufunc(out, view, out=out)
    assert out is not None
    return out


def _pool_kernel(op: str, rank: int, default_format: str, kind: str, ksize_input: bool = False) -> None:
    types = FLOATS + (("int32", "int64", "uint8", "int8") if kind == "max" else ())

    @kernel_factory(op, family="nn", dtypes=types)
    def prepare(node: NodeSpec) -> Any:
        geom = ConvGeometry(node, rank, default_format, dilations=False)
        ksize = (
            None
            if ksize_input
            else _spatial_from_format([int(v) for v in node.attrs["ksize"]], geom.fmt, rank)
        )

        def run(ctx: Any, x: np.ndarray, *extra: np.ndarray) -> np.ndarray:
            if x.ndim != rank:
                fail(f"input must be {rank}-dimensional: {shape_str(x.shape)}")
            ks, g = ksize, geom
            if ksize_input:
                ks = _spatial_from_format([int(v) for v in extra[0]], geom.fmt, rank)
                g = copy.copy(geom)
                g.strides = _spatial_from_format([int(v) for v in extra[1]], geom.fmt, rank)
            if any(k <= 0 for k in ks):
                fail(f"Sliding window ksize must be positive: {ks}")
            xl = upcast(_to_channels_last(x, geom.fmt))
            with np.errstate(all="ignore"):
                out = _pool(xl, ks, g, kind)
            return as_dtype(_from_channels_last(out, geom.fmt), x.dtype)

        return run


_pool_kernel("MaxPool", 4, "NHWC", "max")
_pool_kernel("MaxPoolV2", 4, "NHWC", "max", ksize_input=True)
_pool_kernel("AvgPool", 4, "NHWC", "avg")
_pool_kernel("MaxPool3D", 5, "NDHWC", "max")
_pool_kernel("AvgPool3D", 5, "NDHWC", "avg")


# --------------------------------------------------------------------------- normalization


def batch_norm_factor(var: np.ndarray, eps: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """rsqrt(var + eps) * scale, the per-channel factor of inference batch normalization (float32:
    TensorFlow's rsqrt, the hardware estimate and a Newton step, bit for bit). Also used by the
    fused in-place path (savedmodel/runtime/fusion.py), so both give the same bits."""
    shifted = var + eps
    if shifted.dtype == np.float32:
        return eigen_x86.rsqrt_float32(shifted) * scale
    return (np.asarray(1, var.dtype) / np.sqrt(shifted)) * scale


def _batch_norm(node: NodeSpec, version: int) -> Any:
    eps = float(node.attrs.get("epsilon", 1e-4))
    fmt = _text_attr(node, "data_format", "NHWC")
    training = bool(node.attrs.get("is_training", True))
    factor = float(node.attrs.get("exponential_avg_factor", 1.0))

    def run(
        ctx: Any, x: np.ndarray, scale: np.ndarray, offset: np.ndarray, mean: np.ndarray, var: np.ndarray
    ) -> list[np.ndarray]:
        if x.ndim not in (4, 5):
            fail(f"input must be 4 or 5-dimensional: {shape_str(x.shape)}")
        axis = 1 if fmt.startswith("NC") else x.ndim - 1
        c = x.shape[axis]
        for name, v in (("scale", scale), ("offset", offset)):
            if v.shape != (c,):
                fail(
                    f"{name} must have the same number of elements as the channels of x: "
                    f"{shape_str(v.shape)} vs {c}"
                )
        shape = [1] * x.ndim
        shape[axis] = c
        xw = x.astype(np.float32) if x.dtype.itemsize < 4 else x
        u = scale.dtype
        axes = tuple(i for i in range(x.ndim) if i != axis)
        with np.errstate(all="ignore"):
            if training:
                count = x.size // max(c, 1)
                bmean = xw.mean(axis=axes, dtype=np.float64).astype(u) if x.size else np.full(c, np.nan, u)
                bvar = xw.var(axis=axes, dtype=np.float64).astype(u) if x.size else np.full(c, np.nan, u)
                y = (xw - bmean.reshape(shape)) / np.sqrt(bvar.reshape(shape) + np.asarray(eps, u))
                y = y * scale.reshape(shape) + offset.reshape(shape)
                unbiased = bvar * (count / max(count - 1, 1)) if count > 1 else np.full(c, np.nan, u)
                if factor != 1.0 and mean.size:
                    out_mean = (1 - factor) * mean + factor * bmean
                    out_var = (1 - factor) * var + factor * unbiased
                else:
                    out_mean, out_var = bmean, unbiased
                reserves = [bmean, bvar]
            else:
                # TensorFlow's order: (x - mean) * (rsqrt(var + eps) * scale) + offset
                inv = batch_norm_factor(var, np.asarray(eps, u), scale)
                y = np.subtract(xw, mean.reshape(shape))  # then in place: one buffer, no temporaries
                if type(y) is np.ndarray:
                    np.multiply(y, inv.reshape(shape), out=y)
                    np.add(y, offset.reshape(shape), out=y)
                else:
                    y = y * inv.reshape(shape) + offset.reshape(shape)
                out_mean, out_var = mean, var
                reserves = [mean, var]
        outs = [as_dtype(y, x.dtype), as_dtype(out_mean, u), as_dtype(out_var, u)]
        outs += [as_dtype(v, u) for v in reserves]
        if version == 3:
            outs.append(np.zeros((), dtype=u))
        return outs

    return run


# Bytes of an inference batch norm's output computed at a time: its three passes (and the fused
# followers' passes, savedmodel/runtime/fusion.py) then run over cached memory.
_BATCH_NORM_CHUNK_BYTES = 1 << 18


def batch_norm_fused(node: NodeSpec) -> Any:
    """Inference FusedBatchNorm* as `run(ctx, epilogue_for, x, scale, offset, mean, var) -> (y,
    applied)`: channels-last float inputs computed in chunks of whole pixels, each chunk's
    (x - mean) * factor + offset (the kernel's very operations) followed by the epilogue while in the
    cache; anything else runs the plain kernel (its first output)."""
    plain = lookup_prepared(node.op, node)
    eps = float(node.attrs.get("epsilon", 1e-4))
    fmt = _text_attr(node, "data_format", "NHWC")
    training = bool(node.attrs.get("is_training", True))

    def run(ctx: Any, epilogue_for: EpilogueFor, x: np.ndarray, *params: np.ndarray) -> tuple[Any, bool]:
        if (
            training
            or fmt not in ("NHWC", "NDHWC")
            or type(x) is not np.ndarray
            or x.ndim not in (4, 5)
            or x.dtype not in FUSABLE_FLOATS
            or not x.flags.c_contiguous
            or not x.size
            or any(type(p) is not np.ndarray or p.dtype != x.dtype or p.shape != x.shape[-1:] for p in params)
        ):
            return plain(ctx, x, *params)[0], False
        scale, offset, mean, var = params
        factor = batch_norm_factor(var, np.asarray(eps, x.dtype), scale)
        epilogue = epilogue_for(x.dtype, x.shape)
        y = buffers.empty(x.shape, x.dtype)
        rows, out = x.reshape(-1, x.shape[-1]), y.reshape(-1, x.shape[-1])
        step = max(1, _BATCH_NORM_CHUNK_BYTES // (rows.shape[1] * x.itemsize))
        for start in range(0, rows.shape[0], step):
            chunk = out[start : start + step]
            np.subtract(rows[start : start + step], mean, out=chunk)
            np.multiply(chunk, factor, out=chunk)
            np.add(chunk, offset, out=chunk)
            if epilogue is not None:
                epilogue(chunk)
        return y, epilogue is not None

    return run


kernel_factory("FusedBatchNorm", family="nn", dtypes=("float32",))(lambda node: _batch_norm(node, 1))
kernel_factory("FusedBatchNormV2", family="nn", dtypes=FLOATS)(lambda node: _batch_norm(node, 2))
kernel_factory(
    "FusedBatchNormV3",
    family="nn",
    dtypes=FLOATS,
    notes="inference and training modes; reserve-space outputs are scratch values",
)(lambda node: _batch_norm(node, 3))


@kernel_factory("LRN", family="nn", dtypes=("float32", "float16", "bfloat16"))
def _lrn(node: NodeSpec) -> Any:
    radius = int(node.attrs.get("depth_radius", 5))
    bias = float(node.attrs.get("bias", 1.0))
    alpha = float(node.attrs.get("alpha", 1.0))
    beta = float(node.attrs.get("beta", 0.5))

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4:
            fail(f"input must be 4-dimensional: {shape_str(x.shape)}")
        w = upcast(x)
        sq = np.square(w)
        c = w.shape[-1]
        padded = np.pad(sq, [(0, 0)] * 3 + [(radius, radius)])
        csum = np.concatenate([np.zeros(w.shape[:-1] + (1,), w.dtype), np.cumsum(padded, axis=-1)], axis=-1)
        window = csum[..., 2 * radius + 1 : 2 * radius + 1 + c] - csum[..., :c]
        return as_dtype(w / np.power(bias + alpha * window, beta), x.dtype)

    return run


@kernel("L2Loss", family="nn", dtypes=FLOATS)
def _l2_loss(ctx: Any, x: np.ndarray) -> np.ndarray:
    return as_dtype(np.sum(np.square(upcast(x))) / 2, x.dtype)


@kernel_factory(
    "TopKV2", family="nn", dtypes=NUMERIC, notes="always sorted descending; ties to the lower index"
)
def _top_k(node: NodeSpec) -> Any:
    # `sorted` is ignored: we always return values in descending order, which TensorFlow's CPU
    # kernel also does.
    index_type = node.attrs.dtype("index_type") if "index_type" in node.attrs else np.dtype(np.int32)

    def run(ctx: Any, x: np.ndarray, k_input: np.ndarray) -> list[np.ndarray]:
        k = int(np.asarray(k_input).reshape(-1)[0])
        if x.ndim < 1:
            fail("input must be at least 1-D")
        if k < 0:
            fail(f"Need k >= 0, got {k}")
        if x.shape[-1] < k:
            fail(f"input must have at least k columns. Had {x.shape[-1]}, needed {k}")
        w = upcast(x)
        key = np.where(np.isnan(w), np.inf, w) if w.dtype.kind == "f" else w
        # stable descending order: larger values first, ties by lower index
        order = np.argsort(_descending_key(key), axis=-1, kind="stable")[..., :k]
        values = np.take_along_axis(x, order, axis=-1)
        return [values, order.astype(index_type)]

    return run


def _descending_key(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "u":
        return np.iinfo(x.dtype).max - x
    if x.dtype.kind == "b":
        return ~x
    return -x.astype(np.float64) if x.dtype.kind == "f" else -(x.astype(np.float64))


@kernel_factory("InTopKV2", "InTopK", family="nn", dtypes=("float32",))
def _in_top_k(node: NodeSpec) -> Any:
    k_attr = node.attrs.get("k") if node.op == "InTopK" else None

    def run(ctx: Any, predictions: np.ndarray, targets: np.ndarray, *k_input: np.ndarray) -> np.ndarray:
        k = int(k_attr) if k_attr is not None else int(np.asarray(k_input[0]).reshape(-1)[0])
        n, classes = predictions.shape
        out = np.zeros(n, dtype=np.bool_)
        for i in range(n):
            t = int(targets[i])
            if not 0 <= t < classes or not np.all(np.isfinite(predictions[i])):
                continue
            out[i] = int(np.sum(predictions[i] > predictions[i, t])) < k
        return out

    return run


@kernel("SoftmaxCrossEntropyWithLogits", family="nn", dtypes=FLOATS)
def _softmax_xent(ctx: Any, logits: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    lw, yw = np.broadcast_arrays(upcast(logits), upcast(labels))
    if lw.ndim != 2:
        fail(f"logits and labels must be 2-D: {shape_str(logits.shape)}")
    shifted = lw - lw.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = np.sum(yw * (log_sum - shifted), axis=1)
    grad = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True) - yw
    return [as_dtype(loss, logits.dtype), as_dtype(grad, logits.dtype)]


@kernel("SparseSoftmaxCrossEntropyWithLogits", family="nn", dtypes=FLOATS)
def _sparse_softmax_xent(ctx: Any, logits: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    if logits.ndim != 2 or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        fail(
            f"logits must be 2-D and labels 1-D with the same rows: {shape_str(logits.shape)} "
            f"vs {shape_str(labels.shape)}"
        )
    classes = logits.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        fail(f"Received a label value outside the valid range of [0, {classes}).")
    lw = upcast(logits)
    shifted = lw - lw.max(axis=1, keepdims=True)
    sums = np.exp(shifted).sum(axis=1)
    rows = np.arange(logits.shape[0])
    loss = np.log(sums) - shifted[rows, labels]
    grad = np.exp(shifted) / sums[:, None]
    grad[rows, labels] -= 1
    return [as_dtype(loss, logits.dtype), as_dtype(grad, logits.dtype)]


def _conv_backprop_filter_kernel(op: str, rank: int, default_format: str) -> None:
    @kernel_factory(op, family="nn", dtypes=FLOATS)
    def prepare(node: NodeSpec) -> Any:
        geom = ConvGeometry(node, rank, default_format)
        r = rank - 2

        def run(ctx: Any, x: np.ndarray, filter_sizes: np.ndarray, dy: np.ndarray) -> np.ndarray:
            sizes = [int(v) for v in np.asarray(filter_sizes).reshape(-1)]
            if len(sizes) != rank or x.ndim != rank or dy.ndim != rank:
                fail(f"filter_sizes must have {rank} elements and the inputs rank {rank}: {sizes}")
            ks, cin, cout = sizes[:r], sizes[r], sizes[r + 1]
            xl = upcast(_to_channels_last(x, geom.fmt))
            dyl = upcast(_to_channels_last(dy, geom.fmt))
            if xl.shape[-1] != cin:
                fail(f"filter_sizes depth {cin} does not match the input depth {xl.shape[-1]}")
            outs, pads = geom.resolve(xl.shape[1:-1], ks)
            if list(dyl.shape[1:-1]) != outs or dyl.shape[-1] != cout:
                fail(f"out_backprop shape {shape_str(dy.shape)} does not match the computed output {outs}")
            if xl.shape[0] == 0 or 0 in outs:
                return np.zeros(sizes, dtype=x.dtype)
            win = _windows(_pad_spatial(xl, pads), ks, geom.strides, geom.dilations, outs)  # [N,*outs,C,*ks]
            cols = np.moveaxis(win, 1 + r, -1).reshape(-1, int(np.prod(ks)) * cin)  # rows x (ks, C)
            with np.errstate(all="ignore"):
                out = cols.T @ dyl.reshape(-1, cout)
            return as_dtype(out.reshape(sizes), x.dtype)

        return run


_conv_backprop_filter_kernel("Conv2DBackpropFilter", 4, "NHWC")
_conv_backprop_filter_kernel("Conv3DBackpropFilterV2", 5, "NDHWC")


@kernel_factory("MaxPoolGradWithArgmax", family="nn", dtypes=FLOATS)
def _max_pool_grad_with_argmax(node: NodeSpec) -> Any:
    with_batch = bool(node.attrs.get("include_batch_in_index", False))

    def run(ctx: Any, x: np.ndarray, dy: np.ndarray, argmax: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or dy.shape != argmax.shape or dy.ndim != 4 or dy.shape[0] != x.shape[0]:
            fail(f"input, grad and argmax must be 4-D, grad like argmax: {shape_str(dy.shape)}")
        n = x.shape[0]
        per_image = x.size // max(n, 1)
        index = argmax.astype(np.int64).reshape(n, -1)
        if not with_batch:
            index = index + (np.arange(n) * per_image)[:, None]
        if index.size and (index.min() < 0 or index.max() >= x.size):
            fail(f"Invalid argmax: an index is outside the input of {x.size} elements")
        out = np.zeros(x.size, dtype=upcast(dy).dtype)
        np.add.at(out, index.reshape(-1), upcast(dy).reshape(-1))
        return as_dtype(out.reshape(x.shape), dy.dtype)

    return run


@kernel_factory("MaxPoolWithArgmax", family="nn", dtypes=FLOATS + ("int32", "int64", "uint8"))
def _max_pool_with_argmax(node: NodeSpec) -> Any:
    geom = ConvGeometry(node, 4, "NHWC", dilations=False)
    ksize = _spatial_from_format([int(v) for v in node.attrs["ksize"]], "NHWC", 4)
    arg_type = node.attrs.dtype("Targmax") if "Targmax" in node.attrs else np.dtype(np.int64)
    with_batch = bool(node.attrs.get("include_batch_in_index", False))

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        if x.ndim != 4:
            fail(f"input must be 4-dimensional: {shape_str(x.shape)}")
        n, h, w, c = x.shape
        outs, pads = geom.resolve((h, w), ksize)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xw = upcast(x)
        win = _windows(_pad_spatial(xw, pads, fill), ksize, geom.strides, [1, 1], outs)  # [N,OH,OW,C,KH,KW]
        flat = win.reshape(win.shape[:4] + (-1,))
        best = np.argmax(flat, axis=-1)
        values = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
        ki, kj = np.divmod(best, ksize[1])
        oy = np.arange(outs[0]).reshape(1, -1, 1, 1) * geom.strides[0] - pads[0][0]
        ox = np.arange(outs[1]).reshape(1, 1, -1, 1) * geom.strides[1] - pads[1][0]
        yy, xx = oy + ki, ox + kj
        index = (yy * w + xx) * c + np.arange(c).reshape(1, 1, 1, -1)
        if with_batch:
            index = index + np.arange(n).reshape(-1, 1, 1, 1) * (h * w * c)
        return [as_dtype(values, x.dtype), index.astype(arg_type)]

    return run


# --------------------------------------------------------------------------- gradients
# What tf.gradients emits for the ops above (TF1 training graphs, Estimator train exports).


def _same_shape(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        fail(
            f"{op}: gradients and features must have the same shape: "
            f"{shape_str(a.shape)} vs {shape_str(b.shape)}"
        )


def _activation_grad(op: str, fn: Any, types: tuple[str, ...] = FLOATS) -> None:
    wrapped = float_op(fn)

    def run(ctx: Any, gradients: np.ndarray, features: np.ndarray) -> np.ndarray:
        _same_shape(op, gradients, features)
        return wrapped(gradients, features)

    kernel(op, family="nn", dtypes=types, doc=f"gradient of {op[:-4]}")(run)


def _where_grad(mask: np.ndarray, g: np.ndarray, other: Any) -> np.ndarray:
    return np.where(mask, g, other)


_activation_grad("ReluGrad", lambda g, f: _where_grad(f > 0, g, np.zeros_like(g)), NUMERIC)
_activation_grad("Relu6Grad", lambda g, f: _where_grad((f > 0) & (f < 6), g, np.zeros_like(g)), NUMERIC)
# Elu and Selu gradients take the op's outputs (negative exactly where the input was).
_activation_grad("EluGrad", lambda g, y: _where_grad(y < 0, g * (y + 1), g))
_activation_grad(
    "SeluGrad", lambda g, y: _where_grad(y < 0, g * (y + _SELU_SCALE * _SELU_ALPHA), g * _SELU_SCALE)
)
_activation_grad("SoftplusGrad", lambda g, f: g / (np.exp(-f) + 1))
_activation_grad("SoftsignGrad", lambda g, f: g / np.square(1 + np.abs(f)))


@kernel_factory("LeakyReluGrad", family="nn", dtypes=FLOATS)
def _leaky_relu_grad(node: NodeSpec) -> Any:
    alpha = float(node.attrs.get("alpha", 0.2))

    def run(ctx: Any, gradients: np.ndarray, features: np.ndarray) -> np.ndarray:
        _same_shape("LeakyReluGrad", gradients, features)
        g = upcast(gradients)
        return as_dtype(np.where(features > 0, g, g * np.asarray(alpha, dtype=g.dtype)), gradients.dtype)

    return run


@kernel_factory("BatchNormWithGlobalNormalization", family="nn", dtypes=FLOATS)
def _batch_norm_global(node: NodeSpec) -> Any:
    """the pre-FusedBatchNorm batch normalization of old graphs (TF 0.x-1.x Inception and friends)"""
    epsilon = float(node.attrs.get("variance_epsilon", 0.0))
    scale = bool(node.attrs.get("scale_after_normalization", False))

    def run(ctx: Any, x: Any, mean: Any, var: Any, beta: Any, gamma: Any) -> np.ndarray:
        x, mean, var, beta, gamma = (np.asarray(t) for t in (x, mean, var, beta, gamma))
        if x.ndim != 4:
            fail(f"input must be 4-dimensional{shape_str(x.shape)}")
        depth = x.shape[-1]
        for label, t in (("mean", mean), ("var", var), ("beta", beta), ("gamma", gamma)):
            if t.ndim != 1:
                fail(f"{label} must be 1-dimensional{shape_str(t.shape)}")
            if t.shape[0] != depth:
                fail(f"{label} must have {depth} elements, got {t.shape[0]}")
        compute = upcast(x).dtype
        narrow = x.dtype.itemsize < 4  # half/bfloat16: Eigen rounds every step to the input type

        def r(v: np.ndarray) -> np.ndarray:
            return v.astype(x.dtype).astype(compute) if narrow else v

        eps = r(np.asarray(epsilon, dtype=compute))
        scaling = r((1.0 / np.sqrt(r(var.astype(compute) + eps))).astype(compute))
        if scale:
            scaling = r(scaling * gamma.astype(compute))
        out = r(r(x.astype(compute) - mean.astype(compute)) * scaling) + beta.astype(compute)
        return as_dtype(out, x.dtype)

    return run


@kernel_factory("BiasAddGrad", family="nn", dtypes=NUMERIC)
def _bias_add_grad(node: NodeSpec) -> Any:
    fmt = _data_format(node)

    def run(ctx: Any, dy: np.ndarray) -> np.ndarray:
        if dy.ndim < 2:
            fail(f"Input tensor must be at least 2D: {shape_str(dy.shape)}")
        axis = 1 if fmt.startswith("NC") else dy.ndim - 1
        axes = tuple(i for i in range(dy.ndim) if i != axis)
        with np.errstate(all="ignore"):
            return as_dtype(np.sum(upcast(dy), axis=axes), dy.dtype)

    return run


def _scatter_windows(
    dxp: np.ndarray, values: np.ndarray, ks: list[int], strides: list[int], outs: list[int]
) -> None:
    """Add values[N, *outs, C, *ks] into the padded channels-last gradient at each window position."""
    r = len(ks)
    for kidx in np.ndindex(*ks):
        target = (slice(None),) + tuple(
            slice(k, k + (o - 1) * s + 1, s) for k, o, s in zip(kidx, outs, strides, strict=True)
        )
        dxp[target] += values[(Ellipsis,) + kidx] if values.ndim > r + 2 else values


def _crop(dxp: np.ndarray, pads: list[tuple[int, int]], sizes: tuple[int, ...]) -> np.ndarray:
    return dxp[(slice(None),) + tuple(slice(b, b + s) for (b, _), s in zip(pads, sizes, strict=True))]


def max_pool_grad(x: np.ndarray, dy: np.ndarray, ks: list[int], geom: ConvGeometry) -> np.ndarray:
    """Channels-last: each window's gradient goes to its maximum (the first one, in row-major order)."""
    r = x.ndim - 2
    outs, pads = geom.resolve(x.shape[1:-1], ks)
    if list(dy.shape[1:-1]) != outs or dy.shape[0] != x.shape[0] or dy.shape[-1] != x.shape[-1]:
        fail(f"grad shape {shape_str(dy.shape)} does not match the pooled output {outs}")
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _pad_spatial(x, pads, fill)
    dxp = np.zeros(xp.shape, dtype=dy.dtype)
    if dy.size == 0:
        return _crop(dxp, pads, x.shape[1:-1])
    win = _windows(xp, ks, geom.strides, [1] * r, outs)  # [N, *outs, C, *ks]
    best = np.argmax(win.reshape(win.shape[: r + 2] + (-1,)), axis=-1)  # [N, *outs, C]
    offsets = np.unravel_index(best, ks)
    grid = np.indices(best.shape, sparse=True)
    index = [grid[0]]
    for d in range(r):
        index.append(grid[1 + d] * geom.strides[d] + offsets[d])
    index.append(grid[r + 1])
    np.add.at(dxp, tuple(index), dy)
    return _crop(dxp, pads, x.shape[1:-1])


def avg_pool_grad(sizes: list[int], dy: np.ndarray, ks: list[int], geom: ConvGeometry) -> np.ndarray:
    """Channels-last: each window's gradient, divided by its count of real (unpadded) inputs."""
    r = len(sizes) - 2
    spatial = tuple(sizes[1:-1])
    outs, pads = geom.resolve(spatial, ks)
    if list(dy.shape[1:-1]) != outs or dy.shape[0] != sizes[0] or dy.shape[-1] != sizes[-1]:
        fail(f"grad shape {shape_str(dy.shape)} does not match the pooled output {outs}")
    padded = [s + b + a for s, (b, a) in zip(spatial, pads, strict=True)]
    ones = np.ones((1, *spatial, 1), dtype=dy.dtype)
    counts = _windows(_pad_spatial(ones, pads, 0), ks, geom.strides, [1] * r, outs).sum(
        axis=tuple(range(-r, 0))
    )
    dxp = np.zeros((sizes[0], *padded, sizes[-1]), dtype=dy.dtype)
    _scatter_windows(dxp, dy / counts, ks, geom.strides, outs)
    return _crop(dxp, pads, spatial)


def _pool_grad_kernel(op: str, rank: int, default_format: str, kind: str, ksize_input: bool = False) -> None:
    @kernel_factory(op, family="nn", dtypes=FLOATS)
    def prepare(node: NodeSpec) -> Any:
        geom = ConvGeometry(node, rank, default_format, dilations=False)
        ksize = (
            None
            if ksize_input
            else _spatial_from_format([int(v) for v in node.attrs["ksize"]], geom.fmt, rank)
        )

        def resolve(extra: tuple[np.ndarray, ...]) -> tuple[list[int], ConvGeometry]:
            if not ksize_input:
                return list(ksize or []), geom
            g = copy.copy(geom)
            g.strides = _spatial_from_format([int(v) for v in extra[1]], geom.fmt, rank)
            return _spatial_from_format([int(v) for v in extra[0]], geom.fmt, rank), g

        def run_max(ctx: Any, x: np.ndarray, y: np.ndarray, dy: np.ndarray, *extra: np.ndarray) -> np.ndarray:
            if x.ndim != rank or dy.ndim != rank:
                fail(
                    f"orig_input and grad must be {rank}-dimensional: "
                    f"{shape_str(x.shape)}, {shape_str(dy.shape)}"
                )
            ks, g = resolve(extra)
            xl = upcast(_to_channels_last(x, geom.fmt))
            dyl = upcast(_to_channels_last(dy, geom.fmt))
            with np.errstate(all="ignore"):
                dx = max_pool_grad(xl, dyl, ks, g)
            return as_dtype(_from_channels_last(dx, geom.fmt), dy.dtype)

        def run_avg(ctx: Any, input_shape: np.ndarray, dy: np.ndarray) -> np.ndarray:
            sizes = [int(v) for v in np.asarray(input_shape).reshape(-1)]
            if len(sizes) != rank or dy.ndim != rank:
                fail(
                    f"orig_input_shape must have {rank} elements and grad rank {rank}: "
                    f"{sizes}, {shape_str(dy.shape)}"
                )
            if geom.fmt.startswith("NC"):
                sizes = [sizes[0]] + sizes[2:] + [sizes[1]]
            dyl = upcast(_to_channels_last(dy, geom.fmt))
            with np.errstate(all="ignore"):
                dx = avg_pool_grad(sizes, dyl, list(ksize or []), geom)
            return as_dtype(_from_channels_last(dx, geom.fmt), dy.dtype)

        return run_max if kind == "max" else run_avg


_pool_grad_kernel("MaxPoolGrad", 4, "NHWC", "max")
_pool_grad_kernel("MaxPoolGradV2", 4, "NHWC", "max", ksize_input=True)
_pool_grad_kernel("AvgPoolGrad", 4, "NHWC", "avg")
_pool_grad_kernel("MaxPool3DGrad", 5, "NDHWC", "max")
_pool_grad_kernel("AvgPool3DGrad", 5, "NDHWC", "avg")


def _batch_norm_grad(node: NodeSpec, version: int) -> Any:
    eps = float(node.attrs.get("epsilon", 1e-4))
    fmt = _text_attr(node, "data_format", "NHWC")
    training = bool(node.attrs.get("is_training", True))

    def run(
        ctx: Any, dy: np.ndarray, x: np.ndarray, scale: np.ndarray, mean: np.ndarray, var: np.ndarray, *_: Any
    ) -> list[np.ndarray]:
        if x.ndim not in (4, 5) or dy.shape != x.shape:
            fail(
                f"x and y_backprop must be 4 or 5-dimensional and alike: "
                f"{shape_str(x.shape)}, {shape_str(dy.shape)}"
            )
        axis = 1 if fmt.startswith("NC") else x.ndim - 1
        c = x.shape[axis]
        for name, v in (("scale", scale), ("reserve_space_1", mean), ("reserve_space_2", var)):
            if v.shape != (c,):
                fail(f"{name} must be 1-dimensional with {c} elements: {shape_str(v.shape)}")
        shape = [1] * x.ndim
        shape[axis] = c
        axes = tuple(i for i in range(x.ndim) if i != axis)
        u = scale.dtype
        xw, dyw = x.astype(np.float32 if x.dtype.itemsize < 4 else x.dtype), upcast(dy)
        with np.errstate(all="ignore"):
            inv = 1 / np.sqrt(var.reshape(shape) + np.asarray(eps, u))
            centered = xw - mean.reshape(shape)
            offset_grad = dyw.sum(axis=axes)
            scale_grad = (dyw * centered).sum(axis=axes) * inv.reshape(-1)
            if training:
                count = max(x.size // max(c, 1), 1)
                mean_dy = (offset_grad / count).reshape(shape)
                mean_dy_xhat = (scale_grad / count).reshape(shape)
                dx = scale.reshape(shape) * inv * (dyw - mean_dy - centered * inv * mean_dy_xhat)
            else:
                dx = dyw * (scale.reshape(shape) * inv)
        empty = np.zeros((0,), dtype=u)
        return [as_dtype(dx, x.dtype), as_dtype(scale_grad, u), as_dtype(offset_grad, u), empty, empty]

    return run


kernel_factory("FusedBatchNormGrad", family="nn", dtypes=("float32",))(lambda node: _batch_norm_grad(node, 1))
kernel_factory("FusedBatchNormGradV2", family="nn", dtypes=FLOATS)(lambda node: _batch_norm_grad(node, 2))
kernel_factory("FusedBatchNormGradV3", family="nn", dtypes=FLOATS)(lambda node: _batch_norm_grad(node, 3))


@kernel_factory("DepthwiseConv2dNativeBackpropFilter", family="nn", dtypes=FLOATS)
def _depthwise_backprop_filter(node: NodeSpec) -> Any:
    geom = ConvGeometry(node, 4, "NHWC")

    def run(ctx: Any, x: np.ndarray, filter_sizes: np.ndarray, dy: np.ndarray) -> np.ndarray:
        kh, kw, c, m = (int(v) for v in np.asarray(filter_sizes).reshape(-1))
        xl = upcast(_to_channels_last(x, geom.fmt))
        dyl = upcast(_to_channels_last(dy, geom.fmt))
        if xl.ndim != 4 or xl.shape[-1] != c:
            fail(f"filter_sizes depth {c} does not match the input {shape_str(x.shape)}")
        outs, pads = geom.resolve(xl.shape[1:3], [kh, kw])
        if list(dyl.shape[1:3]) != outs or dyl.shape[-1] != c * m:
            fail(f"out_backprop shape {shape_str(dy.shape)} does not match the computed output {outs}")
        if xl.shape[0] == 0 or 0 in outs:
            return np.zeros((kh, kw, c, m), dtype=x.dtype)
        win = _windows(_pad_spatial(xl, pads), [kh, kw], geom.strides, geom.dilations, outs)
        grouped = dyl.reshape(*dyl.shape[:3], c, m)
        with np.errstate(all="ignore"):
            out = np.einsum("nhwcij,nhwcm->ijcm", win, grouped, optimize=True)
        return as_dtype(out, x.dtype)

    return run


@kernel_factory("LRNGrad", family="nn", dtypes=("float32", "float16", "bfloat16"))
def _lrn_grad(node: NodeSpec) -> Any:
    radius = int(node.attrs.get("depth_radius", 5))
    bias = float(node.attrs.get("bias", 1.0))
    alpha = float(node.attrs.get("alpha", 1.0))
    beta = float(node.attrs.get("beta", 0.5))

    def window_sum(v: np.ndarray) -> np.ndarray:
        c = v.shape[-1]
        padded = np.pad(v, [(0, 0)] * 3 + [(radius, radius)])
        csum = np.concatenate([np.zeros(v.shape[:-1] + (1,), v.dtype), np.cumsum(padded, axis=-1)], axis=-1)
        return csum[..., 2 * radius + 1 : 2 * radius + 1 + c] - csum[..., :c]

    def run(ctx: Any, dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if dy.ndim != 4 or dy.shape != x.shape or x.shape != y.shape:
            fail(f"LRNGrad inputs must be 4-D and alike: {shape_str(dy.shape)}, {shape_str(x.shape)}")
        g, xw = dy.astype(np.float64), x.astype(np.float64)
        norm = bias + alpha * window_sum(np.square(xw))
        # d y_i / d x_j = [i == j] norm_i^-beta - 2 alpha beta x_i x_j norm_i^(-beta-1), j in window(i)
        with np.errstate(all="ignore"):
            inner = window_sum(g * xw * np.power(norm, -beta - 1))
            dx = g * np.power(norm, -beta) - 2 * alpha * beta * xw * inner
        return as_dtype(dx, dy.dtype)

    return run


# --------------------------------------------------------------------------- CTC


def _logsumexp(*terms: np.ndarray) -> np.ndarray:
    stacked = np.stack(np.broadcast_arrays(*terms))
    top = np.max(stacked, axis=0)
    safe = np.where(np.isfinite(top), top, 0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(stacked - safe), axis=0))


def _ctc_one(
    log_y: np.ndarray, label: list[int], blank: int, merge_repeated: bool
) -> tuple[float, np.ndarray]:
    """-log p(label) and its gradient with respect to the logits, for one sequence [T, classes]."""
    steps = log_y.shape[0]
    ext = [blank] * (2 * len(label) + 1)
    ext[1::2] = label
    size = len(ext)
    symbols = np.asarray(ext)
    # transitions from s - 2: onto a label that is not the one two nodes before (unless repeats
    # are not merged); staying on a label node: only when repeats merge (else each frame is a label)
    stay = np.asarray([merge_repeated or e == blank for e in ext])
    skip = np.zeros(size, dtype=bool)
    for s in range(2, size):
        skip[s] = ext[s] != blank and (not merge_repeated or ext[s] != ext[s - 2])
    neg = -np.inf
    alpha = np.full((steps, size), neg)
    beta = np.full((steps, size), neg)
    alpha[0, 0] = log_y[0, blank]
    if size > 1:
        alpha[0, 1] = log_y[0, ext[1]]
    for t in range(1, steps):
        prev = alpha[t - 1]
        one = np.concatenate([[neg], prev[:-1]])
        two = np.where(skip, np.concatenate([[neg, neg], prev[:-2]]), neg)
        alpha[t] = _logsumexp(np.where(stay, prev, neg), one, two) + log_y[t, symbols]
    beta[-1, -1] = log_y[-1, blank]
    if size > 1:
        beta[-1, -2] = log_y[-1, ext[-2]]
    skip_back = np.concatenate([skip[2:], [False, False]])  # s -> s + 2 allowed when skip[s + 2]
    for t in range(steps - 2, -1, -1):
        nxt = beta[t + 1]
        one = np.concatenate([nxt[1:], [neg]])
        two = np.where(skip_back, np.concatenate([nxt[2:], [neg, neg]]), neg)
        beta[t] = _logsumexp(np.where(stay, nxt, neg), one, two) + log_y[t, symbols]
    log_p = float(_logsumexp(alpha[-1, -1], alpha[-1, -2] if size > 1 else neg))
    occupancy = np.full(log_y.shape, neg)
    both = alpha + beta
    for k in set(ext):
        occupancy[:, k] = _logsumexp(*[both[:, s] for s in range(size) if ext[s] == k])
    with np.errstate(over="ignore", invalid="ignore"):
        grad = np.exp(log_y) - np.exp(occupancy - log_y - log_p)
    return -log_p, grad


@kernel_factory("CTCLoss", family="nn", dtypes=("float32", "float64"))
def _ctc_loss(node: NodeSpec) -> Any:
    collapse = bool(node.attrs.get("preprocess_collapse_repeated", False))
    merge = bool(node.attrs.get("ctc_merge_repeated", True))
    ignore_long = bool(node.attrs.get("ignore_longer_outputs_than_inputs", False))

    def run(
        ctx: Any, inputs: np.ndarray, indices: np.ndarray, values: np.ndarray, seq_len: np.ndarray
    ) -> list[np.ndarray]:
        if inputs.ndim != 3 or seq_len.ndim != 1 or seq_len.shape[0] != inputs.shape[1]:
            fail(
                f"inputs must be [max_time, batch, classes] and sequence_length [batch]: "
                f"{shape_str(inputs.shape)}, {shape_str(seq_len.shape)}"
            )
        steps, batch, classes = inputs.shape
        blank = classes - 1
        labels: list[list[int]] = [[] for _ in range(batch)]
        for (b, _), v in zip(np.asarray(indices).reshape(-1, 2), np.asarray(values).reshape(-1), strict=True):
            if not 0 <= int(b) < batch:
                fail(f"labels batch index {int(b)} is out of range [0, {batch})")
            labels[int(b)].append(int(v))
        loss = np.zeros(batch, dtype=np.float64)
        grad = np.zeros(inputs.shape, dtype=np.float64)
        x = inputs.astype(np.float64)
        for b in range(batch):
            label = labels[b]
            if collapse:
                label = [v for i, v in enumerate(label) if i == 0 or v != label[i - 1]]
            if any(not 0 <= v < blank for v in label):
                fail(f"Saw a label value outside [0, {blank}) (the last class is the blank)")
            length = int(seq_len[b])
            if not 0 <= length <= steps:
                fail(f"sequence_length({b}) = {length} is outside [0, {steps}]")
            repeats = sum(1 for i in range(1, len(label)) if merge and label[i] == label[i - 1])
            if length < len(label) + repeats:
                if ignore_long:
                    continue
                fail(
                    f"Not enough time for target transition sequence (required: {len(label) + repeats}, "
                    f"available: {length}), sequence {b}"
                )
            if length == 0:
                continue
            seq = x[:length, b]
            shifted = seq - seq.max(axis=1, keepdims=True)
            log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss[b], grad[:length, b] = _ctc_one(log_y, label, blank, merge)
        return [loss.astype(inputs.dtype), grad.astype(inputs.dtype)]

    return run


@kernel_factory("CTCGreedyDecoder", family="nn", dtypes=("float32", "float64"))
def _ctc_greedy_decoder(node: NodeSpec) -> Any:
    """best-path CTC decoding (OCR and speech graphs): a SparseTensor of labels and -sum(max logit)"""
    merge_repeated = bool(node.attrs.get("merge_repeated", False))
    blank_attr = int(node.attrs.get("blank_index", -1))

    def run(ctx: Any, inputs: Any, seq_len: Any) -> list[np.ndarray]:
        inputs, seq_len = np.asarray(inputs), np.asarray(seq_len)
        if inputs.ndim != 3:
            fail("inputs is not a 3-Tensor")
        if seq_len.ndim != 1:
            fail("sequence_length is not a vector")
        max_time, batch, classes = inputs.shape
        if seq_len.shape[0] != batch:
            fail(
                "len(sequence_length) != batch_size.  "
                f"len(sequence_length):  {seq_len.shape[0]} batch_size: {batch}"
            )
        blank = classes - 1 if blank_attr < 0 else blank_attr
        indices: list[tuple[int, int]] = []
        values: list[int] = []
        log_prob = np.zeros((batch, 1), dtype=inputs.dtype)
        longest = 0
        for b in range(batch):
            length = int(seq_len[b])
            if length > max_time:
                fail(f"sequence_length({b}) <= {max_time}")
            if length <= 0:
                continue
            rows = inputs[:length, b, :]
            best = np.argmax(rows, axis=1) if classes else np.zeros(length, dtype=np.int64)
            log_prob[b, 0] = -np.sum(rows[np.arange(length), best].astype(inputs.dtype), dtype=inputs.dtype)
            prev = -1
            count = 0
            for label in best.tolist():
                if label != blank and not (merge_repeated and label == prev):
                    indices.append((b, count))
                    values.append(label)
                    count += 1
                prev = label
            longest = max(longest, count)
        return [
            np.asarray(indices, dtype=np.int64).reshape(-1, 2),
            np.asarray(values, dtype=np.int64),
            np.asarray([batch, longest], dtype=np.int64),
            log_prob,
        ]

    return run


# --------------------------------------------------------------------------- fused RNN cells (tf.contrib.rnn)


def _sigmoid32(x: np.ndarray) -> np.ndarray:
    half = x.dtype.type(0.5)
    return half * np.tanh(half * x) + half


def _lstm_step(
    x: np.ndarray,
    cs_prev: np.ndarray,
    h_prev: np.ndarray,
    w: np.ndarray,
    peep: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    b: np.ndarray,
    forget_bias: float,
    cell_clip: float,
    ifco: bool,
    half: bool = False,
) -> list[np.ndarray]:
    """One LSTMBlockCell step (tensorflow/core/kernels/rnn/lstm_ops.h) in float32; for float16 models
    every intermediate is rounded to half, as Eigen's half arithmetic does."""

    def r(v: np.ndarray) -> np.ndarray:
        return v.astype(np.float16).astype(np.float32) if half else v

    cell = cs_prev.shape[1]
    xh = np.concatenate([x, h_prev], axis=1)
    if half:  # Eigen's half contraction on CPU: products and running sums rounded to half
        acc = np.zeros((xh.shape[0], w.shape[1]), dtype=np.float32)
        for k in range(xh.shape[1]):
            acc = r(acc + r(xh[:, k : k + 1] * w[k : k + 1]))
        gates = r(acc + b)
    else:
        gates = xh @ w + b
    if ifco:  # BlockLSTMV2: i, f, c, o
        i, f, ci, o = (gates[:, k * cell : (k + 1) * cell] for k in range(4))
    else:  # i, c, f, o
        i, ci, f, o = (gates[:, k * cell : (k + 1) * cell] for k in range(4))
    if peep is not None:
        i = r(i + r(cs_prev * peep[0]))
    i = r(_sigmoid32(i))
    ci = r(np.tanh(ci))
    f = r(f + np.float32(forget_bias))
    if peep is not None:
        f = r(f + r(cs_prev * peep[1]))
    f = r(_sigmoid32(f))
    cs = r(r(i * ci) + r(f * cs_prev))
    if cell_clip > 0.0:
        cs = np.clip(cs, r(np.float32(-cell_clip)), r(np.float32(cell_clip)))
    co = r(np.tanh(cs))
    if peep is not None:
        o = r(o + r(cs * peep[2]))
    o = r(_sigmoid32(o))
    h = r(o * co)
    return [i, cs, f, o, ci, co, h]


def _lstm_checks(
    op: str, x: np.ndarray, cs_prev: np.ndarray, h_prev: np.ndarray, w: np.ndarray, b: np.ndarray
) -> None:
    batch, input_size = x.shape[-2], x.shape[-1]
    cell = cs_prev.shape[1] if cs_prev.ndim == 2 else -1
    if cs_prev.ndim != 2 or cs_prev.shape[0] != batch:
        fail(f"cs_prev.dims(0) != batch_size: {cs_prev.shape[0] if cs_prev.ndim else 0} vs. {batch}")
    if h_prev.shape != (batch, cell):
        fail(f"h_prev.dims(0) != batch_size: {h_prev.shape[0] if h_prev.ndim else 0} vs. {batch}")
    if w.ndim != 2 or w.shape[0] != input_size + cell:
        fail(
            f"w.dim_size(0) != input_size + cell_size: {w.shape[0] if w.ndim else 0} vs. {input_size + cell}"
        )
    if w.shape[1] != cell * 4:
        fail(f"w.dim_size(1) != cell_size * 4: {w.shape[1]} vs. {cell * 4}")
    if b.ndim != 1 or b.shape[0] != cell * 4:
        fail(f"b.dim_size(0) != cell_size * 4: {b.shape[0] if b.ndim else 0} vs. {cell * 4}")


def _as32(*arrays: Any) -> list[np.ndarray]:
    return [np.asarray(a).astype(np.float32) for a in arrays]


@kernel_factory("LSTMBlockCell", family="nn", dtypes=("float32", "float16"))
def _lstm_block_cell(node: NodeSpec) -> Any:
    """one step of tf.contrib.rnn.LSTMBlockCell: outputs i, cs, f, o, ci, co, h"""
    forget_bias = float(node.attrs.get("forget_bias", 1.0))
    cell_clip = float(node.attrs.get("cell_clip", 3.0))
    peephole = bool(node.attrs.get("use_peephole", False))

    def run(ctx: Any, x: Any, cs_prev: Any, h_prev: Any, w: Any, wci: Any, wcf: Any, wco: Any, b: Any) -> Any:
        dtype = np.asarray(x).dtype
        x, cs_prev, h_prev, w, wci, wcf, wco, b = _as32(x, cs_prev, h_prev, w, wci, wcf, wco, b)
        if x.ndim != 2:
            fail(f"x must be 2D, got {x.ndim}D")
        _lstm_checks("LSTMBlockCell", x, cs_prev, h_prev, w, b)
        peep = (wci, wcf, wco) if peephole else None
        outs = _lstm_step(x, cs_prev, h_prev, w, peep, b, forget_bias, cell_clip, False, dtype == np.float16)
        return [o.astype(dtype) for o in outs]

    return run


def _block_lstm(node: NodeSpec, v2: bool) -> Any:
    forget_bias = 0.0 if v2 else float(node.attrs.get("forget_bias", 1.0))
    cell_clip = float(node.attrs.get("cell_clip", 0.0 if v2 else 3.0))
    peephole = bool(node.attrs.get("use_peephole", False))

    def run(
        ctx: Any,
        seq_len_max: Any,
        x: Any,
        cs_prev: Any,
        h_prev: Any,
        w: Any,
        wci: Any,
        wcf: Any,
        wco: Any,
        b: Any,
    ) -> Any:
        dtype = np.asarray(x).dtype
        steps_max = int(np.asarray(seq_len_max).reshape(-1)[0]) if np.size(seq_len_max) else 0
        x, cs_prev, h_prev, w, wci, wcf, wco, b = _as32(x, cs_prev, h_prev, w, wci, wcf, wco, b)
        if x.ndim != 3:
            fail(f"x must be 3D, got {x.ndim}D")
        _lstm_checks("BlockLSTM", x, cs_prev, h_prev, w, b)
        timelen, batch = x.shape[0], x.shape[1]
        cell = cs_prev.shape[1]
        outs = [np.zeros((timelen, batch, cell), dtype=np.float32) for _ in range(7)]
        peep = (wci, wcf, wco) if peephole else None
        cs, h = cs_prev, h_prev
        for t in range(min(steps_max, timelen)):
            step = _lstm_step(x[t], cs, h, w, peep, b, forget_bias, cell_clip, v2, dtype == np.float16)
            for k in range(7):
                outs[k][t] = step[k]
            cs, h = step[1], step[6]
        return [o.astype(dtype) for o in outs]

    return run


kernel_factory("BlockLSTM", family="nn", dtypes=("float32", "float16"))(lambda node: _block_lstm(node, False))
kernel_factory("BlockLSTMV2", family="nn", dtypes=("float32", "float16"))(
    lambda node: _block_lstm(node, True)
)


@kernel("GRUBlockCell", family="nn", dtypes=("float32",))
def _gru_block_cell(
    ctx: Any, x: Any, h_prev: Any, w_ru: Any, w_c: Any, b_ru: Any, b_c: Any
) -> list[np.ndarray]:
    """one step of tf.contrib.rnn.GRUBlockCell: outputs r, u, c, h"""
    x, h_prev, w_ru, w_c, b_ru, b_c = _as32(x, h_prev, w_ru, w_c, b_ru, b_c)
    if x.ndim != 2 or h_prev.ndim != 2:
        fail("Rank of x and h_prev must be 2")
    batch, input_size = x.shape
    cell = h_prev.shape[1]
    rows = input_size + cell
    if h_prev.shape[0] != batch:
        fail(f"h_prev.dims(0) != batch_size: {h_prev.shape[0]} vs. {batch}")
    if w_ru.shape != (input_size + cell, 2 * cell):
        fail(f"w_ru.dim_size(0) != input_size + cell_size: {w_ru.shape[0] if w_ru.ndim else 0} vs. {rows}")
    if w_c.ndim != 2 or w_c.shape[0] != input_size + cell:
        fail(f"w_c.dim_size(0) != input_size + cell_size: {w_c.shape[0] if w_c.ndim else 0} vs. {rows}")
    if w_c.shape[1] != cell:
        fail(f"w_c.dim_size(1) != cell_size: {w_c.shape[1]} vs. {cell}")
    if b_ru.shape != (2 * cell,):
        fail(f"b_ru.dim_size(0) != cell_size * 2: {b_ru.shape[0] if b_ru.ndim else 0} vs. {2 * cell}")
    if b_c.shape != (cell,):
        fail(f"b_c.dim_size(0) != cell_size: {b_c.shape[0] if b_c.ndim else 0} vs. {cell}")
    r_u = _sigmoid32(np.concatenate([x, h_prev], axis=1) @ w_ru + b_ru)
    r, u = r_u[:, :cell], r_u[:, cell:]
    c = np.tanh(np.concatenate([x, h_prev * r], axis=1) @ w_c + b_c)
    h = u * (h_prev - c) + c
    return [r, u, c, h]


@kernel_factory("NthElement", family="nn", dtypes=("float32", "float64", "int32", "int64", "float16"))
def _nth_element(node: NodeSpec) -> Any:
    """the n-th smallest (reverse: largest) value along the last axis (tf.contrib percentile)"""
    reverse = bool(node.attrs.get("reverse", False))

    def run(ctx: Any, x: Any, n: Any) -> np.ndarray:
        x, n = np.asarray(x), np.asarray(n)
        if n.ndim != 0:
            fail(f"N must be scalar but has rank {n.ndim}")
        k = int(n)
        if k < 0:
            fail(f"N must be non-negative but is {k}")
        if x.ndim < 1:
            fail(f"Input must be >= 1-D but is {x.ndim}-D")
        if k >= x.shape[-1]:
            fail(f"Input must have last dimension > n = {k}")
        index = x.shape[-1] - 1 - k if reverse else k
        return np.partition(x, index, axis=-1)[..., index]

    return run


@kernel_factory("Dilation2D", family="nn", dtypes=("float32", "float64", "float16", "int32", "int64"))
def _dilation2d(node: NodeSpec) -> Any:
    """grayscale morphological dilation: max over the window of input + filter"""
    strides = [int(s) for s in node.attrs.get("strides", [1, 1, 1, 1])]
    rates = [int(r) for r in node.attrs.get("rates", [1, 1, 1, 1])]
    padding = node.attrs.get("padding", b"VALID")
    padding = padding.decode() if isinstance(padding, bytes) else str(padding)

    def run(ctx: Any, x: Any, filt: Any) -> np.ndarray:
        x, filt = np.asarray(x), np.asarray(filt)
        if x.ndim != 4:
            fail(f"input must be 4-dimensional{shape_str(x.shape)}")
        if filt.ndim != 3:
            fail(f"filter must be 3-dimensional: {shape_str(filt.shape)}")
        batch, rows, cols, depth = x.shape
        f_rows, f_cols, f_depth = filt.shape
        if f_depth != depth:
            fail("input and filter must have the same depth")
        sr, sc, rr, rc = strides[1], strides[2], rates[1], rates[2]
        eff_rows, eff_cols = f_rows + (f_rows - 1) * (rr - 1), f_cols + (f_cols - 1) * (rc - 1)
        if padding == "VALID":
            out_rows, out_cols = (rows - eff_rows + sr) // sr, (cols - eff_cols + sc) // sc
            pad_top = pad_left = 0
        else:
            out_rows, out_cols = (rows + sr - 1) // sr, (cols + sc - 1) // sc
            pad_top = max(0, (out_rows - 1) * sr + eff_rows - rows) // 2
            pad_left = max(0, (out_cols - 1) * sc + eff_cols - cols) // 2
        out_rows, out_cols = max(out_rows, 0), max(out_cols, 0)
        lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        out = np.full((batch, out_rows, out_cols, depth), lowest, dtype=x.dtype)
        for dy in range(f_rows):
            for dx in range(f_cols):
                ys = np.arange(out_rows) * sr + dy * rr - pad_top
                xs = np.arange(out_cols) * sc + dx * rc - pad_left
                vy, vx = (ys >= 0) & (ys < rows), (xs >= 0) & (xs < cols)
                if not vy.any() or not vx.any():
                    continue
                window = x[:, ys[vy]][:, :, xs[vx]] + filt[dy, dx]
                region = out[:, np.flatnonzero(vy)][:, :, np.flatnonzero(vx)]
                out[np.ix_(np.arange(batch), np.flatnonzero(vy), np.flatnonzero(vx), np.arange(depth))] = (
                    np.maximum(region, window)
                )
        return out

    return run
