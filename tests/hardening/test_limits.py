"""policy.Limits: each limit is enforced, and work under the limit still gives the right values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.errors import LimitExceededError, SavedModelError
from savedmodel.format import tensor as tensor_format
from savedmodel.policy import (
    DEFAULT_POLICY,
    Limits,
    Policy,
    active_limits,
    check_call_bytes,
    check_image_pixels,
    check_string_length,
    check_tensor_bytes,
    using_limits,
)
from savedmodel.proto import tensor_pb2
from tests.graph_builder import (
    F32,
    I64,
    STR,
    call,
    call_chain,
    const,
    counting_while_functions,
    endless_tf1_loop_nodes,
    func_attr,
    function,
    node,
    placeholder,
    tensor_info,
    type_attr,
    type_list,
    write_model,
)

X2 = {"x": tensor_info("x:0", F32, [2])}
Y = {"y": tensor_info("y:0", F32, None)}


def _policy(**limits: int | None) -> Policy:
    return Policy(limits=Limits(**limits))


def _model(tmp: Path, *nodes: object, functions: tuple = (), outputs: dict | None = None) -> Path:
    return write_model(
        tmp / "m", [placeholder("x", F32, [2]), *nodes], X2, outputs or Y, functions=list(functions)
    )


def _run(path: Path, policy: Policy, x: np.ndarray | None = None) -> np.ndarray:
    loaded = savedmodel.load(path, policy=policy)
    return loaded.signatures["serving_default"](x=np.array([1.0, 2.0], np.float32) if x is None else x)["y"]


def test_defaults() -> None:
    limits = DEFAULT_POLICY.limits
    assert limits.max_bytes_per_tensor == 4 << 30
    assert limits.max_function_depth == 100
    assert limits.max_while_iterations == 50_000
    assert limits.max_call_seconds is None
    assert active_limits() is limits


# --------------------------------------------------------------------------- bytes per tensor


def test_using_limits_is_scoped() -> None:
    small = Limits(max_bytes_per_tensor=100)
    with using_limits(small):
        assert active_limits() is small
        with pytest.raises(LimitExceededError, match="max_bytes_per_tensor"):
            check_tensor_bytes([26], 4, "t")
        check_tensor_bytes([25], 4, "t")
    assert active_limits() is DEFAULT_POLICY.limits


def test_const_decoding_checks_declared_shape_before_allocating() -> None:
    proto = tensor_pb2.TensorProto(dtype=F32, float_val=[3.0])
    for size in (10**6, 10**6):
        proto.tensor_shape.dim.add(size=size)
    with pytest.raises(LimitExceededError, match="TensorProto"):
        tensor_format.to_numpy(proto)
    # no int64 overflow: 2**40 * 2**40 elements is refused, not wrapped to a small count
    proto = tensor_pb2.TensorProto(dtype=F32, float_val=[3.0])
    for size in (2**40, 2**40, 16):
        proto.tensor_shape.dim.add(size=size)
    with pytest.raises(LimitExceededError):
        tensor_format.to_numpy(proto)


def test_const_limit_follows_the_load_policy(tmp_path: Path) -> None:
    path = _model(
        tmp_path, const("c", np.arange(64, dtype=np.float32)), node("y", "Identity", "c", T=type_attr(F32))
    )
    with pytest.raises(LimitExceededError):
        savedmodel.load(path, policy=_policy(max_bytes_per_tensor=128))
    np.testing.assert_array_equal(
        _run(path, _policy(max_bytes_per_tensor=256)), np.arange(64, dtype=np.float32)
    )


@pytest.mark.parametrize(
    "nodes",
    [
        [
            const("d", np.array([8, 8], np.int64)),
            const("v", np.float32(7)),
            node("y", "Fill", "d", "v", T=type_attr(F32)),
        ],
        [
            const("m", np.array([32], np.int64)),
            node("y", "Tile", "x", "m", T=type_attr(F32), Tmultiples=type_attr(I64)),
        ],
        [const("s", np.array([32, 2], np.int64)), node("y", "BroadcastTo", "x", "s", T=type_attr(F32))],
        [
            const("a", np.float32(0)),
            const("b", np.float32(64)),
            const("d", np.float32(1)),
            node("y", "Range", "a", "b", "d", Tidx=type_attr(F32)),
        ],
    ],
    ids=["Fill", "Tile", "BroadcastTo", "Range"],
)
def test_creation_kernels_check_output_size(nodes: list, tmp_path: Path) -> None:
    """64 float32 elements = 256 bytes: refused under a 255-byte limit, computed under 256."""
    path = _model(tmp_path, *nodes)
    with pytest.raises(LimitExceededError, match="max_bytes_per_tensor"):
        _run(path, _policy(max_bytes_per_tensor=255))
    out = _run(path, _policy(max_bytes_per_tensor=256))
    assert out.size == 64 and out.dtype == np.float32
    if nodes[-1].op == "Fill":
        assert (out == 7).all()
    if nodes[-1].op == "Tile":
        np.testing.assert_array_equal(out, np.tile(np.array([1, 2], np.float32), 32))
    if nodes[-1].op == "Range":
        np.testing.assert_array_equal(out, np.arange(64, dtype=np.float32))


# --------------------------------------------------------------------------- bytes per call


def test_bytes_per_call(tmp_path: Path) -> None:
    path = _model(tmp_path, node("y", "Neg", "x", T=type_attr(F32)))
    with pytest.raises(LimitExceededError, match="max_bytes_per_call"):
        _run(path, _policy(max_bytes_per_call=7))
    np.testing.assert_array_equal(_run(path, _policy(max_bytes_per_call=8)), [-1.0, -2.0])
    with pytest.raises(LimitExceededError):
        check_call_bytes([np.zeros(3, np.int64)], "call", Limits(max_bytes_per_call=16))


# --------------------------------------------------------------------------- strings


def test_string_length(tmp_path: Path) -> None:
    path = _model(
        tmp_path,
        const("s", np.array([b"ab" * 10], dtype=object)),
        node("y", "StringJoin", "s", "s", N=2, separator=b"-"),
        outputs={"y": tensor_info("y:0", STR, [1])},
    )
    with pytest.raises(LimitExceededError, match="max_string_length"):
        _run(path, _policy(max_string_length=40))
    assert _run(path, _policy(max_string_length=41)).tolist() == [b"ab" * 10 + b"-" + b"ab" * 10]
    path = _model(
        tmp_path / "w",
        node("y", "AsString", "x", T=type_attr(F32), width=12, precision=1),
        outputs={"y": tensor_info("y:0", STR, [2])},
    )
    with pytest.raises(LimitExceededError):
        _run(path, _policy(max_string_length=11))
    assert _run(path, _policy(max_string_length=12)).tolist() == [b"         1.0", b"         2.0"]
    with pytest.raises(LimitExceededError):
        check_string_length(10, "s", Limits(max_string_length=9))


def _png(width: int, height: int, idat: bytes) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _decode_model(tmp: Path, png: bytes) -> Path:
    return write_model(
        tmp / "img",
        [
            const("png", np.array(png, dtype=object)),
            node("y", "DecodePng", "png", channels=1, dtype=type_attr(4)),
        ],
        {},
        {"y": tensor_info("y:0", 4, [None, None, 1])},
    )


def _decode(path: Path, policy: Policy) -> np.ndarray:
    return savedmodel.load(path, policy=policy).signatures["serving_default"]()["y"]


def test_decoded_image_pixels(tmp_path: Path) -> None:
    import zlib

    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rows = b"".join(b"\x00" + row.tobytes() for row in pixels)  # filter type 0 per row
    path = _decode_model(tmp_path, _png(4, 3, zlib.compress(rows)))
    with pytest.raises(LimitExceededError, match="max_image_pixels"):
        _decode(path, _policy(max_image_pixels=11))
    np.testing.assert_array_equal(_decode(path, _policy(max_image_pixels=12))[..., 0], pixels)


def test_png_declaring_10_billion_pixels_is_refused_before_inflating(tmp_path: Path) -> None:
    import zlib

    path = _decode_model(tmp_path, _png(100_000, 100_000, zlib.compress(b"\x00" * 1000)))
    with pytest.raises(LimitExceededError, match="max_image_pixels"):
        _decode(path, DEFAULT_POLICY)


def test_png_zlib_bomb_stops_at_the_declared_size(tmp_path: Path) -> None:
    """A 1x1 PNG whose IDAT inflates to 64 MiB fails after a few bytes, without inflating it all."""
    import zlib

    path = _decode_model(tmp_path / "b", _png(1, 1, zlib.compress(b"\x00" * (64 << 20), 9)))
    with pytest.raises(SavedModelError, match="more pixel data"):
        _decode(path, DEFAULT_POLICY)


def test_image_pixels_helper() -> None:
    check_image_pixels(100, 100, 3, "DecodePng", Limits(max_image_pixels=10_000))
    with pytest.raises(LimitExceededError, match="max_image_pixels"):
        check_image_pixels(100, 101, 3, "DecodePng", Limits(max_image_pixels=10_000))


# --------------------------------------------------------------------------- function depth


def test_function_depth(tmp_path: Path) -> None:
    path = _model(tmp_path, call("y", "f0", ["x"], [F32], [F32]), functions=tuple(call_chain(10)))
    with pytest.raises(LimitExceededError, match="max_function_depth|depth"):
        _run(path, _policy(max_function_depth=9))
    np.testing.assert_array_equal(_run(path, _policy(max_function_depth=10)), [-1.0, -2.0])


def test_default_depth_stops_recursion_without_recursion_error(tmp_path: Path) -> None:
    rec = function(
        "rec", [("a", F32)], [("out", F32)], [call("c", "rec", ["a"], [F32], [F32])], {"out": "c:output:0"}
    )
    path = _model(tmp_path, call("y", "rec", ["x"], [F32], [F32]), functions=(rec,))
    with pytest.raises(LimitExceededError, match="depth"):
        _run(path, DEFAULT_POLICY)


# --------------------------------------------------------------------------- while iterations


def test_functional_while_iterations(tmp_path: Path) -> None:
    path = _model(
        tmp_path,
        node("y", "While", "x", T=type_list(F32), cond=func_attr("cond"), body=func_attr("body")),
        functions=counting_while_functions(),
    )
    with pytest.raises(LimitExceededError, match="max_while_iterations"):
        _run(path, _policy(max_while_iterations=48))
    np.testing.assert_array_equal(_run(path, _policy(max_while_iterations=49)), [50.0, 51.0])


def test_dataflow_while_iterations(tmp_path: Path) -> None:
    """A TF1 loop (Enter/Merge/Switch/NextIteration/Exit) that never ends stops at the limit."""
    nodes = endless_tf1_loop_nodes()
    path = _model(tmp_path, *nodes)
    with pytest.raises(LimitExceededError, match="max_while_iterations"):
        _run(path, _policy(max_while_iterations=100))


def test_tf1_while_fixture_under_and_over_the_limit() -> None:
    """The committed TF1 while-loop model runs under the default limit and stops under a tiny one."""
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "runtime" / "tf1_while"
    if not fixture.exists():
        pytest.skip("runtime fixture missing")
    loaded = savedmodel.load(fixture)
    signature = next(iter(loaded.signatures.values()))
    values = {
        k: np.ones([1 if d is None else d for d in (s.shape or [])], s.dtype)
        for k, s in signature.input_specs.items()
    }
    signature(**values)
    small = savedmodel.load(fixture, policy=_policy(max_while_iterations=1))
    with pytest.raises(LimitExceededError):
        next(iter(small.signatures.values()))(**values)
