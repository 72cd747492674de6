"""Goldens for kernels whose float results depend on summation order, compared bit for bit.

Run with the oracle venv (TensorFlow 2.21, oneDNN off as for every golden):

    tools/oracle/.venv/bin/python tools/oracle/make_order_goldens.py

A deep network amplifies last-bit differences (EfficientNetB0's logits, tools/layer_diff.py), so
where savedmodel reproduces TensorFlow's CPU summation order exactly, a test holds it to equality
rather than to a tolerance. Written under tests/fixtures/kernels_order/: DepthwiseConv2dNative.npz
(per case `<case>/x`, `<case>/w`, `<case>/out`, `<case>/attrs`: JSON text of the op's attrs) and
reductions.npz (`<case>/x`, `<case>/axes` and TensorFlow's `<case>/Sum`, `<case>/Mean`) and
elementwise.npz (`<case>/x` and TensorFlow's `<case>/<op>`: the float32 approximations of Sigmoid,
Rsqrt and Tanh), batch_norm.npz (FusedBatchNormV3 at inference: inputs, `<case>/y`) and gemm.npz
(`<case>/a`, `<case>/b`, TensorFlow's `<case>/MatMul` and 1x1 `<case>/Conv2D`) and gemm_paths.npz
(TensorFlow's output only per case of ORDER_MATMULS / ORDER_CONVS; inputs from `order_inputs`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from gemm_order_cases import ORDER_CONVS, ORDER_MATMULS, order_inputs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "kernels_order"


def depthwise() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    cases = {
        # (input NHWC, filter [kh, kw, C, M], attrs)
        "3x3_same": ((1, 7, 7, 16), (3, 3, 16, 1), {"strides": [1, 1, 1, 1], "padding": "SAME"}),
        "5x5_valid_stride2": ((1, 9, 9, 24), (5, 5, 24, 1), {"strides": [1, 2, 2, 1], "padding": "VALID"}),
        "5x5_same_stride2": ((1, 8, 8, 16), (5, 5, 16, 1), {"strides": [1, 2, 2, 1], "padding": "SAME"}),
        "3x3_multiplier2": ((2, 5, 6, 5), (3, 3, 5, 2), {"strides": [1, 1, 1, 1], "padding": "SAME"}),
        "explicit": (
            (1, 6, 7, 8),
            (3, 2, 8, 1),
            {"strides": [1, 1, 1, 1], "padding": "EXPLICIT", "explicit_paddings": [0, 0, 2, 1, 1, 0, 0, 0]},
        ),
    }
    out: dict[str, np.ndarray] = {}
    for dtype in (np.float32, np.float64):
        for name, (xs, ws, attrs) in cases.items():
            key = f"{name}_{np.dtype(dtype).name}"
            x = (rng.standard_normal(xs) * 4).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            y = tf.raw_ops.DepthwiseConv2dNative(input=x, filter=w, **attrs).numpy()
            out[f"{key}/x"], out[f"{key}/w"], out[f"{key}/out"] = x, w, y
            out[f"{key}/attrs"] = np.array(json.dumps(attrs))
    return out


def reductions() -> dict[str, np.ndarray]:
    """Sum and Mean over axes that keep the innermost one: packets within a row, packets that
    cross a row end, the leftover outputs, reduced lengths below and above 16, L % 4 leftovers."""
    rng = np.random.default_rng(18)
    shapes = [
        ((2, 8, 8, 16), [1, 2]),
        ((1, 5, 5, 20), [1, 2]),
        ((3, 20, 36), [1]),
        ((5, 17, 12), [1]),
        ((40, 24), [0]),
        ((2, 3, 33, 9), [1, 2]),
        ((2, 1, 50, 16), [1, 2]),
        ((2, 16, 4, 5, 8), [1, 2]),
        ((6, 15, 10), [1]),
        ((1, 100, 13), [1]),
    ]
    out: dict[str, np.ndarray] = {}
    for dtype in (np.float32, np.float64):
        for i, (shape, axes) in enumerate(shapes):
            x = (rng.standard_normal(shape) * 10).astype(dtype)
            key = f"{i}_{np.dtype(dtype).name}"
            out[f"{key}/x"], out[f"{key}/axes"] = x, np.array(axes, np.int32)
            for op, fn in (("Sum", tf.raw_ops.Sum), ("Mean", tf.raw_ops.Mean)):
                out[f"{key}/{op}"] = fn(input=x, axis=np.array(axes, np.int32), keep_dims=False).numpy()
    return out


def sigmoid() -> dict[str, np.ndarray]:
    """float32 Sigmoid: Eigen's polynomial on packets of 8, the scalar path on the last size % 8,
    results below the smallest normal flushed to zero; the clamps at -104 and 16.6355324, the
    infinities and NaN, at every position of a packet and of the tail."""
    rng = np.random.default_rng(19)
    special = np.array(
        [
            0,
            -0.0,
            1e-40,
            -1e-40,
            16.6355324,
            16.64,
            17,
            30,
            -87,
            -88,
            -90,
            -103.9,
            -104,
            -104.1,
            -200,
            np.inf,
            -np.inf,
            np.nan,
        ],
        np.float32,
    )
    inputs = {
        "special": special,
        "special_in_packets": np.concatenate([special, special[:6]]),
        "normal_1001": (rng.standard_normal(1001) * 4).astype(np.float32),
        "wide_4d": rng.uniform(-110, 20, (2, 3, 5, 67)).astype(np.float32),
        "small_8": rng.standard_normal(8).astype(np.float32),
        "small_7": rng.standard_normal(7).astype(np.float32),
        "scalar": np.array(rng.standard_normal(), np.float32),
    }
    return _unary(tf.raw_ops.Sigmoid, "Sigmoid", inputs, prefix="")


def rsqrt() -> dict[str, np.ndarray]:
    """float32 Rsqrt: one Newton step on the hardware estimate for packets of 8, 1 / sqrt(x) on the
    last size % 8: every exponent parity and mantissa range, zeros, denormals, infinities, NaN,
    negatives."""
    rng = np.random.default_rng(20)
    special = np.array(
        [
            0,
            -0.0,
            1e-40,
            -1e-40,
            1.1754944e-38,
            3.4e38,
            np.inf,
            -np.inf,
            np.nan,
            -1,
            -2.5,
            1,
            2,
            4,
            0.25,
            3.9999998,
        ],
        np.float32,
    )
    inputs = {
        "special": special,
        "special_tail": special[:7],
        "log_uniform_4099": np.exp2(rng.uniform(-120, 120, 4099)).astype(np.float32),
        "mantissas_2x4096": (1 + np.arange(8192) / 4096.0).astype(np.float32).reshape(2, 4096)
        * np.float32(3.5),
    }
    return _unary(tf.raw_ops.Rsqrt, "Rsqrt", inputs, prefix="rsqrt_")


def _unary(fn: Any, op: str, inputs: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """`<prefix><case>/x` and TensorFlow's `<prefix><case>/<op>` for each input."""
    out: dict[str, np.ndarray] = {}
    for name, x in inputs.items():
        out[f"{prefix}{name}/x"], out[f"{prefix}{name}/{op}"] = x, fn(x=x).numpy()
    return out


def tanh() -> dict[str, np.ndarray]:
    """float32 Tanh: the [9/8] rational approximation (packets and scalars alike) on the input
    clamped at +-7.90738964, denormals read as zero."""
    rng = np.random.default_rng(23)
    special = np.array(
        [0, -0.0, 1e-40, -1e-40, 1e-20, 7.9073896, 7.9073897, 8, -8, 20, np.inf, -np.inf, np.nan], np.float32
    )
    inputs = {
        "special": special,
        "normal_1003": (rng.standard_normal(1003) * 3).astype(np.float32),
        "wide_3d": rng.uniform(-10, 10, (3, 7, 11)).astype(np.float32),
    }
    return _unary(tf.raw_ops.Tanh, "Tanh", inputs, prefix="tanh_")


def batch_norm() -> dict[str, np.ndarray]:
    """FusedBatchNormV3 at inference: (x - mean) * (rsqrt(variance + epsilon) * scale) + offset,
    channels a multiple of 8 and not (the scalar rsqrt on the last channels % 8), NHWC and NCHW."""
    rng = np.random.default_rng(21)
    out: dict[str, np.ndarray] = {}
    for name, shape, fmt in [
        ("c32", (2, 4, 4, 32), "NHWC"),
        ("c13", (2, 3, 5, 13), "NHWC"),
        ("c1152", (2, 1, 1, 1152), "NHWC"),
        ("nchw_c12", (2, 12, 3, 3), "NCHW"),
    ]:
        channels = shape[1] if fmt == "NCHW" else shape[-1]
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        scale, offset, mean = (rng.standard_normal(channels).astype(np.float32) for _ in range(3))
        variance = np.exp(rng.uniform(-8, 3, channels)).astype(np.float32)
        y = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=mean,
            variance=variance,
            epsilon=1e-3,
            data_format=fmt,
            is_training=False,
        )[0].numpy()
        parts = {"x": x, "scale": scale, "offset": offset, "mean": mean, "variance": variance, "y": y}
        out |= {f"{name}/{k}": v for k, v in parts.items()}
        out[f"{name}/data_format"] = np.array(fmt)
    return out


def gemm() -> dict[str, np.ndarray]:
    """float32 MatMul (and the 1x1 Conv2D that runs as one): the contraction dimension K in equal
    slices, each one FMA chain (tools/tf_gemm_order.py); K from one slice to five."""
    rng = np.random.default_rng(22)
    out: dict[str, np.ndarray] = {}
    for m, k, n in [(32, 96, 24), (2, 520, 16), (3, 769, 5), (8, 672, 16), (2, 1152, 8), (2, 1900, 4)]:
        a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
        key = f"{m}x{k}x{n}"
        out[f"{key}/a"], out[f"{key}/b"] = a, b
        out[f"{key}/MatMul"] = tf.raw_ops.MatMul(a=a, b=b).numpy()
        conv = tf.raw_ops.Conv2D(
            input=a.reshape(m, 1, 1, k), filter=b.reshape(1, 1, k, n), strides=[1] * 4, padding="VALID"
        )
        out[f"{key}/Conv2D"] = conv.numpy().reshape(m, n)
    return out


def gemm_paths() -> dict[str, np.ndarray]:
    """float32 MatMul and Conv2D over the paths of savedmodel/ops/_gemm_order.py (the cases:
    gemm_order_cases.py); TensorFlow's outputs only."""
    out: dict[str, np.ndarray] = {}
    for seed, (m, k, n) in enumerate(ORDER_MATMULS):
        a, b = order_inputs(seed, (m, k), (k, n))
        out[f"matmul_{m}x{k}x{n}"] = tf.raw_ops.MatMul(a=a, b=b).numpy()
    for seed, (batch, size, cin, kernel, cout, stride) in enumerate(ORDER_CONVS, start=100):
        x, w = order_inputs(seed, (batch, size, size, cin), (kernel, kernel, cin, cout))
        conv = tf.raw_ops.Conv2D(input=x, filter=w, strides=[1, stride, stride, 1], padding="SAME")
        out[f"conv_{batch}x{size}x{cin}_{kernel}x{cout}_s{stride}"] = conv.numpy()
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "DepthwiseConv2dNative.npz", **depthwise())
    np.savez_compressed(OUT / "reductions.npz", **reductions())
    np.savez_compressed(OUT / "elementwise.npz", **sigmoid(), **rsqrt(), **tanh())
    np.savez_compressed(OUT / "batch_norm.npz", **batch_norm())
    np.savez_compressed(OUT / "gemm.npz", **gemm())
    np.savez_compressed(OUT / "gemm_paths.npz", **gemm_paths())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
