"""Plan-level fusion (savedmodel/runtime/fusion.py): producer -> elementwise followers chains run as
one step, in place, with the same bits as the kernels run one by one."""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel.errors import ExecutionError
from savedmodel.ops import nn
from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.proto import attr_value_pb2
from savedmodel.runtime import fusion
from savedmodel.runtime.session import GraphSession
from tests.graph_builder import DT, attr, const, graph, node, placeholder, type_attr

F = DT.DT_FLOAT
RNG = np.random.default_rng(7)
CHANNELS = 16


def _params() -> dict[str, np.ndarray]:
    return {
        "w": RNG.standard_normal((3, 3, 8, CHANNELS)).astype(np.float32),
        "dw": RNG.standard_normal((3, 3, CHANNELS, 1)).astype(np.float32),
        "bias": RNG.standard_normal(CHANNELS).astype(np.float32),
        "scale": RNG.uniform(0.5, 2, CHANNELS).astype(np.float32),
        "offset": RNG.standard_normal(CHANNELS).astype(np.float32),
        "mean": RNG.standard_normal(CHANNELS).astype(np.float32),
        "var": RNG.uniform(0.5, 2, CHANNELS).astype(np.float32),
    }


def _ints(values: list[int]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    value.list.i.extend(values)
    return value


CONV = {"T": type_attr(F), "strides": _ints([1, 1, 1, 1]), "padding": "SAME", "data_format": "NHWC"}
BN = {"T": type_attr(F), "U": type_attr(F), "epsilon": 1e-3, "is_training": False}


def _chain_graph(params: dict[str, np.ndarray], bias: str = "bias") -> list:
    return [
        placeholder("x"),
        *(const(name, value) for name, value in params.items()),
        node("conv", "Conv2D", "x", "w", **CONV),
        node("biased", "BiasAdd", "conv", bias, T=type_attr(F)),
        node("bn", "FusedBatchNormV3", "biased", "scale", "offset", "mean", "var", **BN),
        node("relu", "Relu", "bn", T=type_attr(F)),
        node("dw_conv", "DepthwiseConv2dNative", "relu", "dw", **CONV),
        node("bn2", "FusedBatchNormV3", "dw_conv", "scale", "offset", "mean", "var", **BN),
        node("relu6", "Relu6", "bn2", T=type_attr(F)),
        node("shifted", "AddV2", "relu6", "offset", T=type_attr(F)),  # a whole-output producer
        node("out", "Relu", "shifted", T=type_attr(F)),
    ]


def _kernel(op: str, **attrs: object):
    amap = {k: attr(v) for k, v in attrs.items()}
    return lookup(op).prepare(NodeSpec("n", op, Attrs(amap), 0))


def _one_by_one(x: np.ndarray, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    y = _kernel("Conv2D", **CONV)(None, x, p["w"])
    y = _kernel("BiasAdd")(None, y, p["bias"])
    y = _kernel("FusedBatchNormV3", **BN)(None, y, p["scale"], p["offset"], p["mean"], p["var"])[0]
    first = _kernel("Relu")(None, y)
    y = _kernel("DepthwiseConv2dNative", **CONV)(None, first, p["dw"])
    y = _kernel("FusedBatchNormV3", **BN)(None, y, p["scale"], p["offset"], p["mean"], p["var"])[0]
    second = _kernel("Relu6")(None, y)
    return first, second, _kernel("Relu")(None, _kernel("AddV2")(None, second, p["offset"]))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("small_blocks", [False, True])
def test_fused_chains_equal_the_kernels_bit_for_bit(
    batch: int, small_blocks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small_blocks:  # several blocks per image (rows) and per batch (images)
        monkeypatch.setattr(nn, "_CONV_BLOCK_BYTES", 1 << 12)
        monkeypatch.setattr(nn, "_CONV_BLOCK_ROWS", 1)
        monkeypatch.setattr(nn, "_DEPTHWISE_BLOCK_BYTES", 1 << 9)
        monkeypatch.setattr(fusion, "CHUNK_BYTES", 1 << 8)
    params = _params()
    x = RNG.standard_normal((batch, 20, 20, 8)).astype(np.float32)
    sess = GraphSession(graph(*_chain_graph(params)))
    plan = sess.prepare(["x:0"], ["out:0"])
    assert [s.op for s in plan.steps] == ["Relu", "Relu6", "Relu"]  # three fused steps
    out = sess.run("out:0", {"x:0": x})
    np.testing.assert_array_equal(out, _one_by_one(x, params)[2])


def test_fetched_intermediates_stay_unfused() -> None:
    params = _params()
    x = RNG.standard_normal((2, 9, 9, 8)).astype(np.float32)
    sess = GraphSession(graph(*_chain_graph(params)))
    relu, relu6 = sess.run(["relu:0", "relu6:0"], {"x:0": x})
    plan = sess.prepare(["x:0"], ["relu:0", "relu6:0"])
    assert "Relu" in [s.op for s in plan.steps]
    expected = _one_by_one(x, params)
    np.testing.assert_array_equal(relu, expected[0])
    np.testing.assert_array_equal(relu6, expected[1])


def test_inputs_outside_the_fused_path_run_the_kernels_and_name_the_failing_node() -> None:
    params = _params()
    params["short_bias"] = params["bias"][:4]
    sess = GraphSession(graph(*_chain_graph(params, bias="short_bias")))
    with pytest.raises(ExecutionError) as info:
        sess.run("relu6:0", {"x:0": np.zeros((1, 5, 5, 8), np.float32)})
    assert info.value.node == "biased"


def test_half_precision_chains_round_as_the_kernels_do() -> None:
    """float16 convolutions round their result before the bias is added: not fused in place."""
    params = {k: v.astype(np.float16) for k, v in _params().items()}
    half = {**CONV, "T": type_attr(DT.DT_HALF)}
    g = graph(
        placeholder("x", DT.DT_HALF),
        *(const(name, value) for name, value in params.items()),
        node("dw_conv", "DepthwiseConv2dNative", "x", "dw", **half),
        node("biased", "BiasAdd", "dw_conv", "bias", T=type_attr(DT.DT_HALF)),
        node("out", "Relu", "biased", T=type_attr(DT.DT_HALF)),
    )
    x = RNG.standard_normal((2, 7, 7, CHANNELS)).astype(np.float16)
    expected = _kernel("DepthwiseConv2dNative", **half)(None, x, params["dw"])
    expected = _kernel("Relu")(None, _kernel("BiasAdd")(None, expected, params["bias"]))
    np.testing.assert_array_equal(GraphSession(g).run("out:0", {"x:0": x}), expected)


def _swish_graph(dtype: int, beta: np.ndarray | None) -> list:
    t = type_attr(dtype)
    inner = [node("sig", "Sigmoid", "x", T=t)]
    if beta is not None:  # Keras 3: x * sigmoid(beta * x)
        inner = [
            const("beta", beta),
            node("scaled", "Mul", "beta", "x", T=t),
            node("sig", "Sigmoid", "scaled", T=t),
        ]
    return [placeholder("x", dtype), *inner, node("out", "Mul", "x", "sig", T=t)]


@pytest.mark.parametrize("beta", [None, np.float32(1.0), np.float32(0.7), np.array([1.5], np.float32)])
@pytest.mark.parametrize("size", [5, 8, 70001])  # the scalar tail only, packets only, chunks and a tail
def test_swish_is_one_step_with_the_kernels_bits(beta: np.ndarray | None, size: int) -> None:
    x = (RNG.standard_normal(size) * 40).astype(np.float32)
    x[:3] = [np.nan, -np.inf, np.inf]
    sess = GraphSession(graph(*_swish_graph(F, None if beta is None else np.asarray(beta))))
    plan = sess.prepare(["x:0"], ["out:0"])
    assert [s.op for s in plan.steps] == ["Mul"]
    s = x if beta is None else _kernel("Mul")(None, np.asarray(beta), x)
    expected = _kernel("Mul")(None, x, _kernel("Sigmoid")(None, s))
    out = sess.run("out:0", {"x:0": x})
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))


def test_swish_outside_the_fused_path_runs_the_kernels() -> None:
    """float64 runs the kernels; a beta of another shape broadcasts as the Mul kernel does; a
    fetched sigmoid keeps its own step."""
    x = RNG.standard_normal((3, 4))
    sess = GraphSession(graph(*_swish_graph(DT.DT_DOUBLE, None)))
    np.testing.assert_array_equal(sess.run("out:0", {"x:0": x}), x * (0.5 * np.tanh(0.5 * x) + 0.5))
    wide = RNG.standard_normal((3, 4)).astype(np.float32)
    beta = np.full((2, 3, 4), 0.5, np.float32)
    out = GraphSession(graph(*_swish_graph(F, beta))).run("out:0", {"x:0": wide})
    sig = _kernel("Sigmoid")(None, _kernel("Mul")(None, beta, wide))
    np.testing.assert_array_equal(out, _kernel("Mul")(None, wide, sig))
    sess = GraphSession(graph(*_swish_graph(F, None)))
    assert "Sigmoid" in [s.op for s in sess.prepare(["x:0"], ["out:0", "sig:0"]).steps]


@pytest.mark.parametrize("chunk_bytes", [1 << 18, 100])  # one chunk; chunks of one pixel
@pytest.mark.parametrize("dtype", [F, DT.DT_DOUBLE])
def test_batch_norm_producer_chains_equal_the_kernels(
    chunk_bytes: int, dtype: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DenseNet's order: batch norm (its input read elsewhere too) -> ReLU, in chunks."""
    monkeypatch.setattr(nn, "_BATCH_NORM_CHUNK_BYTES", chunk_bytes)
    np_type = np.float32 if dtype == F else np.float64
    params = {k: v.astype(np_type) for k, v in _params().items() if k in ("scale", "offset", "mean", "var")}
    bn = {**BN, "T": type_attr(dtype), "U": type_attr(dtype)}
    g = graph(
        placeholder("x", dtype),
        *(const(name, value) for name, value in params.items()),
        node("bn", "FusedBatchNormV3", "x", "scale", "offset", "mean", "var", **bn),
        node("out", "Relu", "bn", T=type_attr(dtype)),
    )
    x = RNG.standard_normal((3, 5, 6, CHANNELS)).astype(np_type)
    sess = GraphSession(g)
    assert [s.op for s in sess.prepare(["x:0"], ["out:0"]).steps] == ["Relu"]
    y = _kernel("FusedBatchNormV3", **bn)(None, x, *(params[k] for k in ("scale", "offset", "mean", "var")))[
        0
    ]
    np.testing.assert_array_equal(sess.run("out:0", {"x:0": x}), _kernel("Relu")(None, y))
    np.testing.assert_array_equal(sess.run("out:0", {"x:0": x[:, ::2]}), _kernel("Relu")(None, y[:, ::2]))
