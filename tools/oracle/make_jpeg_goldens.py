"""Golden cases for JPEG decoding (DecodeJpeg, DecodeAndCropJpeg, DecodeImage, ExtractJpegShape),
computed by TensorFlow: scaled decodes (ratio 2/4/8), crop windows (MCU-misaligned, scaled,
invalid), CMYK files with and without an Adobe marker, truncated data with and without
try_recover_truncated.

    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_jpeg_goldens.py

Written to tests/fixtures/kernels_jpeg/ (see golden_sets.py).
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_kernel_goldens as mk  # noqa: E402
from golden_sets import write_golden_set  # noqa: E402
from make_kernel_goldens import a, case, s  # noqa: E402

tf = mk.tf
OUT = mk.ROOT / "tests" / "fixtures" / "kernels_jpeg"
G = "image"

# A 6x10 CMYK JPEG as Pillow writes it: an Adobe APP14 segment, inverted samples (no TF encoder
# writes CMYK).
CMYK_ADOBE = base64.b64decode(
    "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUEBAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4LCxAWEB"
    "ETFBUVFQwPFxgWFBgSFBUU/8AAFAgABgAKBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkK"
    "C//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKC"
    "kqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1"
    "tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwDQ+LugyeDdL1bw74"
    "w1e61tfBekS6fHY6fbxJa31pNA8sUpaYSNDNHFPMURQ0cTRW6IMKzty3wit9LfxPfaT4SEum+ItN0TRvFuoa1q8f2tr8Yg"
    "n0u2CRvEIkt4ruy3lRmSSEnIEY82bxWmnaDc2mr6vpNpJqk+q2/hGa6tIYinnT2q3KPDGI0dEb7XbQyGWWfET3KRqqgLJt"
    "arrF3pPxNuNA1e8upPFmpvZzreyXl3dWM8Nqt6sFv5UVxa/ZvJltRPHMnmP5rs48vhR5r8R/gF4EHxD8UC+0nxQL3+1Lrz"
    "xpnjFbe18zzm3eTE+nyNHHnO1GkcqMAsxGT6hfeF7a3vriIeIteswkjKLaC7unjiwcbFY3QLAdASATjoK+i9G/ZQ8XazpF"
    "jqF18QdXsbq7gSeW1tdf1N4oXZQzIjGdcqCSAdq5AHA6V2t3+yd4w0+7ntbLxd4ZuLOB2ihm1nwjZ3t66KcK1xcMoM0pAB"
    "eQgF2y2Bmv/Z"
)
# The same file without its Adobe segment: libjpeg then reads the samples as plain CMYK.
CMYK_PLAIN = CMYK_ADOBE[:2] + CMYK_ADOBE[2 + 2 + int.from_bytes(CMYK_ADOBE[4:6], "big") :]


def jpeg(img: np.ndarray, **kw: object) -> bytes:
    return tf.io.encode_jpeg(img, **kw).numpy()


def cases() -> None:
    rng = np.random.default_rng(17)
    smooth = np.linspace(0, 255, 37 * 53 * 3).reshape(37, 53, 3)
    rgb = np.clip(smooth + rng.normal(0, 40, smooth.shape), 0, 255).astype(np.uint8)
    color = jpeg(rgb, quality=90)
    tiny = jpeg(rgb[:8, :8], quality=80, chroma_downsampling=False)
    gray = jpeg(rgb[..., :1], quality=85)
    for ratio in (2, 4, 8):
        case(G, "DecodeJpeg", s(color), name=f"ratio{ratio}", ratio=ratio)
        case(G, "DecodeJpeg", s(tiny), name=f"tiny_ratio{ratio}", ratio=ratio)
    case(G, "DecodeJpeg", s(gray), name="gray_ratio2_accurate", ratio=2, dct_method="INTEGER_ACCURATE")
    case(G, "DecodeJpeg", s(color), name="nofancy", fancy_upscaling=False)
    case(G, "DecodeJpeg", s(color), name="to_gray_accurate", channels=1, dct_method="INTEGER_ACCURATE")
    crops = {
        "misaligned": [3, 5, 20, 30],
        "full": [0, 0, 37, 53],
        "corner": [29, 45, 8, 8],
        "one_pixel": [36, 52, 1, 1],
    }
    for name, window in crops.items():
        case(G, "DecodeAndCropJpeg", s(color), a(window, np.int32), name=name)
    case(G, "DecodeAndCropJpeg", s(color), a([2, 7, 9, 11], np.int32), name="gray", channels=1)
    case(G, "DecodeAndCropJpeg", s(gray), a([5, 1, 30, 50], np.int32), name="gray_file")
    case(G, "DecodeAndCropJpeg", s(color), a([1, 3, 9, 12], np.int32), name="ratio2", ratio=2)
    case(G, "DecodeAndCropJpeg", s(color), a([4, 9, 10, 10], np.int32), name="nofancy", fancy_upscaling=False)
    case(
        G,
        "DecodeAndCropJpeg",
        s(color),
        a([4, 9, 10, 10], np.int32),
        name="accurate",
        dct_method="INTEGER_ACCURATE",
    )
    case(G, "DecodeAndCropJpeg", s(CMYK_ADOBE), a([1, 2, 4, 5], np.int32), name="cmyk")
    case(G, "DecodeAndCropJpeg", s(color), a([30, 50, 10, 10], np.int32), name="outside")
    case(G, "DecodeAndCropJpeg", s(color), a([0, 0, 0, 5], np.int32), name="empty")
    for name, data in [("cmyk_adobe", CMYK_ADOBE), ("cmyk_plain", CMYK_PLAIN)]:
        case(G, "DecodeJpeg", s(data), name=name)
        case(G, "DecodeJpeg", s(data), name=f"{name}_accurate", channels=3, dct_method="INTEGER_ACCURATE")
        case(G, "ExtractJpegShape", s(data), name=name)
    case(G, "DecodeImage", s(CMYK_ADOBE), name="cmyk", channels=3)
    case(G, "ExtractJpegShape", s(gray), name="gray", output_type=tf.int64)
    cut = color[: len(color) * 2 // 3]
    case(G, "DecodeJpeg", s(cut), name="truncated")
    recover_note = (
        "try_recover_truncated: libjpeg-turbo's lenient decode (simplejpeg) stops producing image "
        "data earlier than TensorFlow's source manager does: dtype/shape only"
    )
    case(
        G,
        "DecodeJpeg",
        s(cut),
        name="truncated_recover",
        try_recover_truncated=True,
        check="shape",
        note=recover_note,
    )
    case(G, "DecodeJpeg", s(b"\xff\xd8\xff\xe0garbage"), name="garbage")


def main() -> int:
    cases()
    return 1 if write_golden_set(OUT) else 0


if __name__ == "__main__":
    sys.exit(main())
