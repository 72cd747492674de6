"""Kernels that sum in TensorFlow's CPU order give its float results bit for bit
(goldens: tools/oracle/make_order_goldens.py). Deep networks amplify last-bit differences, so these
are held to equality, not to the tolerances of tests/ops/test_kernel_goldens.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.proto import attr_value_pb2

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kernels_order"


def _cases(file_name: str) -> dict[str, dict[str, np.ndarray]]:
    """`<case>/<part>` arrays of a goldens file, grouped by case."""
    with np.load(FIXTURES / file_name, allow_pickle=False) as data:
        cases: dict[str, dict[str, np.ndarray]] = {}
        for key in data.files:
            case, part = key.split("/")
            cases.setdefault(case, {})[part] = data[key]
    return cases


def _node(op: str, attrs: dict) -> NodeSpec:
    amap = {}
    for name, value in attrs.items():
        av = attr_value_pb2.AttrValue()
        if isinstance(value, str):
            av.s = value.encode()
        else:
            av.list.i.extend(value)
        amap[name] = av
    return NodeSpec(name="n", op=op, attrs=Attrs(amap), num_inputs=2)


_DEPTHWISE = _cases("DepthwiseConv2dNative.npz")


@pytest.mark.parametrize("name", sorted(_DEPTHWISE))
def test_depthwise_conv_equals_tensorflow_bit_for_bit(name: str) -> None:
    case = _DEPTHWISE[name]
    attrs = json.loads(str(case["attrs"]))
    run = lookup("DepthwiseConv2dNative").prepare(_node("DepthwiseConv2dNative", attrs))
    out = run(None, case["x"], case["w"])
    assert out.dtype == case["out"].dtype
    np.testing.assert_array_equal(out, case["out"])


_REDUCTIONS = _cases("reductions.npz")


@pytest.mark.parametrize("op", ["Sum", "Mean"])
@pytest.mark.parametrize("name", sorted(_REDUCTIONS))
def test_sum_and_mean_keeping_the_inner_axis_equal_tensorflow_bit_for_bit(name: str, op: str) -> None:
    case = _REDUCTIONS[name]
    node = NodeSpec(
        name="n", op=op, attrs=Attrs({"keep_dims": attr_value_pb2.AttrValue(b=False)}), num_inputs=2
    )
    out = lookup(op).prepare(node)(None, case["x"], case["axes"])
    assert out.dtype == case[op].dtype
    np.testing.assert_array_equal(out, case[op])
    if op == "Sum" and name.startswith("0_"):  # np.sum's order differs here: the test can fail
        assert not np.array_equal(np.sum(case["x"], axis=tuple(case["axes"])), case[op])


_ELEMENTWISE = _cases("elementwise.npz")


@pytest.mark.parametrize(
    ("name", "op"), sorted((name, op) for name, parts in _ELEMENTWISE.items() for op in parts if op != "x")
)
def test_float32_approximations_equal_tensorflow_bit_for_bit(name: str, op: str) -> None:
    """Sigmoid, Rsqrt and Tanh: Eigen's packet approximations and its scalar tail."""
    case = _ELEMENTWISE[name]
    node = NodeSpec(name="n", op=op, attrs=Attrs({}), num_inputs=1)
    out = lookup(op).prepare(node)(None, case["x"])
    assert out.dtype == np.float32 and out.shape == case["x"].shape
    np.testing.assert_array_equal(out, case[op])


_BATCH_NORM = _cases("batch_norm.npz")


@pytest.mark.parametrize("name", sorted(_BATCH_NORM))
def test_inference_batch_norm_equals_tensorflow_bit_for_bit(name: str) -> None:
    case = _BATCH_NORM[name]
    attrs = {
        "epsilon": attr_value_pb2.AttrValue(f=1e-3),
        "is_training": attr_value_pb2.AttrValue(b=False),
        "data_format": attr_value_pb2.AttrValue(s=str(case["data_format"]).encode()),
    }
    node = NodeSpec(name="n", op="FusedBatchNormV3", attrs=Attrs(attrs), num_inputs=5)
    inputs = [case[k] for k in ("x", "scale", "offset", "mean", "variance")]
    y = lookup("FusedBatchNormV3").prepare(node)(None, *inputs)[0]
    np.testing.assert_array_equal(y, case["y"])


_GEMM = _cases("gemm.npz")


@pytest.mark.parametrize("op", ["MatMul", "Conv2D"])
@pytest.mark.parametrize("name", sorted(_GEMM))
def test_tf_gemm_order_reproduces_tensorflow_bit_for_bit(name: str, op: str) -> None:
    """tools/tf_gemm_order.py's summation order is TF's, and so is savedmodel's MatMul's where
    ops/_gemm_order.py models it (tests/ops/test_gemm_order.py covers the paths)."""
    from savedmodel.ops import _gemm_order
    from tools import tf_gemm_order

    case = _GEMM[name]
    np.testing.assert_array_equal(tf_gemm_order.matmul(case["a"], case["b"]), case[op])
    assert not np.array_equal(case["a"] @ case["b"], case[op])  # NumPy's BLAS order differs
    if _gemm_order._machine() == (400, 320, 2):  # the goldens' machine
        np.testing.assert_array_equal(_gemm_order.matmul(case["a"], case["b"]), case[op])
