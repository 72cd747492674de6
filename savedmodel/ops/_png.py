"""PNG without Pillow, with zlib: decoding (all bit depths and colour types) and encoding.
Adam7-interlaced images are handed to the caller's decoder (ops/image.py's uses Pillow).

A codec, not a kernel family: DecodePng/EncodePng/DecodeImage (ops/image.py) and ImageSummary
(ops/summary.py) call it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import numpy as np

from savedmodel import policy
from savedmodel.ops._common import fail, shape_str

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        fail("Invalid PNG data: bad signature")
    pos = len(PNG_SIGNATURE)
    chunks = []
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            fail("Invalid PNG data: truncated chunk")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    pos = 0
    for y in range(height):
        if pos + 1 + stride > len(raw):
            fail("Invalid PNG data: image data too short")
        ftype = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=pos + 1).astype(np.int32)
        pos += 1 + stride
        if ftype == 0:
            cur = line
        elif ftype == 1:
            cur = line.copy()
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 0xFF
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        elif ftype == 3:
            cur = line.copy()
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            cur = line.copy()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 0xFF
        else:
            fail(f"Invalid PNG data: unknown filter type {ftype}")
        out[y] = cur
        prev = cur
    return out


def decode_png(
    data: bytes, channels: int, dtype: np.dtype, interlaced: Callable[[bytes, int, np.dtype], np.ndarray]
) -> np.ndarray:
    """A PNG as an (h, w, channels) array of dtype; Adam7-interlaced images go to `interlaced`."""
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR":
        fail("Invalid PNG data: missing IHDR")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    policy.check_image_pixels(height, width, channels, "DecodePng")
    if interlace:
        return interlaced(data, channels, dtype)
    palette = next((body for kind, body in chunks if kind == b"PLTE"), None)
    trns = next((body for kind, body in chunks if kind == b"tRNS"), None)
    try:
        # At most 8 bytes per pixel plus a filter byte per row: a zlib bomb stops there.
        inflater = zlib.decompressobj()
        raw = inflater.decompress(
            b"".join(body for kind, body in chunks if kind == b"IDAT"), height * (width * 8 + 1) + 1
        )
    except zlib.error as exc:
        fail(f"Invalid PNG data: {exc}")
    if inflater.unconsumed_tail:
        fail(f"Invalid PNG data: more pixel data than a {width}x{height} image holds")
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if samples is None:
        fail(f"Invalid PNG data: color type {color}")
    bits = depth * samples
    stride = (width * bits + 7) // 8
    rows = _unfilter(raw, height, stride, max(1, bits // 8))
    if depth == 16:
        img = rows.view(">u2").reshape(height, width, samples).astype(np.uint16)
    elif depth == 8:
        img = rows.reshape(height, width, samples)
    else:
        unpacked = np.unpackbits(rows, axis=1)[:, : width * depth].reshape(height, width, depth)
        weights = 1 << np.arange(depth - 1, -1, -1)
        img = (unpacked * weights).sum(axis=-1).astype(np.uint8).reshape(height, width, 1)
        if color == 0:
            img = (img.astype(np.uint32) * 255 // ((1 << depth) - 1)).astype(np.uint8)
    if color == 3:
        if palette is None:
            fail("Invalid PNG data: missing palette")
        pal = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        alpha = np.full(len(pal), 255, dtype=np.uint8)
        if trns:
            alpha[: len(trns)] = np.frombuffer(trns, dtype=np.uint8)[: len(pal)]
        rgba = np.concatenate([pal, alpha[:, None]], axis=1)
        img = rgba[img[..., 0]]
        if not trns:
            img = img[..., :3]
    return convert_channels(img, channels, dtype)


def convert_channels(img: np.ndarray, channels: int, dtype: np.dtype) -> np.ndarray:
    have = img.shape[-1]
    if channels and channels != have:
        if channels == 1:
            rgb = img[..., :3].astype(np.float64) if have >= 3 else img[..., :1].astype(np.float64)
            if have >= 3:
                gray = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
                img = np.floor(gray).astype(img.dtype)[..., None]
            else:
                img = img[..., :1]
        elif channels == 3:
            img = img[..., :3] if have >= 3 else np.repeat(img[..., :1], 3, axis=-1)
        elif channels == 4:
            base = img[..., :3] if have >= 3 else np.repeat(img[..., :1], 3, axis=-1)
            alpha = (
                img[..., 3:4]
                if have == 4
                else (
                    img[..., 1:2]
                    if have == 2
                    else np.full(img.shape[:-1] + (1,), np.iinfo(img.dtype).max, img.dtype)
                )
            )
            img = np.concatenate([base, alpha], axis=-1)
        elif channels == 2:
            img = np.concatenate(
                [
                    img[..., :1],
                    img[..., -1:]
                    if have in (2, 4)
                    else np.full(img.shape[:-1] + (1,), np.iinfo(img.dtype).max, img.dtype),
                ],
                axis=-1,
            )
    if dtype == np.uint16 and img.dtype == np.uint8:
        img = img.astype(np.uint16) * 257
    elif dtype == np.uint8 and img.dtype == np.uint16:
        img = (img // 257).astype(np.uint8)
    elif dtype.kind == "f":
        img = img.astype(np.float32) / np.float32(np.iinfo(img.dtype).max)
        img = img.astype(dtype)
    return np.ascontiguousarray(img)


def _filter_rows(rows: np.ndarray, bpp: int) -> bytes:
    """libpng's adaptive filtering: per row, the filter (None, Sub, Up, Average, Paeth) whose output
    has the smallest sum of |signed bytes|, the earliest on ties."""
    out = bytearray()
    prev = np.zeros(rows.shape[1], dtype=np.int16)
    for row in rows.astype(np.int16):
        left = np.concatenate([np.zeros(bpp, np.int16), row[:-bpp]]) if bpp < row.size else np.zeros_like(row)
        upleft = (
            np.concatenate([np.zeros(bpp, np.int16), prev[:-bpp]]) if bpp < row.size else np.zeros_like(row)
        )
        p = left + prev - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        candidates = [row, row - left, row - prev, row - (left + prev) // 2, row - paeth]
        best, best_sum = 0, None
        for ftype, cand in enumerate(candidates):
            v = (cand & 0xFF).astype(np.int32)
            total = int(np.sum(np.where(v < 128, v, 256 - v)))
            if best_sum is None or total < best_sum:
                best, best_sum = ftype, total
        out.append(best)
        out += (candidates[best] & 0xFF).astype(np.uint8).tobytes()
        prev = row
    return bytes(out)


def encode_png(img: np.ndarray, compression: int = -1) -> bytes:
    """PNG as TensorFlow's libpng writes it: adaptive row filters, and zlib with the Z_FILTERED strategy
    and the window shrunk to the image size, so the bytes usually match TensorFlow's exactly."""
    if img.ndim != 3:
        fail(f"image must be 3-dimensional: {shape_str(img.shape)}")
    h, w, c = img.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}.get(c)
    if color is None:
        fail(f"image must have 1, 2, 3, or 4 channels, got {c}")
    depth = 16 if img.dtype == np.uint16 else 8
    data = img.astype(">u2").tobytes() if depth == 16 else img.astype(np.uint8).tobytes()
    stride = w * c * depth // 8
    rows = (
        np.frombuffer(data, dtype=np.uint8).reshape(h, stride)
        if h and stride
        else np.zeros((h, stride), np.uint8)
    )
    raw = _filter_rows(rows, max(1, c * depth // 8)) if stride else b"\x00" * h

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    level = compression if 0 <= compression <= 9 else 6
    wbits = 15
    size = h * (1 + stride)
    if size <= 16384:
        half = 1 << (wbits - 1)
        while size + 262 <= half:
            half >>= 1
            wbits -= 1
    wbits = max(wbits, 9)
    compressor = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, zlib.Z_FILTERED)
    idat = bytearray(compressor.compress(raw) + compressor.flush())
    _optimize_cmf(idat, size)
    # libpng writes the stream in IDAT chunks of its 8 KiB buffer size
    chunks = b"".join(chunk(b"IDAT", bytes(idat[i : i + 8192])) for i in range(0, len(idat), 8192))
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunks + chunk(b"IEND", b"")


def _optimize_cmf(data: bytearray, size: int) -> None:
    """Rewrite the zlib header's window size down to what `size` bytes need, as libpng does."""
    if size > 16384 or len(data) < 2:
        return
    cmf = data[0]
    if (cmf & 0x0F) != 8 or (cmf & 0xF0) > 0x70:
        return
    cinfo = cmf >> 4
    half = 1 << (cinfo + 7)
    if size > half:
        return
    while True:
        half >>= 1
        cinfo -= 1
        if not (cinfo > 0 and size <= half):
            break
    cmf = (cmf & 0x0F) | (cinfo << 4)
    data[0] = cmf
    flg = data[1] & 0xE0
    flg += 0x1F - ((cmf << 8) + flg) % 0x1F
    data[1] = flg
