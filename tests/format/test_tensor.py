"""TensorProto <-> NumPy (format/tensor.py) against tf.make_tensor_proto and TF's C++ decoding."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from savedmodel.errors import FormatError
from savedmodel.format import dtypes, tensor
from savedmodel.proto import tensor_pb2

from .helpers import golden, matches_golden

CASES = golden()["tensor_protos"]
MADE = sorted(name for name, case in CASES.items() if "input" in case)


def decode_described(description: dict) -> np.ndarray:
    """Rebuild a value stored by make_format_fixtures.describe."""
    if "strings_hex" in description:
        flat = np.empty(len(description["strings_hex"]), dtype=object)
        flat[:] = [bytes.fromhex(h) for h in description["strings_hex"]]
        return flat.reshape(description["shape"])
    np_dtype = dtypes.as_numpy_dtype(dtypes.from_name(description["dtype"]))
    return np.frombuffer(bytes.fromhex(description["hex"]), dtype=np_dtype).reshape(description["shape"])


def parse(hex_text: str) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto()
    proto.ParseFromString(bytes.fromhex(hex_text))
    return proto


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_numpy_matches_tf_cpp_decoding(name: str) -> None:
    case = CASES[name]
    value = tensor.to_numpy(parse(case["proto_hex"]))
    assert (
        dtypes.dtype_name(dtypes.from_numpy(value.dtype)) == case["tf_value"]["dtype"]
        or value.dtype == object
    )
    assert matches_golden(value, case["tf_value"]), (value, case["tf_value"])


@pytest.mark.parametrize("name", MADE)
def test_from_numpy_matches_make_tensor_proto(name: str) -> None:
    case = CASES[name]
    value = decode_described(case["input"])
    dtype = dtypes.from_name(case["dtype_arg"]) if case["dtype_arg"] else None
    ours = tensor.from_numpy(value, dtype=dtype, shape=case["shape_arg"])
    assert ours == parse(case["proto_hex"]), name
    assert ours.SerializeToString(deterministic=True).hex() == case["proto_hex"]


def test_half_val_packing() -> None:
    proto = tensor.from_numpy(np.float16(1.0))
    assert list(proto.half_val) == [0x3C00]
    proto = tensor.from_numpy(np.array([-2.0], ml_dtypes.bfloat16))
    assert list(proto.half_val) == [0xC000]
    assert tensor.to_numpy(proto).dtype == ml_dtypes.bfloat16


def test_shapes() -> None:
    assert tensor.shape_from_proto(tensor.shape_to_proto([2, None])) == (2, -1)
    assert tensor.shape_from_proto(tensor.shape_to_proto(None)) is None
    assert tensor.shape_from_proto(tensor.shape_to_proto(())) == ()


def test_bad_protos() -> None:
    proto = tensor_pb2.TensorProto(dtype=dtypes.DT.DT_FLOAT, tensor_content=b"\0" * 5)
    proto.tensor_shape.dim.add(size=2)
    with pytest.raises(FormatError, match="needs 8 bytes"):
        tensor.to_numpy(proto)
    proto = tensor_pb2.TensorProto(dtype=dtypes.DT.DT_FLOAT)
    proto.tensor_shape.dim.add(size=-1)
    with pytest.raises(FormatError, match="not fully defined"):
        tensor.to_numpy(proto)
    proto = tensor_pb2.TensorProto(dtype=dtypes.DT.DT_FLOAT, float_val=[1, 2, 3])
    with pytest.raises(FormatError, match="holds 3 values"):
        tensor.to_numpy(proto)
    with pytest.raises(FormatError, match="broadcast"):
        tensor.from_numpy(np.ones(2), shape=[3])
    with pytest.raises(FormatError, match="unknown"):
        dtypes.as_numpy_dtype(999)


def test_dtype_names() -> None:
    assert dtypes.from_name("DT_HALF") == dtypes.DT.DT_HALF
    assert dtypes.from_name("half") == dtypes.DT.DT_HALF
    assert dtypes.dtype_name(dtypes.DT.DT_FLOAT_REF) == "float32_ref"
    assert dtypes.enum_name(dtypes.DT.DT_BFLOAT16) == "DT_BFLOAT16"
    assert dtypes.from_numpy(np.dtype(ml_dtypes.int4)) == dtypes.DT.DT_INT4
    assert dtypes.from_numpy(np.dtype("S3")) == dtypes.DT.DT_STRING


def test_element_bytes_is_the_one_string_element_rule():
    import pytest

    from savedmodel.format.tensor import element_bytes

    assert element_bytes(b"a") == b"a"
    assert element_bytes("é") == "é".encode()
    assert element_bytes(np.bytes_(b"x")) == b"x"
    assert element_bytes(np.str_("y")) == b"y"
    assert element_bytes(bytearray(b"z")) == b"z"
    assert element_bytes(memoryview(b"m")) == b"m"
    assert element_bytes(np.array(b"0d", dtype=object)) == b"0d"
    for bad in (5, 1.5, None, np.array([b"a"], dtype=object)):
        with pytest.raises(TypeError):
            element_bytes(bad)
