"""tf.Example parsing of string features against TensorFlow's outputs
(tests/fixtures/runtime/parsing_goldens.json, written by tools/oracle/make_parsing_goldens.py).

Regression: a dense string feature came out as an object array of 0-d arrays, not of bytes, so a
table lookup downstream failed with "unhashable type".
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from savedmodel.api.tf.eager import run_op
from savedmodel.format import dtypes
from savedmodel.proto import attr_value_pb2, tensor_shape_pb2
from tests.conftest import FIXTURES

GOLDENS = json.loads((FIXTURES / "runtime" / "parsing_goldens.json").read_text())["cases"]
TYPES = {"string": np.dtype(object), "int64": np.dtype(np.int64), "int32": np.dtype(np.int32)}


def decode(entry: dict[str, Any]) -> np.ndarray:
    if entry["dtype"] == "string":
        flat = np.empty(len(entry["value"]), dtype=object)
        flat[:] = [bytes.fromhex(v) for v in entry["value"]]
        return flat.reshape(entry["shape"])
    return np.asarray(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def strings(values: list[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v.encode() for v in values]
    return out


def type_list(names: list[str]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    value.list.type.extend(dtypes.from_numpy(TYPES[n]) for n in names)
    return value


def shape_list(shapes: list[list[int | None]]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    for shape in shapes:
        proto = tensor_shape_pb2.TensorShapeProto()
        for dim in shape:
            proto.dim.add().size = -1 if dim is None else dim
        value.list.shape.append(proto)
    return value


def string_list(values: list[str]) -> attr_value_pb2.AttrValue:
    value = attr_value_pb2.AttrValue()
    value.list.s.extend(v.encode() for v in values)
    return value


def run_case(case: dict[str, Any]) -> list[np.ndarray]:
    serialized = decode(case["serialized"])
    defaults = [decode(d) for d in case["dense_defaults"]]
    attrs = {
        "sparse_types": type_list(case["sparse_types"]),
        "Tdense": type_list(["string" if d.dtype == object else str(d.dtype) for d in defaults]),
        "dense_shapes": shape_list(case["dense_shapes"]),
    }
    op = case["op"]
    if op == "ParseExampleV2":
        attrs["num_sparse"] = attr_value_pb2.AttrValue(i=len(case["sparse_keys"]))
        attrs["ragged_value_types"] = type_list(case["ragged_value_types"])
        attrs["ragged_split_types"] = type_list(case["ragged_split_types"])
        inputs = [
            serialized,
            strings([]),
            strings(case["sparse_keys"]),
            strings(case["dense_keys"]),
            strings(case["ragged_keys"]),
            *defaults,
        ]
    elif op == "ParseExample":
        attrs["Nsparse"] = attr_value_pb2.AttrValue(i=len(case["sparse_keys"]))
        attrs["Ndense"] = attr_value_pb2.AttrValue(i=len(case["dense_keys"]))
        keys = [np.array(k.encode(), dtype=object) for k in case["sparse_keys"] + case["dense_keys"]]
        inputs = [serialized, strings([]), *keys, *defaults]
    else:
        attrs["num_sparse"] = attr_value_pb2.AttrValue(i=len(case["sparse_keys"]))
        attrs["sparse_keys"] = string_list(case["sparse_keys"])
        attrs["dense_keys"] = string_list(case["dense_keys"])
        inputs = [serialized, *defaults]
    return list(run_op(op, attrs, inputs))


@pytest.mark.parametrize("case", GOLDENS, ids=[c["name"] for c in GOLDENS])
def test_parsing_string_features_match_tensorflow(case: dict[str, Any]) -> None:
    outputs = run_case(case)
    assert len(outputs) == len(case["outputs"])
    for i, (actual, entry) in enumerate(zip(outputs, case["outputs"], strict=True)):
        expected = decode(entry)
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, (i, actual, expected)
        if actual.dtype == object:
            # every element is bytes (not a nested 0-d array): hashable, as a table lookup needs
            assert all(type(v) is bytes for v in actual.reshape(-1)), (i, actual)
            assert actual.tolist() == expected.tolist(), i
        else:
            np.testing.assert_array_equal(actual, expected)
