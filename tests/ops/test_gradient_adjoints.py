"""Gradient kernels are the adjoints of our forward kernels, including cases TensorFlow's CPU
kernels refuse (dilated filter gradients), so no TensorFlow golden exists for them.

For a forward op linear in one input, <forward(e_k), g> over unit vectors e_k is the exact
gradient; the gradient kernel must agree to float64 rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.proto import attr_value_pb2

_rng = np.random.default_rng(7)


def _run(op: str, *inputs: np.ndarray, **attrs: object) -> np.ndarray:
    amap = {}
    for name, value in attrs.items():
        av = attr_value_pb2.AttrValue()
        if isinstance(value, bool):
            av.b = value
        elif isinstance(value, str):
            av.s = value.encode()
        else:
            av.list.i.extend(value)  # type: ignore[attr-defined]
        amap[name] = av
    return lookup(op).prepare(NodeSpec(name="n", op=op, attrs=Attrs(amap), num_inputs=len(inputs)))(
        None, *inputs
    )


def _jacobian_transpose(
    forward: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...], g: np.ndarray
) -> np.ndarray:
    size = int(np.prod(shape))
    rows = [np.sum(forward(np.eye(size)[k].reshape(shape)) * g) for k in range(size)]
    return np.array(rows).reshape(shape)


@pytest.mark.parametrize(
    ("forward", "backward", "attrs"),
    [
        (
            "Conv2D",
            "Conv2DBackpropFilter",
            {"strides": [1, 1, 1, 1], "padding": "VALID", "dilations": [1, 2, 2, 1]},
        ),
        (
            "Conv2D",
            "Conv2DBackpropFilter",
            {"strides": [1, 2, 1, 1], "padding": "SAME", "dilations": [1, 1, 2, 1]},
        ),
        ("Conv3D", "Conv3DBackpropFilterV2", {"strides": [1, 2, 1, 2, 1], "padding": "SAME"}),
        (
            "DepthwiseConv2dNative",
            "DepthwiseConv2dNativeBackpropFilter",
            {"strides": [1, 1, 1, 1], "padding": "SAME", "dilations": [1, 2, 2, 1]},
        ),
    ],
)
def test_filter_gradients_are_adjoints(forward: str, backward: str, attrs: dict) -> None:
    rank = len(attrs["strides"])
    x = _rng.normal(size=(2, 6, 5, 3) if rank == 4 else (1, 5, 4, 5, 2))
    if forward == "DepthwiseConv2dNative":
        w_shape: tuple[int, ...] = (3, 2, 3, 2)
    else:
        w_shape = (3, 2, x.shape[-1], 4) if rank == 4 else (2, 3, 2, x.shape[-1], 2)
    g = _rng.normal(size=_run(forward, x, np.zeros(w_shape), **attrs).shape)
    expected = _jacobian_transpose(lambda w: _run(forward, x, w, **attrs), w_shape, g)
    got = _run(backward, x, np.array(w_shape, np.int32), g, **attrs)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
def test_mirror_pad_gradient_is_the_adjoint(mode: str) -> None:
    x_shape, pads = (4, 5), np.array([[3, 1], [0, 4]], np.int32)
    g = _rng.normal(size=_run("MirrorPad", np.zeros(x_shape), pads, mode=mode).shape)
    expected = _jacobian_transpose(lambda x: _run("MirrorPad", x, pads, mode=mode), x_shape, g)
    np.testing.assert_allclose(_run("MirrorPadGrad", g, pads, mode=mode), expected, rtol=1e-12)


@pytest.mark.parametrize("flags", [{}, {"align_corners": True}, {"half_pixel_centers": True}])
@pytest.mark.parametrize("size", [(5, 7), (2, 3)])
def test_resize_gradients_are_adjoints(flags: dict, size: tuple[int, int]) -> None:
    x_shape = (1, 3, 4, 2)
    out = np.array(size, np.int32)
    g = _rng.normal(size=(1, *size, 2)).astype(np.float32)
    bilinear = _jacobian_transpose(
        lambda x: _run("ResizeBilinear", x.astype(np.float32), out, **flags), x_shape, g
    )
    got = _run("ResizeBilinearGrad", g, np.zeros(x_shape, np.float32), **flags)
    np.testing.assert_allclose(got, bilinear, rtol=1e-5, atol=1e-6)
    nearest = _jacobian_transpose(lambda x: _run("ResizeNearestNeighbor", x, out, **flags), x_shape, g)
    got = _run("ResizeNearestNeighborGrad", g, np.array(x_shape[1:3], np.int32), **flags)
    np.testing.assert_allclose(got, nearest, rtol=1e-5, atol=1e-6)
