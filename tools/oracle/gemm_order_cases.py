"""Cases of tests/fixtures/kernels_order/gemm_paths.npz (tools/oracle/make_order_goldens.py writes
TensorFlow's outputs; tests/ops/test_gemm_order.py draws the same inputs). No TensorFlow here."""

from __future__ import annotations

import numpy as np

# Float32 products whose summation order depends on the path Eigen takes (savedmodel/ops/_gemm_order.py):
# single-threaded (K blocks up to 400, a slice over 384 halved by oneDNN), multi-threaded (320),
# OpenBLAS's small-matrix kernel (output widths 16q + 1..8), batch 1 and 32, and 3x3/5x5 filters
# over image patches. Inputs are drawn from the case's seed (`order_inputs`), so only TensorFlow's
# outputs are stored. MatMul cases: (M, K, N); Conv2D cases: (batch, size, cin, kernel, cout, stride).
ORDER_MATMULS = [
    (8, 400, 40),
    (4, 392, 24),
    (16, 1152, 40),
    (2, 2304, 16),
    (128, 360, 96),
    (64, 672, 192),
    (32, 768, 30),
    (2, 96, 1000),
    (384, 64, 3),
    (40, 48, 1),
]
ORDER_CONVS = [
    (1, 8, 16, 3, 24, 1),
    (2, 8, 144, 3, 16, 1),
    (2, 4, 16, 5, 8, 1),
    (32, 2, 96, 3, 24, 1),
    (32, 2, 192, 1, 48, 1),
    (1, 16, 32, 1, 96, 2),
    (2, 8, 48, 3, 24, 2),
    (8, 2, 336, 3, 16, 1),
]


def order_inputs(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Standard normal float32 arrays of `shapes` from default_rng(seed) (tests draw the same)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
