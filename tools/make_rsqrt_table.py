"""Measure the x86 `vrsqrtps` estimate on this CPU and write it to savedmodel/ops/_rsqrt_estimate.py.

    python3 tools/make_rsqrt_table.py            # needs gcc and an AVX CPU
    python3 tools/make_rsqrt_table.py --check    # only compare this CPU with the committed table

TensorFlow's CPU kernels compute float32 rsqrt (FusedBatchNorm's rsqrt(variance + epsilon),
the Rsqrt op) as Eigen's one Newton step on the hardware estimate `_mm256_rsqrt_ps`. The estimate
is a table in the CPU: for x = 4^j * x' with x' in [1, 4) it is estimate(x') * 2^-j, and
estimate(x') depends only on the exponent's parity and the top 12 mantissa bits (8192 entries,
each a float in [0.5, 1) with a 12-bit fraction). The table is measured here by running the
instruction; it differs between CPU vendors (the committed one is from an AMD EPYC, Zen 4).
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "savedmodel" / "ops" / "_rsqrt_estimate.py"

PROGRAM = r"""
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* vrsqrtps of every float in [1, 4): 2^24 values, written as uint32 to stdout */
int main(void) {
  static uint32_t out[1u << 24];
  for (uint32_t i = 0; i < (1u << 24); i += 8) {
    float in[8];
    for (int j = 0; j < 8; j++) { uint32_t bits = (127u << 23) + i + j; memcpy(&in[j], &bits, 4); }
    _mm256_storeu_ps((float *)(out + i), _mm256_rsqrt_ps(_mm256_loadu_ps(in)));
  }
  fwrite(out, 4, 1u << 24, stdout);
  return 0;
}
"""


def measure() -> np.ndarray:
    """The 12-bit fractions of the estimates of [1, 4), one per 2^11 consecutive inputs."""
    with tempfile.TemporaryDirectory() as tmp:
        source, binary = Path(tmp) / "rsqrt.c", Path(tmp) / "rsqrt"
        source.write_text(PROGRAM)
        subprocess.run(["gcc", "-O1", "-mavx", str(source), "-o", str(binary)], check=True)
        bits = np.frombuffer(subprocess.run([str(binary)], check=True, capture_output=True).stdout, "<u4")
    groups = bits.reshape(8192, 2048)
    if not (groups == groups[:, :1]).all():
        raise SystemExit("this CPU's estimate depends on more than the top 12 mantissa bits")
    first = groups[:, 0]
    if not ((first >> 23 == 126).all() and (first & 0x7FF == 0).all()):
        raise SystemExit("unexpected estimate format (not in [0.5, 1) with a 12-bit fraction)")
    return ((first & 0x7FFFFF) >> 11).astype(np.int16)


def encode(fractions: np.ndarray) -> str:
    deltas = np.diff(fractions, prepend=np.int16(0)).astype("<i2")
    return base64.b64encode(zlib.compress(deltas.tobytes(), 9)).decode()


def write(fractions: np.ndarray) -> None:
    text = encode(fractions)
    lines = [text[i : i + 96] for i in range(0, len(text), 96)]
    body = "\n".join(f'    "{line}"' for line in lines)
    TARGET.write_text(
        '"""The x86 float32 reciprocal square root estimate (`vrsqrtps`), measured by\n'
        "tools/make_rsqrt_table.py on an AMD EPYC (Zen 4): for x' in [1, 4), the estimate's 12-bit\n"
        "fraction for each exponent parity and top 12 mantissa bits (8192 entries), as zlib-compressed\n"
        'little-endian int16 differences. Generated; do not edit."""\n\n'
        f"ESTIMATE_FRACTIONS = (\n{body}\n)\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare this CPU with the committed table")
    args = parser.parse_args(argv)
    fractions = measure()
    if args.check:
        sys.path.insert(0, str(ROOT))
        from savedmodel.ops import _eigen_x86

        same = np.array_equal(_eigen_x86.rsqrt_estimate_fractions(), fractions)
        print("this CPU's vrsqrtps equals the committed table" if same else "this CPU's vrsqrtps differs")
        return 0 if same else 1
    write(fractions)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
