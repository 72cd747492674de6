"""Kernel behaviour that TensorFlow goldens cannot pin down: random distributions and seeding,
codec round trips, policy refusals, optional-dependency errors."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from savedmodel.errors import ExecutionError, PolicyError
from savedmodel.format.dtypes import DT
from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.proto import attr_value_pb2


def _node(op: str, **attrs: object) -> NodeSpec:
    amap = {}
    for name, value in attrs.items():
        av = attr_value_pb2.AttrValue()
        if isinstance(value, bool):
            av.b = value
        elif isinstance(value, int) and name in ("dtype", "T", "out_type"):
            av.type = value
        elif isinstance(value, int):
            av.i = value
        elif isinstance(value, bytes):
            av.s = value
        amap[name] = av
    return NodeSpec(name="n", op=op, attrs=Attrs(amap), num_inputs=0)


def _run(op: str, *inputs: np.ndarray, **attrs: object) -> object:
    return lookup(op).prepare(_node(op, **attrs))(None, *inputs)


SHAPE = np.array([200, 50], dtype=np.int32)


def test_random_uniform_range_dtype_and_seeded_reproducibility() -> None:
    a = _run("RandomUniform", SHAPE, dtype=DT.DT_FLOAT, seed=7, seed2=3)
    b = _run("RandomUniform", SHAPE, dtype=DT.DT_FLOAT, seed=7, seed2=3)
    assert a.dtype == np.float32 and a.shape == (200, 50)
    assert a.min() >= 0 and a.max() < 1 and 0.45 < a.mean() < 0.55
    np.testing.assert_array_equal(a, b)  # same seeds, fresh node: same stream


def test_random_normal_and_truncated_normal_statistics() -> None:
    n = _run("RandomStandardNormal", SHAPE, dtype=DT.DT_DOUBLE, seed=1)
    assert n.dtype == np.float64 and abs(n.mean()) < 0.05 and 0.95 < n.std() < 1.05
    t = _run("TruncatedNormal", SHAPE, dtype=DT.DT_HALF, seed=1)
    assert t.dtype == np.float16 and np.abs(t.astype(np.float32)).max() <= 2


def test_random_uniform_int_range() -> None:
    x = _run("RandomUniformInt", SHAPE, np.array(-3, np.int64), np.array(4, np.int64), seed=5)
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 3
    with pytest.raises(ExecutionError):
        _run("RandomUniformInt", SHAPE, np.array(4, np.int32), np.array(4, np.int32))


def test_stateless_ops_are_a_function_of_the_seed() -> None:
    seed = np.array([1, 2], np.int64)
    a = _run("StatelessRandomNormal", SHAPE, seed, dtype=DT.DT_FLOAT)
    b = _run("StatelessRandomNormal", SHAPE, seed, dtype=DT.DT_FLOAT)
    c = _run("StatelessRandomNormal", SHAPE, np.array([1, 3], np.int64), dtype=DT.DT_FLOAT)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_multinomial_follows_the_logits() -> None:
    logits = np.log(np.array([[0.0001, 0.9998, 0.0001]], np.float32))
    draws = _run("Multinomial", logits, np.array(100, np.int32), seed=2)
    assert draws.shape == (1, 100) and (draws == 1).mean() > 0.95


@pytest.mark.parametrize(
    "dtype,channels", [(np.uint8, 1), (np.uint8, 2), (np.uint8, 3), (np.uint8, 4), (np.uint16, 3)]
)
def test_png_round_trip(dtype: type, channels: int) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, np.iinfo(dtype).max, size=(7, 5, channels)).astype(dtype)
    encoded = _run("EncodePng", img)
    decode_dtype = DT.DT_UINT16 if dtype == np.uint16 else DT.DT_UINT8
    decoded = _run("DecodePng", encoded, dtype=decode_dtype)
    np.testing.assert_array_equal(decoded, img)


def test_print_v2_refuses_file_outputs() -> None:
    """Without a runtime that allows file access, printing to a file is refused when it runs."""
    run = lookup("PrintV2").prepare(_node("PrintV2", output_stream=b"file:///tmp/x"))
    with pytest.raises(PolicyError):
        run(None, np.array(b"text", dtype=object))


def test_gif_without_pillow_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pil(name: str, *args: object, **kwargs: object) -> object:
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no PIL")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    gif = np.array(b"GIF89a" + b"\0" * 20, dtype=object)
    with pytest.raises(ExecutionError, match=r"Pillow: pip install 'savedmodel\[image\]'"):
        _run("DecodeGif", gif)
    jpeg = np.array(b"\xff\xd8\xff\xe0" + b"\0" * 20, dtype=object)  # JPEG needs no Pillow
    with pytest.raises(ExecutionError, match="Invalid JPEG data"):
        _run("DecodeJpeg", jpeg)


def test_assert_raises_execution_error() -> None:
    with pytest.raises(ExecutionError, match="assertion failed"):
        _run("Assert", np.array(False), np.array(b"boom", dtype=object))
    assert _run("Assert", np.array(True)) == []


def _scalar_variants() -> list[tuple[str, dict]]:
    """Golden cases of elementwise ops whose inputs are all float32: rerun them on 0-d inputs."""
    from tests.ops import golden

    seen, picked = set(), []
    for entry in golden.cases():
        if entry["op"] in seen or "error" in entry or entry["family"] not in ("math", "nn"):
            continue
        refs = entry["inputs"]
        if 1 <= len(refs) <= 2 and all(r["dtype"] == "float32" and len(r["shape"]) == 1 for r in refs):
            seen.add(entry["op"])
            picked.append((entry["op"], entry))
    return picked


@pytest.mark.parametrize("op,entry", _scalar_variants(), ids=[op for op, _ in _scalar_variants()])
def test_elementwise_kernels_return_arrays_for_scalars(op: str, entry: dict) -> None:
    """0-d inputs give 0-d NumPy arrays (not NumPy scalars), as the executor expects."""
    from tests.ops import golden

    inputs = [
        np.array(golden.array(r, entry["family"]).reshape(-1)[:1].reshape(()), copy=True)
        for r in entry["inputs"]
    ]
    try:
        result = lookup(op).prepare(golden.node_spec(entry))(None, *inputs)
    except ExecutionError:
        return
    for out in result if isinstance(result, (list, tuple)) else [result]:
        assert isinstance(out, np.ndarray), f"{op} returned {type(out).__name__}"
