"""float32 MatMul and Conv2D summed in TensorFlow's CPU order (savedmodel/ops/_gemm_order.py).

The goldens (tests/fixtures/kernels_order/gemm_paths.npz, tools/oracle/make_order_goldens.py) are
TensorFlow's outputs on the machine that made them: a 2-core x86 with a 32 KiB L1 data cache, where
Eigen's K blocks are 400 (one thread) and 320 (two); the rule depends on the cache size and thread
count, so they are compared bit for bit only on such a machine. The comparison with the exact
emulation (tools/tf_gemm_order.py) holds wherever NumPy's OpenBLAS kernels are the modelled ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from savedmodel.ops import _gemm_order as gemm_order
from savedmodel.ops.nn import conv2d_fused
from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.proto import attr_value_pb2
from tools import tf_gemm_order
from tools.oracle.gemm_order_cases import ORDER_CONVS, ORDER_MATMULS, order_inputs

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "tests" / "fixtures" / "kernels_order" / "gemm_paths.npz"
GOLDEN_MACHINE = (400, 320, 2)  # (single-threaded K block, multi-threaded K block, threads)


modelled = pytest.mark.skipif(gemm_order._machine() is None, reason="NumPy's BLAS order is not modelled here")
golden_machine = pytest.mark.skipif(
    gemm_order._machine() != GOLDEN_MACHINE, reason="TensorFlow's K blocks differ on this machine"
)


def _attrs(**values: object) -> Attrs:
    amap = {}
    for name, value in values.items():
        av = attr_value_pb2.AttrValue()
        if isinstance(value, str):
            av.s = value.encode()
        elif isinstance(value, bool):
            av.b = value
        else:
            av.list.i.extend(value)
        amap[name] = av
    return Attrs(amap)


@golden_machine
@pytest.mark.parametrize("seed", range(len(ORDER_MATMULS)))
def test_matmul_equals_tensorflow_bit_for_bit(seed: int) -> None:
    m, k, n = ORDER_MATMULS[seed]
    a, b = order_inputs(seed, (m, k), (k, n))
    golden = np.load(GOLDENS)[f"matmul_{m}x{k}x{n}"]
    node = NodeSpec(name="n", op="MatMul", attrs=_attrs(), num_inputs=2)
    out = lookup("MatMul").prepare(node)(None, a, b)
    if gemm_order.slice_bounds(m, n, k) is None:  # a path not modelled: NumPy's order
        np.testing.assert_array_equal(out, a @ b)
        np.testing.assert_allclose(out, golden, rtol=1e-4, atol=1e-4 * np.abs(golden).max())
    else:
        np.testing.assert_array_equal(out, golden)


@golden_machine
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("index", range(len(ORDER_CONVS)))
def test_conv2d_equals_tensorflow_bit_for_bit(index: int, fused: bool) -> None:
    batch, size, cin, kernel, cout, stride = ORDER_CONVS[index]
    x, w = order_inputs(100 + index, (batch, size, size, cin), (kernel, kernel, cin, cout))
    golden = np.load(GOLDENS)[f"conv_{batch}x{size}x{cin}_{kernel}x{cout}_s{stride}"]
    node = NodeSpec(
        name="n", op="Conv2D", attrs=_attrs(strides=[1, stride, stride, 1], padding="SAME"), num_inputs=2
    )
    if fused:
        out, applied = conv2d_fused(node)(None, lambda dtype, shape: None, x, w)
        assert not applied
    else:
        out = lookup("Conv2D").prepare(node)(None, x, w)
    rows, depth = golden.shape[0] * golden.shape[1] * golden.shape[2], kernel * kernel * cin
    if gemm_order.slice_bounds(rows, cout, depth, patches=kernel > 1 or stride > 1) is None:
        np.testing.assert_allclose(out, golden, rtol=1e-4, atol=1e-4 * np.abs(golden).max())  # not modelled
    else:
        np.testing.assert_array_equal(out, golden)


def test_paths_not_modelled_fall_back() -> None:
    assert gemm_order.slice_bounds(1, 64, 1000) is None  # a single row: Eigen's matrix-vector path
    assert gemm_order.slice_bounds(64, 1, 1000) is None
    assert gemm_order.slice_bounds(8, 8, 20000) is None


@golden_machine
def test_k_slices_on_the_golden_machine() -> None:
    # one thread: K blocks of up to 400, oneDNN halving a slice longer than 384
    assert gemm_order.slice_bounds(8, 40, 400) == ((0, 200), (200, 400))
    assert gemm_order.slice_bounds(8, 40, 672) == ((0, 336), (336, 672))
    assert gemm_order.slice_bounds(2, 48, 1152) == ((0, 384), (384, 768), (768, 1152))
    # two threads: K blocks of 320
    assert gemm_order.slice_bounds(512, 40, 672) == ((0, 224), (224, 448), (448, 672))
    assert gemm_order.slice_bounds(2048, 64, 1024) == ((0, 256), (256, 512), (512, 768), (768, 1024))
    # Eigen shards K across threads (small output, long K): not modelled
    assert gemm_order.slice_bounds(16, 192, 1152) is None


def _emulated(a: np.ndarray, b: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    chains = tf_gemm_order._chains(a.astype(np.float64), b.astype(np.float64), bounds)
    total = chains[0]
    for chain in chains[1:]:
        total = total + chain
    return total


@modelled
@pytest.mark.parametrize(
    ("m", "k", "n", "bounds"),
    [
        (64, 300, 40, [(0, 300)]),  # OpenBLAS's small-matrix kernel: width padded to 48
        (5, 100, 3, [(0, 48), (48, 96), (96, 100)]),
        (300, 392, 24, [(0, 196), (196, 392)]),
        (2048, 448, 24, [(0, 448)]),  # blocked kernel: one chain up to its K block
        (17, 777, 9, [(0, 264), (264, 528), (528, 777)]),
        (3, 31, 7, [(0, 31)]),
    ],
)
def test_blas_slices_equal_the_exact_emulation(m: int, k: int, n: int, bounds: list[tuple[int, int]]) -> None:
    """NumPy's OpenBLAS sums each slice as one FMA chain from zero, in k order."""
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    np.testing.assert_array_equal(gemm_order.sliced_matmul(a, b, bounds), _emulated(a, b, bounds))


@modelled
def test_blas_slices_write_into_out() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 500)).astype(np.float32)
    b = rng.standard_normal((500, 24)).astype(np.float32)
    out = np.full((40, 24), np.nan, np.float32)
    bounds = [(0, 256), (256, 500)]
    assert gemm_order.sliced_matmul(a, b, bounds, out=out) is out
    np.testing.assert_array_equal(out, _emulated(a, b, bounds))


@modelled
def test_conv2d_in_row_blocks_sums_as_one_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of output rows small enough for OpenBLAS's small-matrix kernel (width 40 padded)
    give the same bits as the whole product, and as the emulation with the same slices."""
    from savedmodel.ops import nn

    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 12, 12, 48)).astype(np.float32)
    w = rng.standard_normal((3, 3, 48, 40)).astype(np.float32)
    node = NodeSpec(name="n", op="Conv2D", attrs=_attrs(strides=[1, 1, 1, 1], padding="VALID"), num_inputs=2)
    run = lookup("Conv2D").prepare(node)
    whole = run(None, x, w)
    monkeypatch.setattr(nn, "_CONV_BLOCK_BYTES", 1)
    monkeypatch.setattr(nn, "_CONV_BLOCK_ROWS", 1)
    np.testing.assert_array_equal(run(None, x, w), whole)
    bounds = gemm_order.slice_bounds(2 * 10 * 10, 40, 432, patches=True)
    assert bounds is not None and len(bounds) == 2
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # [N, 10, 10, C, 3, 3]
    cols = np.moveaxis(windows, 3, -1).reshape(200, 432)
    np.testing.assert_array_equal(whole.reshape(200, 40), _emulated(cols, w.reshape(432, 40), bounds))


def test_blas_order_can_be_chosen(monkeypatch):
    """SAVEDMODEL_GEMM_ORDER=blas keeps NumPy's own product order everywhere."""
    from savedmodel.ops import _gemm_order

    monkeypatch.setenv(_gemm_order.ORDER_ENV, "blas")
    _gemm_order._machine.cache_clear()
    _gemm_order.slice_bounds.cache_clear()
    try:
        assert _gemm_order.slice_bounds(64, 64, 1152) is None
    finally:
        monkeypatch.delenv(_gemm_order.ORDER_ENV)
        _gemm_order._machine.cache_clear()
        _gemm_order.slice_bounds.cache_clear()
