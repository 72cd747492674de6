"""Image ops: resizing, cropping, colour conversion, non-max suppression, PNG/JPEG codecs.

PNG is decoded and encoded with zlib (ops/_png.py), JPEG decoded with simplejpeg (libjpeg-turbo, a dependency:
pixel-exact with TensorFlow's libjpeg-turbo). GIF and BMP decoding and JPEG encoding need Pillow
(the 'image' extra, `pip install 'savedmodel[image]'`); loading a model that uses those ops without
it fails at once, naming the extra.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from savedmodel import policy
from savedmodel.format import dtypes as tfdtypes
from savedmodel.ops._common import as_dtype, fail, int_list, scalar_int, shape_str, to_bytes, upcast
from savedmodel.ops._png import PNG_SIGNATURE, convert_channels, decode_png, encode_png
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory

FAMILY_NOTES = (
    "Resizing uses TensorFlow's exact coordinate rules (align_corners, half_pixel_centers, the "
    "bicubic coefficient table). PNG is decoded and encoded with zlib (ops/_png.py); JPEG is "
    "decoded by simplejpeg's bundled libjpeg-turbo (a dependency, as TensorFlow links it), "
    "pixel-exact with TensorFlow. GIF/BMP decoding, Adam7-interlaced PNGs and JPEG encoding need "
    "Pillow (`pip install 'savedmodel[image]'`): without it a model using DecodeGif, DecodeBmp or "
    "EncodeJpeg is refused at load, naming the extra."
)
# How kernels differ from TensorFlow's (docs/ops.md), for those registered through notes=NOTES.
NOTES: dict[str, str] = {
    "DecodeJpeg": "libjpeg-turbo through simplejpeg: pixel-exact with TensorFlow (IFAST/ISLOW IDCT, "
    "ratio, fancy upscaling, CMYK); try_recover_truncated's fill of truncated files may differ",
    "DecodeImage": "PNG and JPEG built in; GIF/BMP need Pillow (extra 'image')",
    "DecodePng": "built in (zlib, ops/_png.py); Adam7-interlaced PNGs need Pillow (extra 'image')",
    "DecodeGif": "needs Pillow (extra 'image')",
    "DecodeBmp": "needs Pillow (extra 'image')",
    "NonMaxSuppressionV5": "soft-NMS (Gaussian) when soft_nms_sigma > 0",
}

IMAGE_TYPES = (
    "uint8",
    "uint16",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
)


# --------------------------------------------------------------------------- resize helpers


def _resize_args(x: np.ndarray, size: np.ndarray) -> tuple[int, int]:
    if x.ndim != 4:
        fail(f"input must be 4-dimensional: {shape_str(x.shape)}")
    dims = int_list(size, "size")
    if len(dims) != 2:
        fail(f"shape_t must have two elements: {dims}")
    if dims[0] <= 0 or dims[1] <= 0:
        fail(f"output dimensions must be positive: {dims}")
    return dims[0], dims[1]


def _scale(in_size: int, out_size: int, align_corners: bool) -> float:
    if align_corners and out_size > 1:
        return (in_size - 1) / (out_size - 1)
    return in_size / out_size


def _bilinear_coords(
    in_size: int, out_size: int, align: bool, half: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = np.float32(_scale(in_size, out_size, align))
    i = np.arange(out_size, dtype=np.float32)
    pos = (i + np.float32(0.5)) * scale - np.float32(0.5) if half else i * scale
    floor = np.floor(pos)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    return lower, upper, (pos - floor).astype(np.float32)


def _flags(node: NodeSpec) -> tuple[bool, bool]:
    """(align_corners, half_pixel_centers); TF rejects both set only when the op runs."""
    return bool(node.attrs.get("align_corners", False)), bool(node.attrs.get("half_pixel_centers", False))


@kernel_factory("ResizeBilinear", family="image", dtypes=IMAGE_TYPES)
def _resize_bilinear(node: NodeSpec) -> Any:
    align, half = _flags(node)

    def run(ctx: Any, x: np.ndarray, size: np.ndarray) -> np.ndarray:
        oh, ow = _resize_args(x, size)
        if align and half:
            fail("If half_pixel_centers is True, align_corners must be False.")
        img = x.astype(np.float32)
        ylo, yhi, ylerp = _bilinear_coords(x.shape[1], oh, align, half)
        xlo, xhi, xlerp = _bilinear_coords(x.shape[2], ow, align, half)
        if x.shape[1] == 0 or x.shape[2] == 0:
            fail("input image must have non-zero height and width")
        top = img[:, ylo]
        bottom = img[:, yhi]
        xl = xlerp.reshape(1, 1, -1, 1)
        top_v = top[:, :, xlo] + (top[:, :, xhi] - top[:, :, xlo]) * xl
        bot_v = bottom[:, :, xlo] + (bottom[:, :, xhi] - bottom[:, :, xlo]) * xl
        return (top_v + (bot_v - top_v) * ylerp.reshape(1, -1, 1, 1)).astype(np.float32)

    return run


def _nearest_index(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    scale = np.float32(_scale(in_size, out_size, align))
    i = np.arange(out_size, dtype=np.float32)
    pos = (i + np.float32(0.5)) * scale if half else i * scale
    idx = np.floor(pos + np.float32(0.5)) if align else np.floor(pos)  # roundf for positives
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0) if half else idx


@kernel_factory("ResizeNearestNeighbor", family="image", dtypes=IMAGE_TYPES)
def _resize_nearest(node: NodeSpec) -> Any:
    align, half = _flags(node)

    def run(ctx: Any, x: np.ndarray, size: np.ndarray) -> np.ndarray:
        oh, ow = _resize_args(x, size)
        if align and half:
            fail("If half_pixel_centers is True, align_corners must be False.")
        yi = _nearest_index(x.shape[1], oh, align, half)
        xi = _nearest_index(x.shape[2], ow, align, half)
        return np.ascontiguousarray(x[:, yi][:, :, xi])

    return run


def _bilinear_matrix(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    """[out, in]: each output row's interpolation weights over the input (the resize as a matrix)."""
    lower, upper, lerp = _bilinear_coords(in_size, out_size, align, half)
    m = np.zeros((out_size, in_size), dtype=np.float32)
    rows = np.arange(out_size)
    np.add.at(m, (rows, lower), 1 - lerp)
    np.add.at(m, (rows, upper), lerp)
    return m


@kernel_factory("ResizeBilinearGrad", family="image", dtypes=("float32", "float64", "float16", "bfloat16"))
def _resize_bilinear_grad(node: NodeSpec) -> Any:
    align, half = _flags(node)

    def matrix(in_size: int, out_size: int, work: type) -> np.ndarray:
        return _bilinear_matrix(in_size, out_size, align, half).astype(work)

    def run(ctx: Any, grads: np.ndarray, original: np.ndarray) -> np.ndarray:
        return _separable_resize_grad(grads, original, align and half, matrix)

    return run


def _separable_resize_grad(
    grads: np.ndarray, original: np.ndarray, bad_flags: bool, matrix: Callable[[int, int, type], np.ndarray]
) -> np.ndarray:
    """The gradient of a separable resize: `matrix(in, out, work)` holds each output row's weights
    over the input rows; float32 weights (as TensorFlow computes them), summed in float64 for a
    float64 image."""
    if grads.ndim != 4 or original.ndim != 4:
        fail(f"input_grad and original_image must be 4-dimensional: {shape_str(grads.shape)}")
    if bad_flags:
        fail("If half_pixel_centers is True, align_corners must be False.")
    n, h, w, c = original.shape
    if grads.shape[0] != n or grads.shape[3] != c:
        fail(f"grads {shape_str(grads.shape)} and original_image {shape_str(original.shape)} differ")
    work = np.float64 if original.dtype == np.float64 else np.float32
    my, mx = matrix(h, grads.shape[1], work), matrix(w, grads.shape[2], work)
    out = np.einsum("yh,nyxc,xw->nhwc", my, grads.astype(work), mx, optimize=True)
    return as_dtype(out, original.dtype)


@kernel_factory(
    "ResizeNearestNeighborGrad",
    family="image",
    dtypes=("uint8", "int8", "int32", "float16", "bfloat16", "float32", "float64"),
)
def _resize_nearest_grad(node: NodeSpec) -> Any:
    align, half = _flags(node)

    def run(ctx: Any, grads: np.ndarray, size: np.ndarray) -> np.ndarray:
        if grads.ndim != 4:
            fail(f"input must be 4-dimensional: {shape_str(grads.shape)}")
        h, w = _resize_args(grads, size)
        if align and half:
            fail("If half_pixel_centers is True, align_corners must be False.")
        yi = _nearest_index(h, grads.shape[1], align, half)
        xi = _nearest_index(w, grads.shape[2], align, half)
        acc = upcast(grads)
        cols = np.zeros((grads.shape[0], grads.shape[1], w, grads.shape[3]), dtype=acc.dtype)
        np.add.at(cols, (slice(None), slice(None), xi), acc)
        out = np.zeros((grads.shape[0], h, w, grads.shape[3]), dtype=acc.dtype)
        np.add.at(out, (slice(None), yi), cols)
        return as_dtype(out, grads.dtype)

    return run


_TABLE_SIZE = 1024


def _cubic_table(a: float) -> np.ndarray:
    x = np.arange(_TABLE_SIZE + 1, dtype=np.float64) / _TABLE_SIZE
    t0 = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = x + 1
    t1 = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return np.stack([t0, t1], axis=1).astype(np.float32)


_CUBIC = {True: _cubic_table(-0.5), False: _cubic_table(-0.75)}


def _cubic_weights(in_size: int, out_size: int, align: bool, half: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices [out, 4] and weights [out, 4] of bicubic resampling, with TensorFlow's coefficient
    table (Keys a=-0.5 with half-pixel centers, a=-0.75 otherwise)."""
    scale = np.float32(_scale(in_size, out_size, align))
    table = _CUBIC[half]
    idx = np.zeros((out_size, 4), dtype=np.int64)
    w = np.zeros((out_size, 4), dtype=np.float32)
    for o in range(out_size):
        loc = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5) if half else np.float32(o) * scale
        base = int(np.floor(loc))
        delta = np.float32(loc - np.float32(base))
        off = int(np.rint(np.float32(delta * _TABLE_SIZE)))
        raw = [table[off, 1], table[off, 0], table[_TABLE_SIZE - off, 0], table[_TABLE_SIZE - off, 1]]
        for k in range(4):
            want = base - 1 + k
            got = min(max(want, 0), in_size - 1)
            idx[o, k] = got
            w[o, k] = raw[k] if (not half or got == want) else np.float32(0)
        if half:
            total = np.float32(w[o].sum(dtype=np.float32))
            if abs(total) >= 1000 * np.finfo(np.float32).tiny:
                w[o] = w[o] * (np.float32(1) / total)
    return idx, w


@kernel_factory("ResizeBicubic", family="image", dtypes=IMAGE_TYPES)
def _resize_bicubic(node: NodeSpec) -> Any:
    align, half = _flags(node)

    def run(ctx: Any, x: np.ndarray, size: np.ndarray) -> np.ndarray:
        oh, ow = _resize_args(x, size)
        if align and half:
            fail("If half_pixel_centers is True, align_corners must be False.")
        img = x.astype(np.float32)
        yi, yw = _cubic_weights(x.shape[1], oh, align, half)
        xi, xw = _cubic_weights(x.shape[2], ow, align, half)
        # TensorFlow interpolates along y first, then x, summing the 4 taps in order (float32)
        cols = yw[None, :, 0, None, None] * img[:, yi[:, 0]]
        for k in range(1, 4):
            cols = cols + yw[None, :, k, None, None] * img[:, yi[:, k]]
        out = xw[None, None, :, 0, None] * cols[:, :, xi[:, 0]]
        for k in range(1, 4):
            out = out + xw[None, None, :, k, None] * cols[:, :, xi[:, k]]
        return out.astype(np.float32)

    return run


@kernel_factory("ResizeBicubicGrad", family="image", dtypes=("float32", "float64"))
def _resize_bicubic_grad(node: NodeSpec) -> Any:
    align, half = _flags(node)

    def matrix(in_size: int, out_size: int, work: type) -> np.ndarray:
        idx, weights = _cubic_weights(in_size, out_size, align, half)
        m = np.zeros((out_size, in_size), dtype=work)
        np.add.at(m, (np.arange(out_size)[:, None], idx), weights.astype(work))
        return m

    def run(ctx: Any, grads: np.ndarray, original: np.ndarray) -> np.ndarray:
        return _separable_resize_grad(grads, original, align and half, matrix)

    return run


@kernel_factory(
    "ResizeArea",
    family="image",
    dtypes=IMAGE_TYPES,
    notes="float64 box filter; matches TensorFlow to float32 rounding",
)
def _resize_area(node: NodeSpec) -> Any:
    align = bool(node.attrs.get("align_corners", False))

    def weights(in_size: int, out_size: int) -> np.ndarray:
        scale = _scale(in_size, out_size, align)
        m = np.zeros((out_size, in_size), dtype=np.float64)
        for o in range(out_size):
            start, end = o * scale, (o + 1) * scale
            for i in range(int(np.floor(start)), min(int(np.ceil(end)), in_size + 1)):
                lo, hi = max(start, i), min(end, i + 1)
                if hi > lo:
                    m[o, min(i, in_size - 1)] += hi - lo
        return m / scale

    def run(ctx: Any, x: np.ndarray, size: np.ndarray) -> np.ndarray:
        oh, ow = _resize_args(x, size)
        wy, wx = weights(x.shape[1], oh), weights(x.shape[2], ow)
        out = np.einsum("oh,nhwc,pw->nopc", wy, x.astype(np.float64), wx)
        return out.astype(np.float32)

    return run


# --------------------------------------------------------------------------- scale and translate

_PI = np.float32(3.14159265359)


def _lanczos(radius: float) -> Any:
    r = np.float32(radius)

    def k(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        with np.errstate(all="ignore"):
            v = r * np.sin(_PI * x) * np.sin(_PI * x / r) / (_PI * _PI * x * x)
        return np.where(x > r, 0, np.where(x <= 1e-3, 1, v)).astype(np.float32)

    return k


def _gaussian(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    sigma = np.float32(1.5 / 3.0)
    return np.where(x >= 1.5, 0, np.exp(-x * x / (np.float32(2.0) * sigma * sigma))).astype(np.float32)


def _box(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 0.5, 1, np.where(x == 0.5, 0.5, 0)).astype(np.float32)


def _triangle(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1, 1 - x, 0).astype(np.float32)


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    x = np.abs(x).astype(np.float32)
    far = ((np.float32(-0.5) * x + np.float32(2.5)) * x - np.float32(4.0)) * x + np.float32(2.0)
    near = ((np.float32(1.5) * x - np.float32(2.5)) * x) * x + np.float32(1.0)
    return np.where(x >= 2, 0, np.where(x >= 1, far, near)).astype(np.float32)


def _mitchell_cubic(x: np.ndarray) -> np.ndarray:
    x = np.abs(x).astype(np.float32)
    far = ((np.float32(-7.0 / 18.0) * x + np.float32(2.0)) * x - np.float32(10.0 / 3.0)) * x + np.float32(
        16.0 / 9.0
    )
    near = ((np.float32(7.0 / 6.0) * x - np.float32(2.0)) * x) * x + np.float32(8.0 / 9.0)
    return np.where(x >= 2, 0, np.where(x >= 1, far, near)).astype(np.float32)


_SAMPLING_KERNELS: dict[str, tuple[Any, float]] = {
    "lanczos1": (_lanczos(1), 1.0),
    "lanczos3": (_lanczos(3), 3.0),
    "lanczos5": (_lanczos(5), 5.0),
    "gaussian": (_gaussian, 1.5),
    "box": (_box, 0.5),
    "triangle": (_triangle, 1.0),
    "keyscubic": (_keys_cubic, 2.0),
    "mitchellcubic": (_mitchell_cubic, 2.0),
}


def _spans(
    kernel: Any, radius: float, out_size: int, in_size: int, scale: float, translate: float, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel: the first input index and the normalized weights of its span."""
    inv_scale = np.float32(1.0) / np.float32(scale)
    inv_translate = -inv_scale * np.float32(translate)
    kernel_scale = max(inv_scale, np.float32(1.0)) if antialias else np.float32(1.0)
    one_over = np.float32(1.0) / kernel_scale
    span = min(2 * int(np.ceil(np.float32(radius) * kernel_scale)) + 1, in_size)
    starts = np.zeros(out_size, dtype=np.int64)
    weights = np.zeros((out_size, span), dtype=np.float32)
    for x in range(out_size):
        sample = np.float32(np.float32(x) + np.float32(0.5)) * inv_scale + inv_translate
        if sample < 0 or sample > in_size:
            continue
        lo = int(np.ceil(sample - np.float32(radius) * kernel_scale - np.float32(0.5)))
        hi = int(np.floor(sample + np.float32(radius) * kernel_scale - np.float32(0.5)))
        lo = min(max(lo, 0), in_size - 1)
        hi = min(max(hi, 0), in_size - 1) + 1
        src = np.arange(lo, hi, dtype=np.float32)
        w = kernel(np.abs((src + np.float32(0.5) - sample) * one_over))
        total = np.float32(0)
        for v in w:
            total = np.float32(total + v)
        if abs(total) >= 1000 * np.finfo(np.float32).tiny:
            w = (w * (np.float32(1.0) / total)).astype(np.float32)
        starts[x] = lo
        weights[x, : hi - lo] = w[:span]
    return starts, weights


def _gather_spans(img: np.ndarray, starts: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Weighted sums over each span along `axis` (1: height, 2: width), accumulated in order."""
    in_size = img.shape[axis]
    out = None
    for k in range(weights.shape[1]):
        idx = np.minimum(starts + k, in_size - 1)
        taken = np.take(img, idx, axis=axis)
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        term = weights[:, k].reshape(shape) * taken
        out = term if out is None else out + term
    return out.astype(np.float32)


@kernel_factory("ScaleAndTranslate", family="image", dtypes=IMAGE_TYPES)
def _scale_and_translate(node: NodeSpec) -> Any:
    kind = node.attrs.get("kernel_type", b"lanczos3")
    kind = kind.decode() if isinstance(kind, bytes) else kind
    antialias = bool(node.attrs.get("antialias", True))

    def run(
        ctx: Any, images: np.ndarray, size: np.ndarray, scale: np.ndarray, translation: np.ndarray
    ) -> np.ndarray:
        if kind not in _SAMPLING_KERNELS:
            fail(f"Unrecognized kernel type: {kind}")
        oh, ow = _resize_args(images, size)
        sy, sx = (float(v) for v in np.asarray(scale).reshape(-1)[:2])
        ty, tx = (float(v) for v in np.asarray(translation).reshape(-1)[:2])
        if sy <= 0 or sx <= 0:
            fail("Scale must be greater than zero.")
        fn, radius = _SAMPLING_KERNELS[kind]
        img = images.astype(np.float32)
        rs, rw = _spans(fn, radius, oh, images.shape[1], sy, ty, antialias)
        cs, cw = _spans(fn, radius, ow, images.shape[2], sx, tx, antialias)
        rows = _gather_spans(img, rs, rw, 1)
        return _gather_spans(rows, cs, cw, 2)

    return run


# --------------------------------------------------------------------------- crop and resize


@kernel_factory("CropAndResize", family="image", dtypes=IMAGE_TYPES)
def _crop_and_resize(node: NodeSpec) -> Any:
    method = node.attrs.get("method", b"bilinear")
    method = method.decode() if isinstance(method, bytes) else method
    extrapolation = np.float32(node.attrs.get("extrapolation_value", 0.0))

    def run(
        ctx: Any, image: np.ndarray, boxes: np.ndarray, box_ind: np.ndarray, crop_size: np.ndarray
    ) -> np.ndarray:
        if image.ndim != 4:
            fail(f"input image must be 4-D: {shape_str(image.shape)}")
        n, h, w, c = image.shape
        ch, cw = int_list(crop_size, "crop_size")
        if ch <= 0 or cw <= 0:
            fail("crop dimensions must be positive")
        if boxes.ndim != 2 or boxes.shape[1] != 4 or box_ind.shape != (boxes.shape[0],):
            fail(
                f"boxes must be [num_boxes, 4] and box_index [num_boxes]: {shape_str(boxes.shape)}, "
                f"{shape_str(box_ind.shape)}"
            )
        if box_ind.size and (box_ind.min() < 0 or box_ind.max() >= n):
            fail("box_index has values outside [0, batch_size)")
        img = image.astype(np.float32)
        out = np.full((boxes.shape[0], ch, cw, c), extrapolation, dtype=np.float32)
        for b in range(boxes.shape[0]):
            y1, x1, y2, x2 = (np.float32(v) for v in boxes[b])
            src = img[int(box_ind[b])]
            ys = _crop_coords(y1, y2, h, ch)
            xs = _crop_coords(x1, x2, w, cw)
            for yy, iy in enumerate(ys):
                if iy < 0 or iy > h - 1:
                    continue
                for xx, ix in enumerate(xs):
                    if ix < 0 or ix > w - 1:
                        continue
                    if method == "nearest":
                        out[b, yy, xx] = src[
                            int(np.floor(iy + np.float32(0.5))), int(np.floor(ix + np.float32(0.5)))
                        ]
                        continue
                    top, bot = int(np.floor(iy)), int(np.ceil(iy))
                    left, right = int(np.floor(ix)), int(np.ceil(ix))
                    yl, xl = np.float32(iy - top), np.float32(ix - left)
                    tl, tr, bl, br = src[top, left], src[top, right], src[bot, left], src[bot, right]
                    t = tl + (tr - tl) * xl
                    bo = bl + (br - bl) * xl
                    out[b, yy, xx] = t + (bo - t) * yl
        return out

    return run


def _check_crop_args(grads: np.ndarray, boxes: np.ndarray, box_ind: np.ndarray, batch: int) -> None:
    if grads.ndim != 4 or boxes.ndim != 2 or boxes.shape[1] != 4 or box_ind.shape != (boxes.shape[0],):
        fail(
            f"grads must be 4-D, boxes [num_boxes, 4] and box_index [num_boxes]: {shape_str(grads.shape)}, "
            f"{shape_str(boxes.shape)}, {shape_str(box_ind.shape)}"
        )
    if grads.shape[0] != boxes.shape[0]:
        fail(f"boxes and grads have incompatible shapes: {shape_str(boxes.shape)}, {shape_str(grads.shape)}")
    if box_ind.size and (box_ind.min() < 0 or box_ind.max() >= batch):
        fail("box_index has values outside [0, batch_size)")


def _crop_points(box: np.ndarray, h: int, w: int, ch: int, cw: int) -> Any:
    """Each crop pixel inside the image: (yy, xx, top, bottom, left, right, y_lerp, x_lerp, iy, ix)."""
    y1, x1, y2, x2 = (np.float32(v) for v in box)
    for yy, iy in enumerate(_crop_coords(y1, y2, h, ch)):
        if iy < 0 or iy > h - 1:
            continue
        for xx, ix in enumerate(_crop_coords(x1, x2, w, cw)):
            if ix < 0 or ix > w - 1:
                continue
            top, left = int(np.floor(iy)), int(np.floor(ix))
            yield yy, xx, top, int(np.ceil(iy)), left, int(np.ceil(ix)), iy - top, ix - left, iy, ix


@kernel_factory("CropAndResizeGradImage", family="image", dtypes=("float32", "float64", "float16"))
def _crop_and_resize_grad_image(node: NodeSpec) -> Any:
    method = node.attrs.get("method", b"bilinear")
    nearest = (method.decode() if isinstance(method, bytes) else method) == "nearest"
    dtype = node.attrs.dtype("T") if "T" in node.attrs else np.dtype(np.float32)

    def run(
        ctx: Any, grads: np.ndarray, boxes: np.ndarray, box_ind: np.ndarray, size: np.ndarray
    ) -> np.ndarray:
        n, h, w, c = int_list(size, "image_size")
        _check_crop_args(grads, boxes, box_ind, n)
        ch, cw = grads.shape[1:3]
        # TensorFlow's order: float32 products (grads are float32), each cast to T, summed in T.
        out = np.zeros((n, h, w, c), dtype=dtype)
        g = grads.astype(np.float32)
        one = np.float32(1)
        for b in range(boxes.shape[0]):
            img = out[int(box_ind[b])]
            for yy, xx, top, bot, left, right, yl, xl, iy, ix in _crop_points(boxes[b], h, w, ch, cw):
                d = g[b, yy, xx]
                if nearest:
                    img[int(np.floor(iy + np.float32(0.5))), int(np.floor(ix + np.float32(0.5)))] += d.astype(
                        dtype
                    )
                    continue
                dtop, dbottom = (one - yl) * d, yl * d
                img[top, left] += ((one - xl) * dtop).astype(dtype)
                img[top, right] += (xl * dtop).astype(dtype)
                img[bot, left] += ((one - xl) * dbottom).astype(dtype)
                img[bot, right] += (xl * dbottom).astype(dtype)
        return as_dtype(out, dtype)

    return run


@kernel("CropAndResizeGradBoxes", family="image", dtypes=("float32",))
def _crop_and_resize_grad_boxes(
    ctx: Any, grads: np.ndarray, image: np.ndarray, boxes: np.ndarray, box_ind: np.ndarray
) -> np.ndarray:
    """d loss / d (y1, x1, y2, x2) of a bilinear crop: the image's slope at each sample point times
    how far that point moves with each box coordinate."""
    if image.ndim != 4:
        fail(f"input image must be 4-D: {shape_str(image.shape)}")
    n, h, w, _ = image.shape
    _check_crop_args(grads, boxes, box_ind, n)
    ch, cw = grads.shape[1:3]
    out = np.zeros(boxes.shape, dtype=np.float64)
    g = grads.astype(np.float64)
    for b in range(boxes.shape[0]):
        src = image[int(box_ind[b])].astype(np.float64)
        for yy, xx, top, bot, left, right, yl, xl, _, _ in _crop_points(boxes[b], h, w, ch, cw):
            yl, xl = float(yl), float(xl)
            tl, tr, bl, br = src[top, left], src[top, right], src[bot, left], src[bot, right]
            slope_y = float(np.sum(g[b, yy, xx] * ((1 - xl) * (bl - tl) + xl * (br - tr))))
            slope_x = float(np.sum(g[b, yy, xx] * ((1 - yl) * (tr - tl) + yl * (br - bl))))
            if ch > 1:
                out[b, 0] += slope_y * ((h - 1) - yy * (h - 1) / (ch - 1))
                out[b, 2] += slope_y * (yy * (h - 1) / (ch - 1))
            else:
                out[b, 0] += slope_y * 0.5 * (h - 1)
                out[b, 2] += slope_y * 0.5 * (h - 1)
            if cw > 1:
                out[b, 1] += slope_x * ((w - 1) - xx * (w - 1) / (cw - 1))
                out[b, 3] += slope_x * (xx * (w - 1) / (cw - 1))
            else:
                out[b, 1] += slope_x * 0.5 * (w - 1)
                out[b, 3] += slope_x * 0.5 * (w - 1)
    return out.astype(np.float32)


def _crop_coords(a: np.float32, b: np.float32, size: int, n: int) -> list[np.float32]:
    if n > 1:
        scale = np.float32((b - a) * np.float32(size - 1) / np.float32(n - 1))
        return [np.float32(a * np.float32(size - 1) + np.float32(i) * scale) for i in range(n)]
    return [np.float32(np.float32(0.5) * (a + b) * np.float32(size - 1))]


# --------------------------------------------------------------------------- colour


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = np.max(rgb, axis=-1)
    mn = np.min(rgb, axis=-1)
    rng = v - mn
    with np.errstate(all="ignore"):
        s = np.where(v > 0, rng / v, 0)
        norm = np.where(rng > 0, 1 / (6 * rng), 0)
        h = np.where(r == v, norm * (g - b), np.where(g == v, norm * (b - r) + 2 / 6, norm * (r - g) + 4 / 6))
        h = np.where(rng > 0, h, 0)
        h = np.where(h < 0, h + 1, h)
    return np.stack([h, s, v], axis=-1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    c = s * v
    m = v - c
    dh = h * 6
    fmodu = np.fmod(dh, 2)
    x = c * (1 - np.abs(fmodu - 1))
    hcat = np.floor(dh).astype(np.int64)
    zeros = np.zeros_like(c)
    r = np.select(
        [hcat == 0, hcat == 1, hcat == 2, hcat == 3, hcat == 4, hcat == 5, hcat == 6],
        [c, x, zeros, zeros, x, c, c],
        zeros,
    )
    g = np.select(
        [hcat == 0, hcat == 1, hcat == 2, hcat == 3, hcat == 4, hcat == 5, hcat == 6],
        [x, c, c, x, zeros, zeros, x],
        zeros,
    )
    b = np.select(
        [hcat == 0, hcat == 1, hcat == 2, hcat == 3, hcat == 4, hcat == 5, hcat == 6],
        [zeros, zeros, x, c, c, x, zeros],
        zeros,
    )
    return np.stack([r + m, g + m, b + m], axis=-1)


def _check_rgb(x: np.ndarray) -> None:
    if x.ndim < 1 or x.shape[-1] != 3:
        fail(f"input must have 3 channels but input only has {x.shape[-1] if x.ndim else 0} channels.")


@kernel("RGBToHSV", family="image", dtypes=("float32", "float64", "float16", "bfloat16"))
def _rgb_to_hsv(ctx: Any, x: np.ndarray) -> np.ndarray:
    _check_rgb(x)
    return as_dtype(rgb_to_hsv(upcast(x)), x.dtype)


@kernel("HSVToRGB", family="image", dtypes=("float32", "float64", "float16", "bfloat16"))
def _hsv_to_rgb(ctx: Any, x: np.ndarray) -> np.ndarray:
    _check_rgb(x)
    return as_dtype(hsv_to_rgb(upcast(x)), x.dtype)


@kernel("AdjustContrastv2", family="image", dtypes=("float32", "float16"))
def _adjust_contrast(ctx: Any, images: np.ndarray, factor: np.ndarray) -> np.ndarray:
    if images.ndim < 3:
        fail(f"input must be at least 3-D: {shape_str(images.shape)}")
    x = upcast(images)
    mean = x.mean(axis=(-3, -2), keepdims=True, dtype=np.float32)
    return as_dtype((x - mean) * np.float32(factor) + mean, images.dtype)


@kernel("AdjustSaturation", family="image", dtypes=("float32", "float16"))
def _adjust_saturation(ctx: Any, images: np.ndarray, scale: np.ndarray) -> np.ndarray:
    _check_rgb(images)
    hsv = rgb_to_hsv(upcast(images))
    hsv[..., 1] = np.clip(hsv[..., 1] * np.float32(scale), 0, 1)
    return as_dtype(hsv_to_rgb(hsv), images.dtype)


@kernel("AdjustHue", family="image", dtypes=("float32", "float16"))
def _adjust_hue(ctx: Any, images: np.ndarray, delta: np.ndarray) -> np.ndarray:
    _check_rgb(images)
    hsv = rgb_to_hsv(upcast(images))
    h = np.fmod(hsv[..., 0] + np.float32(delta), 1)
    hsv[..., 0] = np.where(h < 0, h + 1, h)
    return as_dtype(hsv_to_rgb(hsv), images.dtype)


# --------------------------------------------------------------------------- non-max suppression


def _iou(boxes: np.ndarray, i: int, j: int) -> float:
    a, b = boxes[i], boxes[j]
    ay1, ay2 = min(a[0], a[2]), max(a[0], a[2])
    ax1, ax2 = min(a[1], a[3]), max(a[1], a[3])
    by1, by2 = min(b[0], b[2]), max(b[0], b[2])
    bx1, bx2 = min(b[1], b[3]), max(b[1], b[3])
    area_a = (ay2 - ay1) * (ax2 - ax1)
    area_b = (by2 - by1) * (bx2 - bx1)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    iy = max(min(ay2, by2) - max(ay1, by1), 0.0)
    ix = max(min(ax2, bx2) - max(ax1, bx1), 0.0)
    inter = iy * ix
    return float(inter / (area_a + area_b - inter))


def non_max_suppression(
    boxes: np.ndarray,
    scores: np.ndarray,
    max_out: int,
    iou_threshold: float,
    score_threshold: float,
    sigma: float = 0.0,
) -> tuple[list[int], list[float]]:
    """Greedy (optionally soft, Gaussian) NMS in TensorFlow's order: highest score first, ties to the
    lower box index."""
    import heapq

    if boxes.ndim != 2 or boxes.shape[1] != 4:
        fail(f"boxes must be 2-D with 4 columns: {shape_str(boxes.shape)}")
    if scores.shape != (boxes.shape[0],):
        fail(f"scores has incompatible shape {shape_str(scores.shape)}")
    if max_out < 0:
        fail(f"max_output_size must be non-negative: {max_out}")
    if not 0 <= iou_threshold <= 1:
        fail("iou_threshold must be in [0, 1]")
    if sigma < 0:
        fail("soft_nms_sigma must be non-negative")
    scale = -0.5 / sigma if sigma > 0 else 0.0
    if sigma > 0:  # soft-NMS decays scores instead of suppressing by threshold
        iou_threshold = 1.0
    b64 = boxes.astype(np.float32)
    heap = [(-float(np.float32(s)), i, 0) for i, s in enumerate(scores) if float(s) > score_threshold]
    heapq.heapify(heap)
    selected: list[int] = []
    selected_scores: list[float] = []
    while heap and len(selected) < max_out:
        neg, idx, begin = heapq.heappop(heap)
        score = original = -neg
        hard = False
        for j in range(len(selected) - 1, begin - 1, -1):
            sim = _iou(b64, idx, selected[j])
            weight = float(np.float32(np.exp(np.float32(scale * sim * sim)))) if sim <= iou_threshold else 0.0
            score = float(np.float32(score * weight))
            if sigma <= 0 and sim > iou_threshold:
                hard = True
                break
            if score <= score_threshold:
                break
        if hard:
            continue
        if score == original:
            selected.append(idx)
            selected_scores.append(score)
        elif score > score_threshold:
            heapq.heappush(heap, (-score, idx, len(selected)))
    return selected, selected_scores


def _nms_kernel(op: str) -> None:
    @kernel_factory(op, family="image", dtypes=("float32", "float16"), notes=NOTES)
    def prepare(node: NodeSpec) -> Any:
        pad = bool(node.attrs.get("pad_to_max_output_size", False))

        def run(
            ctx: Any,
            boxes: np.ndarray,
            scores: np.ndarray,
            max_output: np.ndarray,
            iou: np.ndarray,
            *rest: np.ndarray,
        ) -> Any:
            score_thr = float(rest[0]) if rest else float("-inf")
            sigma = float(rest[1]) if len(rest) > 1 else 0.0
            max_out = scalar_int(max_output, "max_output_size")
            sel, sc = non_max_suppression(
                upcast(boxes), upcast(scores), max_out, float(iou), score_thr, sigma
            )
            valid = len(sel)
            if pad and op != "NonMaxSuppressionV3":
                sel = sel + [0] * (max_out - valid)
                sc = sc + [0.0] * (max_out - valid)
            indices = np.array(sel, dtype=np.int32)
            if op == "NonMaxSuppressionV3" or op == "NonMaxSuppressionV2" or op == "NonMaxSuppression":
                return indices
            if op == "NonMaxSuppressionV4":
                return [indices, np.array(valid, dtype=np.int32)]
            return [indices, np.array(sc, dtype=scores.dtype), np.array(valid, dtype=np.int32)]

        return run


for _op in ("NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5"):
    _nms_kernel(_op)


@kernel_factory("NonMaxSuppression", family="image", dtypes=("float32",))
def _nms_v1(node: NodeSpec) -> Any:
    """tf.image.non_max_suppression of TF 1.0/1.1 graphs: the IoU threshold is an attr"""
    iou = float(node.attrs.get("iou_threshold", 0.5))

    def run(ctx: Any, boxes: np.ndarray, scores: np.ndarray, max_output: np.ndarray) -> np.ndarray:
        max_out = scalar_int(max_output, "max_output_size")
        sel, _ = non_max_suppression(upcast(boxes), upcast(scores), max_out, iou, float("-inf"), 0.0)
        return np.array(sel, dtype=np.int32)

    return run


# --------------------------------------------------------------------------- Pillow-backed codecs


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        fail("decoding/encoding this image format needs Pillow: pip install 'savedmodel[image]'")
    return Image


def _decode_interlaced_png(data: bytes, channels: int, dtype: np.dtype) -> np.ndarray:
    return _decode_with_pillow(data, channels, dtype, "PNG")


def _decode_with_pillow(data: bytes, channels: int, dtype: np.dtype, fmt: str) -> np.ndarray:
    image_mod = _pillow()
    try:
        img = image_mod.open(io.BytesIO(data))  # reads the header only
    except Exception as exc:  # Pillow raises many types for corrupt data
        fail(f"Invalid {fmt} data or unsupported format: {exc}")
    policy.check_image_pixels(img.size[1], img.size[0], channels, f"Decode{fmt.title()}")
    try:
        if channels == 1 and fmt == "JPEG":
            img.draft("L", img.size)  # the decoder's own luma, as libjpeg gives TensorFlow
        img.load()
    except Exception as exc:  # Pillow raises many types for corrupt data
        fail(f"Invalid {fmt} data or unsupported format: {exc}")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        mode = (
            "RGB"
            if img.mode not in ("L", "LA", "RGBA", "P")
            else (
                "L"
                if img.mode == "L"
                else "RGBA"
                if img.mode in ("RGBA", "LA", "P")
                and "transparency" in img.info
                or img.mode in ("RGBA", "LA")
                else "RGB"
            )
        )
    arr = np.asarray(img.convert(mode))
    if arr.ndim == 2:
        arr = arr[..., None]
    return convert_channels(arr, 0, dtype)


def _image_format(data: bytes) -> str:
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    return "unknown"


_JPEG_COLORSPACES = ("Gray", "YCbCr", "RGB", "CMYK", "YCCK")


def _simplejpeg() -> Any | None:
    try:
        import simplejpeg
    except ImportError:  # a dependency of savedmodel; absent only in a partial install
        return None
    return simplejpeg


def _has_adobe_marker(data: bytes) -> bool:
    """Whether the JPEG has an Adobe APP14 segment before its first scan (libjpeg's
    saw_Adobe_marker), which says CMYK samples are stored inverted."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan, end of image
            return False
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xEE and length >= 14 and data[pos + 4 : pos + 9] == b"Adobe":
            return True
        pos += 2 + length
    return False


def _cmyk_to_rgb(cmyk: np.ndarray, adobe: bool) -> np.ndarray:
    """TensorFlow's CMYK -> RGB (integer arithmetic; Adobe files store inverted samples)."""
    c, m, y, k = (cmyk[..., i].astype(np.int32) for i in range(4))
    if adobe:
        rgb = [k * c // 255, k * m // 255, k * y // 255]
    else:
        rgb = [(255 - k) * (255 - c) // 255, (255 - k) * (255 - m) // 255, (255 - k) * (255 - y) // 255]
    return np.stack(rgb, axis=-1).astype(np.uint8)


class JpegOptions:
    """DecodeJpeg's attrs, decoded once: dct_method ("" and INTEGER_FAST: libjpeg's fast integer
    IDCT, TensorFlow's default; INTEGER_ACCURATE: the accurate one), ratio (1, 2, 4, 8),
    fancy_upscaling, try_recover_truncated."""

    def __init__(self, node: NodeSpec | None = None) -> None:
        get = node.attrs.get if node is not None else (lambda name, default=None: default)
        method = get("dct_method", b"")
        method = method.decode() if isinstance(method, bytes) else str(method)
        self.fast = method != "INTEGER_ACCURATE"
        self.ratio = int(get("ratio", 1))
        self.fancy = bool(get("fancy_upscaling", True))
        self.recover = bool(get("try_recover_truncated", False))


def _jpeg_invalid(data: bytes) -> NoReturn:
    fail(f"Invalid JPEG data or crop window, data size {len(data)}")


def _simplejpeg_decode(
    sj: Any, data: bytes, colorspace: str, size: tuple[int, int], opts: JpegOptions
) -> Any:
    """libjpeg-turbo's decode: strict first; libjpeg warnings (extraneous bytes...) do not stop
    TensorFlow, so a strict failure is retried leniently, except for truncated data, which
    TensorFlow refuses unless try_recover_truncated."""
    kwargs: dict[str, Any] = {"fastdct": opts.fast, "fastupsample": not opts.fancy}
    if opts.ratio > 1:  # libjpeg's 1/ratio scaling: the smallest output at least ceil(size / ratio)
        kwargs.update(min_height=-(-size[0] // opts.ratio), min_width=-(-size[1] // opts.ratio))
        kwargs["min_factor"] = opts.ratio
    try:
        return sj.decode_jpeg(data, colorspace, strict=True, **kwargs)
    except ValueError as exc:
        if "Premature end" in str(exc) and not opts.recover:
            _jpeg_invalid(data)
    try:
        return sj.decode_jpeg(data, colorspace, strict=False, **kwargs)
    except Exception:  # damaged beyond libjpeg's recovery
        _jpeg_invalid(data)


def decode_jpeg(
    data: bytes,
    channels: int,
    dtype: np.dtype,
    opts: JpegOptions,
    crop: tuple[int, int, int, int] | None = None,
    what: str = "DecodeJpeg",
) -> np.ndarray:
    """TensorFlow's JPEG decode through simplejpeg (libjpeg-turbo, as TensorFlow links): the same
    IDCT, upsampling and scaling, so pixel-exact; CMYK/YCCK files converted as TensorFlow does.
    crop: (y, x, height, width) of the decoded (scaled) image, DecodeAndCropJpeg's window."""
    if channels not in (0, 1, 3):
        fail(f"JPEG does not support {channels} channels")
    if opts.ratio not in (1, 2, 4, 8):
        _jpeg_invalid(data)
    sj = _simplejpeg()
    if sj is None:
        if crop is None and importlib.util.find_spec("PIL") is not None:
            return _decode_with_pillow(data, channels, dtype, "JPEG")
        fail("decoding JPEG needs simplejpeg, a dependency of savedmodel: pip install simplejpeg")
    try:
        height, width, colorspace, _ = sj.decode_jpeg_header(data)
    except Exception:  # not a JPEG libjpeg can read
        _jpeg_invalid(data)
    if colorspace not in _JPEG_COLORSPACES:
        _jpeg_invalid(data)
    cmyk = colorspace in ("CMYK", "YCCK")
    channels = channels or (1 if colorspace == "Gray" else 3)
    policy.check_image_pixels(height, width, channels, what)
    target = "GRAY" if channels == 1 else ("CMYK" if cmyk else "RGB")
    arr = np.asarray(_simplejpeg_decode(sj, data, target, (height, width), opts))
    if cmyk and channels == 3:
        arr = _cmyk_to_rgb(arr, _has_adobe_marker(data))
    if arr.ndim == 2:
        arr = arr[..., None]
    if crop is not None:
        y, x, h, w = crop
        if not (h > 0 and w > 0 and x >= 0 and y >= 0 and y + h <= arr.shape[0] and x + w <= arr.shape[1]):
            _jpeg_invalid(data)
        arr = arr[y : y + h, x : x + w]
    return convert_channels(np.ascontiguousarray(arr), 0, dtype)


def _decode_one(
    data: bytes,
    channels: int,
    dtype: np.dtype,
    expected: str | None,
    jpeg: JpegOptions | None = None,
) -> np.ndarray:
    fmt = _image_format(data)
    if fmt == "unknown":
        fail("Unknown image file format. One of JPEG, PNG, GIF, BMP required.")
    if fmt == "PNG":
        return decode_png(data, channels, dtype, _decode_interlaced_png)
    if fmt == "JPEG":
        return decode_jpeg(data, channels, dtype, jpeg or JpegOptions())
    return _decode_with_pillow(data, channels, dtype, fmt)


def _decoder(op: str, expected: str | None, extra: str = "") -> None:
    @kernel_factory(op, family="image", dtypes=("string",), extra=extra, notes=NOTES)
    def prepare(node: NodeSpec) -> Any:
        channels = int(node.attrs.get("channels", 0))
        dtype = node.attrs.dtype("dtype", tfdtypes.DT.DT_UINT8)
        expand = bool(node.attrs.get("expand_animations", True))
        jpeg = JpegOptions(node)

        def run(ctx: Any, contents: np.ndarray) -> np.ndarray:
            if np.ndim(contents) != 0:
                fail(f"contents must be scalar, got shape {shape_str(np.shape(contents))}")
            data = to_bytes(contents[()])
            with policy.using_limits(policy.limits_of(ctx)):  # max_image_pixels of the caller's policy
                if op == "DecodeGif" or (op == "DecodeImage" and _image_format(data) == "GIF" and expand):
                    img = _decode_with_pillow(data, 3, dtype, "GIF")
                    return img[None]
                return _decode_one(data, channels, dtype, expected, jpeg)

        return run


_decoder("DecodePng", "PNG")
_decoder("DecodeJpeg", "JPEG")
_decoder("DecodeImage", None)
_decoder("DecodeBmp", "BMP", extra="image")
_decoder("DecodeGif", "GIF", extra="image")


@kernel_factory(
    "DecodeAndCropJpeg",
    family="image",
    dtypes=("string",),
    notes="libjpeg-turbo through simplejpeg: pixel-exact with TensorFlow",
)
def _decode_and_crop_jpeg(node: NodeSpec) -> Any:
    channels = int(node.attrs.get("channels", 0))
    jpeg = JpegOptions(node)

    def run(ctx: Any, contents: np.ndarray, crop_window: np.ndarray) -> np.ndarray:
        if np.ndim(contents) != 0:
            fail(f"contents must be scalar, got shape {shape_str(np.shape(contents))}")
        window = int_list(crop_window, "crop_window")
        if len(window) != 4:
            fail(f"crop_window must have four elements {shape_str(np.shape(crop_window))}")
        data = to_bytes(contents[()])
        fmt = _image_format(data)
        if fmt != "JPEG":
            fail(f"DecodeAndCropJpeg operation can run on JPEG only, but detected {fmt}.")
        with policy.using_limits(policy.limits_of(ctx)):
            y, x, h, w = window
            return decode_jpeg(data, channels, np.dtype(np.uint8), jpeg, (y, x, h, w), "DecodeAndCropJpeg")

    return run


@kernel_factory("EncodePng", family="image", dtypes=("uint8", "uint16"), notes="built in (zlib, ops/_png.py)")
def _encode_png(node: NodeSpec) -> Any:
    compression = int(node.attrs.get("compression", -1))
    return lambda ctx, img: np.array(encode_png(img, compression), dtype=object)


@kernel_factory(
    "EncodeJpeg", family="image", dtypes=("uint8",), extra="image", notes="needs Pillow (extra 'image')"
)
def _encode_jpeg(node: NodeSpec) -> Any:
    """Pillow's libjpeg with TensorFlow's defaults (JFIF 300 dpi, 4:2:0 chroma): byte-identical to
    TensorFlow's output for the same quality."""
    quality = int(node.attrs.get("quality", 95))
    fmt = node.attrs.get("format", b"")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    progressive = bool(node.attrs.get("progressive", False))
    optimize = bool(node.attrs.get("optimize_size", False))
    chroma = bool(node.attrs.get("chroma_downsampling", True))
    unit = node.attrs.get("density_unit", b"in")
    unit = unit.decode() if isinstance(unit, bytes) else unit
    x_density = int(node.attrs.get("x_density", 300))
    y_density = int(node.attrs.get("y_density", 300))

    def run(ctx: Any, img: np.ndarray) -> np.ndarray:
        image_mod = _pillow()
        if img.ndim != 3 or img.shape[-1] not in (1, 3):
            fail(f"image must be 3-dimensional with 1 or 3 channels: {shape_str(img.shape)}")
        if fmt == "grayscale" and img.shape[-1] != 1 or fmt == "rgb" and img.shape[-1] != 3:
            fail(f"format {fmt!r} does not match the image's {img.shape[-1]} channels")
        pil = image_mod.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        dpi = (x_density, y_density) if unit == "in" else (x_density * 2.54, y_density * 2.54)
        buf = io.BytesIO()
        sub = 2 if chroma and img.shape[-1] == 3 else 0  # grayscale: one 1x1-sampled component
        pil.save(
            buf,
            format="JPEG",
            quality=quality,
            dpi=dpi,
            subsampling=sub,
            progressive=progressive,
            optimize=optimize,
        )
        return np.array(buf.getvalue(), dtype=object)

    return run


@kernel_factory("ExtractJpegShape", family="image", dtypes=("string",))
def _extract_jpeg_shape(node: NodeSpec) -> Any:
    """[height, width, components] from the JPEG header (simplejpeg's libjpeg-turbo)."""
    out = node.attrs.dtype("output_type", tfdtypes.DT.DT_INT32)

    def run(ctx: Any, contents: np.ndarray) -> np.ndarray:
        data = to_bytes(contents[()])
        sj = _simplejpeg()
        if sj is None:
            fail("reading JPEG headers needs simplejpeg, a dependency of savedmodel: pip install simplejpeg")
        try:
            height, width, colorspace, _ = sj.decode_jpeg_header(data)
        except Exception:
            fail(f"Could not read image shape: not a JPEG, data size {len(data)}")
        components = {"Gray": 1, "CMYK": 4, "YCCK": 4}.get(colorspace, 3)
        return np.array([height, width, components], dtype=out)

    return run


# --------------------------------------------------------------------------- projective transform


def _map_coordinate(c: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Out-of-range sample coordinates under a fill mode (TensorFlow's rules, in float32)."""
    c = c.astype(np.float32)
    if mode == "REFLECT":
        if size <= 1:
            return np.zeros_like(c)
        sz2 = np.float32(2 * size)
        low = c < 0
        lc = np.where(c < -sz2, sz2 * np.trunc(-c / sz2) + c, c)
        lc = np.where(lc < -size, lc + sz2, -lc - 1)
        high = c > size - 1
        hc = c - sz2 * np.trunc(c / sz2)
        hc = np.where(hc >= size, sz2 - hc - 1, hc)
        c = np.where(low, lc, np.where(high, hc, c))
        return np.clip(c, 0, size - 1)
    if mode == "WRAP":
        if size <= 1:
            return np.zeros_like(c)
        sz = np.float32(size - 1)
        low = c < 0
        lc = c + size * (np.trunc(-c / sz) + 1)
        high = c > size - 1
        hc = c - size * np.trunc(c / sz)
        c = np.where(low, lc, np.where(high, hc, c))
        return np.clip(c, 0, size - 1)
    if mode == "NEAREST":
        return np.clip(c, 0, size - 1)
    return c  # CONSTANT: reads outside the image give fill_value


def _projective(
    images: np.ndarray,
    transforms: np.ndarray,
    out_hw: tuple[int, int],
    fill: float,
    interpolation: str,
    mode: str,
) -> np.ndarray:
    n, h, w, c = images.shape
    oh, ow = out_hw
    if transforms.ndim != 2 or transforms.shape[1] != 8 or transforms.shape[0] not in (1, n):
        fail(f"Input transform should be num_images x 8 or 1 x 8: {shape_str(transforms.shape)}")
    img = images.astype(np.float32)
    out = np.empty((n, oh, ow, c), dtype=np.float32)
    ys, xs = np.meshgrid(np.arange(oh, dtype=np.float32), np.arange(ow, dtype=np.float32), indexing="ij")
    fill32 = np.float32(fill)
    for b in range(n):
        t = transforms[b if transforms.shape[0] == n else 0].astype(np.float32)
        k = t[6] * xs + t[7] * ys + np.float32(1)
        with np.errstate(all="ignore"):
            x_in = (t[0] * xs + t[1] * ys + t[2]) / k
            y_in = (t[3] * xs + t[4] * ys + t[5]) / k
        x_in = _map_coordinate(x_in, w, mode)
        y_in = _map_coordinate(y_in, h, mode)
        src = img[b]

        def read(yy: np.ndarray, xx: np.ndarray, src: np.ndarray = src) -> np.ndarray:
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
            return np.where(inside[..., None], vals, fill32)

        if interpolation == "NEAREST":
            yy = np.trunc(y_in + np.copysign(np.float32(0.5), y_in)).astype(np.int64)
            xx = np.trunc(x_in + np.copysign(np.float32(0.5), x_in)).astype(np.int64)
            out[b] = read(yy, xx)
            continue
        yf, xf = np.floor(y_in), np.floor(x_in)
        yc, xc = yf + 1, xf + 1
        yfi, xfi, yci, xci = (v.astype(np.int64) for v in (yf, xf, yc, xc))
        wx0, wx1 = (xc - x_in)[..., None], (x_in - xf)[..., None]
        top = wx0 * read(yfi, xfi) + wx1 * read(yfi, xci)
        bottom = wx0 * read(yci, xfi) + wx1 * read(yci, xci)
        out[b] = (yc - y_in)[..., None] * top + (y_in - yf)[..., None] * bottom
        # bilinear reads of NaN coordinates (degenerate projections) give the fill value
        bad = ~(np.isfinite(x_in) & np.isfinite(y_in))
        out[b][bad] = fill32
    return out


def _projective_kernel(op: str, with_fill: bool) -> None:
    @kernel_factory(op, family="image", dtypes=IMAGE_TYPES)
    def prepare(node: NodeSpec) -> Any:
        interpolation = node.attrs.get("interpolation", b"NEAREST")
        interpolation = interpolation.decode() if isinstance(interpolation, bytes) else interpolation
        mode = node.attrs.get("fill_mode", b"CONSTANT")
        mode = mode.decode() if isinstance(mode, bytes) else mode

        def run(
            ctx: Any, images: np.ndarray, transforms: np.ndarray, output_shape: np.ndarray, *fill: np.ndarray
        ) -> np.ndarray:
            if images.ndim != 4:
                fail(f"Input images must have rank 4: {shape_str(images.shape)}")
            oh, ow = int_list(output_shape, "output_shape")
            value = float(np.asarray(fill[0]).reshape(-1)[0]) if with_fill else 0.0
            out = _projective(images, transforms, (oh, ow), value, interpolation, mode)
            return as_dtype(out, images.dtype)

        return run


_projective_kernel("ImageProjectiveTransformV2", False)
_projective_kernel("ImageProjectiveTransformV3", True)


@kernel_factory("CombinedNonMaxSuppression", family="image", dtypes=("float32",))
def _combined_nms(node: NodeSpec) -> Any:
    """Per-class greedy NMS, then the best `max_total_size` detections over all classes (highest
    score first; ties keep class, then selection, order)."""
    pad_per_class = bool(node.attrs.get("pad_per_class", False))
    clip = bool(node.attrs.get("clip_boxes", True))

    def run(
        ctx: Any,
        boxes: np.ndarray,
        scores: np.ndarray,
        max_per_class: np.ndarray,
        max_total: np.ndarray,
        iou: np.ndarray,
        score_threshold: np.ndarray,
    ) -> list[np.ndarray]:
        if boxes.ndim != 4 or boxes.shape[-1] != 4 or scores.ndim != 3:
            fail(
                f"boxes must be [batch, num_boxes, q, 4] and scores [batch, num_boxes, num_classes]: "
                f"{shape_str(boxes.shape)}, {shape_str(scores.shape)}"
            )
        batch, num_boxes, q, _ = boxes.shape
        classes = scores.shape[2]
        if q not in (1, classes):
            fail(f"third dimension of boxes must be either 1 or num classes, got {q}")
        per_class = scalar_int(max_per_class, "max_output_size_per_class")
        total = scalar_int(max_total, "max_total_size")
        if per_class <= 0 or total <= 0:
            fail("max_output_size_per_class and max_total_size must be > 0")
        thr, score_thr = float(iou), float(score_threshold)
        if not 0 <= thr <= 1:
            fail("iou_threshold must be in [0, 1]")
        max_det = min(total, per_class * classes) if pad_per_class else total
        out_boxes = np.zeros((batch, max_det, 4), np.float32)
        out_scores = np.zeros((batch, max_det), np.float32)
        out_classes = np.zeros((batch, max_det), np.float32)
        valid = np.zeros(batch, np.int32)
        b32, s32 = boxes.astype(np.float32), scores.astype(np.float32)
        for b in range(batch):
            found: list[tuple[float, int, int]] = []
            for c in range(classes):
                cls_boxes = b32[b, :, 0 if q == 1 else c, :]
                picked, picked_scores = non_max_suppression(
                    cls_boxes, s32[b, :, c], per_class, thr, score_thr
                )
                found += [(sc, c, i) for i, sc in zip(picked, picked_scores, strict=True)]
            found.sort(key=lambda t: -t[0])
            found = found[:max_det]
            valid[b] = len(found)
            for k, (sc, c, i) in enumerate(found):
                box = b32[b, i, 0 if q == 1 else c, :]
                out_boxes[b, k] = np.clip(box, 0, 1) if clip else box
                out_scores[b, k] = sc
                out_classes[b, k] = c
        return [out_boxes, out_scores, out_classes, valid]

    return run


_DEFAULT_BOX_COLORS = np.array(
    [
        [1, 1, 0, 1],
        [0, 0, 1, 1],
        [1, 0, 0, 1],
        [0, 1, 0, 1],
        [0.5, 0, 0.5, 1],
        [0.5, 0.5, 0, 1],
        [0.5, 0, 0, 1],
        [0, 0, 0.5, 1],
        [0, 1, 1, 1],
        [1, 0, 1, 1],
    ],
    dtype=np.float32,
)


def _draw_boxes(images: np.ndarray, boxes: np.ndarray, colors: np.ndarray | None) -> np.ndarray:
    if images.ndim != 4:
        fail(f"The rank of the images should be 4: {shape_str(images.shape)}")
    batch, height, width, depth = images.shape
    if depth not in (1, 3, 4):
        fail(f"Channel depth should be either 1 (GRY), 3 (RGB), or 4 (RGBA): {depth}")
    table = _DEFAULT_BOX_COLORS if colors is None or colors.size == 0 else colors.astype(np.float32)
    if table.ndim != 2 or table.shape[1] < depth:
        fail(f"Color table must have at least {depth} columns: {shape_str(table.shape)}")
    if depth == 1:  # grayscale images get white boxes, as in TensorFlow
        table = table.copy()
        table[:, 0] = 1
    out = images.copy()
    for b in range(batch):
        for k in range(boxes.shape[1]):
            color = table[k % table.shape[0], :depth].astype(np.float32)
            y1, x1, y2, x2 = (np.float32(v) for v in boxes[b, k])
            top, bottom = int(y1 * np.float32(height - 1)), int(y2 * np.float32(height - 1))
            left, right = int(x1 * np.float32(width - 1)), int(x2 * np.float32(width - 1))
            if top > bottom or left > right or top >= height or bottom < 0 or left >= width or right < 0:
                continue
            r0, r1 = max(top, 0), min(bottom, height - 1)
            c0, c1 = max(left, 0), min(right, width - 1)
            value = as_dtype(color, images.dtype)
            if top >= 0:
                out[b, top, c0 : c1 + 1] = value
            if bottom < height:
                out[b, bottom, c0 : c1 + 1] = value
            if left >= 0:
                out[b, r0 : r1 + 1, left] = value
            if right < width:
                out[b, r0 : r1 + 1, right] = value
    return out


kernel("DrawBoundingBoxesV2", family="image", dtypes=("float32", "float16"))(
    lambda ctx, images, boxes, colors: _draw_boxes(images, boxes, colors)
)
kernel("DrawBoundingBoxes", family="image", dtypes=("float32", "float16"))(
    lambda ctx, images, boxes: _draw_boxes(images, boxes, None)
)
