"""Load the TensorFlow-made kernel goldens (tests/fixtures/kernels) and run them through our kernels."""

from __future__ import annotations

import base64
import functools
import gzip
import json
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.proto import node_def_pb2

KERNELS = Path(__file__).resolve().parents[1] / "fixtures" / "kernels"
# Golden sets, each a cases.json.gz with its <family>.npz arrays beside it: the general one
# (tools/oracle/make_kernel_goldens.py) and its siblings' (kernels_random, kernels_jpeg, ...:
# tools/oracle/golden_sets.py).
GOLDEN_DIRS = tuple(sorted(p.parent for p in KERNELS.parent.glob("kernels*/cases.json.gz")))

# Comparison tolerances by dtype (rtol, atol); a case may override them (stated in its note).
TOLERANCE = {
    "float16": (2e-3, 1e-3),
    "bfloat16": (1e-2, 1e-2),
    "float32": (1e-5, 1e-6),
    "float64": (1e-10, 1e-12),
    "complex64": (1e-5, 1e-6),
    "complex128": (1e-10, 1e-12),
}


@functools.cache
def cases() -> list[dict[str, Any]]:
    """Every golden case; each records the set ("dir") its arrays live in."""
    entries = []
    for directory in GOLDEN_DIRS:
        doc = json.loads(gzip.decompress((directory / "cases.json.gz").read_bytes()))
        entries += [{**entry, "dir": directory.name} for entry in doc["cases"]]
    return entries


@functools.cache
def _npz(family: str, directory: str = KERNELS.name) -> Any:
    return np.load(KERNELS.parent / directory / f"{family}.npz")


def _np_dtype(name: str) -> np.dtype:
    if hasattr(ml_dtypes, name) and not hasattr(np, name):
        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


def array(ref: dict[str, Any], family: str, directory: str = KERNELS.name) -> np.ndarray:
    if ref["dtype"] == "string":
        out = np.empty(len(ref["b64"]), dtype=object)
        out[:] = [base64.b64decode(v) for v in ref["b64"]]
        return out.reshape(ref["shape"])
    raw = _npz(family, directory)[ref["key"]]
    dtype = _np_dtype(ref["dtype"])
    if raw.dtype != dtype:
        raw = raw.view(dtype)
    return raw.reshape(ref["shape"])


def node_spec(entry: dict[str, Any]) -> NodeSpec:
    node = node_def_pb2.NodeDef.FromString(base64.b64decode(entry["node_def"]))
    data_inputs = [i for i in node.input if not i.startswith("^")]
    return NodeSpec(
        name=node.name,
        op=node.op,
        attrs=Attrs(node.attr, where=node.name),
        num_inputs=len(data_inputs),
        inputs=data_inputs,
        device=node.device,
    )


def run(entry: dict[str, Any]) -> list[Any]:
    """Run a case through our kernel; inputs are read-only, as the executor may hand views."""
    kernel = lookup(entry["op"])
    if kernel is None:
        raise LookupError(f"no kernel registered for {entry['op']}")
    inputs = []
    for ref in entry["inputs"]:
        x = np.array(array(ref, entry["family"], entry.get("dir", KERNELS.name)))
        x.setflags(write=False)
        inputs.append(x)
    result = kernel.prepare(node_spec(entry))(None, *inputs)
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]


def assert_matches(entry: dict[str, Any], got: list[Any]) -> None:
    expected = [
        array(ref, entry["family"], entry.get("dir", KERNELS.name)) for ref in entry.get("outputs", [])
    ]
    assert len(got) == len(expected), f"{len(got)} outputs, TensorFlow gave {len(expected)}"
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        where = f"output {k}"
        assert isinstance(g, np.ndarray), f"{where}: a {type(g).__name__}, not a NumPy array"
        assert g.dtype == e.dtype, f"{where}: dtype {g.dtype}, TensorFlow gave {e.dtype}"
        assert g.shape == e.shape, f"{where}: shape {g.shape}, TensorFlow gave {e.shape}"
        if entry.get("check") == "shape" or k in entry.get("unchecked", []):
            continue
        if entry.get("check") == "serialized":  # byte layouts may differ; the tensors must not
            from savedmodel.format import tensor as tensor_format
            from savedmodel.proto import tensor_pb2

            a = tensor_format.to_numpy(tensor_pb2.TensorProto.FromString(bytes(g[()])))
            b = tensor_format.to_numpy(tensor_pb2.TensorProto.FromString(bytes(e[()])))
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tolist() == b.tolist()
            continue
        if entry.get("check") in ("png", "jpeg"):
            _assert_same_image(g[()], e[()], entry["check"])
            continue
        name = e.dtype.name if e.dtype != object else "string"
        if name in TOLERANCE:
            rtol, atol = TOLERANCE[name]
            rtol, atol = entry.get("rtol", rtol), entry.get("atol", atol)
            gw = g.astype(np.complex128 if e.dtype.kind == "c" else np.float64)
            ew = e.astype(gw.dtype)
            np.testing.assert_allclose(gw, ew, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
        elif e.dtype == object:
            assert [bytes(v) for v in g.reshape(-1)] == [bytes(v) for v in e.reshape(-1)], where
        elif "atol" in entry:  # integer outputs with a stated tolerance (lossy codecs)
            np.testing.assert_allclose(
                g.astype(np.int64), e.astype(np.int64), rtol=0, atol=entry["atol"], err_msg=where
            )
        else:
            np.testing.assert_array_equal(g, e, err_msg=where)


def _assert_same_image(got: bytes, expected: bytes, kind: str) -> None:
    """Encoders may choose other (equally valid) compressions: compare the decoded pixels."""
    from savedmodel.ops.image import _decode_one

    if kind == "png":
        a = _decode_one(bytes(got), 0, np.dtype(np.uint16), "PNG")
        b = _decode_one(bytes(expected), 0, np.dtype(np.uint16), "PNG")
        np.testing.assert_array_equal(a, b)
    else:  # lossy: decoded pixels within a few levels of TensorFlow's own encoding
        a = _decode_one(bytes(got), 0, np.dtype(np.uint8), "JPEG").astype(int)
        b = _decode_one(bytes(expected), 0, np.dtype(np.uint8), "JPEG").astype(int)
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 8
