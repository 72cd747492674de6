"""Every crash the fuzzers found, replayed: each now ends in a typed savedmodel error (or succeeds).

Inputs live in tests/hardening/crashes/, named `<target>-<what>.<ext>`; the target
is the fuzz target (fuzz/targets.py) that found it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.targets import TARGETS, available, run_one  # noqa: E402
from savedmodel.errors import FormatError, InvalidInputError  # noqa: E402
from savedmodel.format import tensor as tensor_format  # noqa: E402
from savedmodel.format.dtypes import DT  # noqa: E402

CRASHES = sorted((Path(__file__).resolve().parent / "crashes").iterdir())


def _target(path: Path) -> str:
    for name in sorted(TARGETS, key=len, reverse=True):
        if path.name.startswith(name + "-"):
            return name
    raise AssertionError(f"{path.name}: no fuzz target prefix")


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_crash_input_is_handled(path: Path) -> None:
    name = _target(path)
    if not available(name):
        pytest.skip(f"{TARGETS[name].module} missing")
    run_one(TARGETS[name], path.read_bytes(), timeout_s=30)


def test_dataflow_primitive_without_inputs_is_a_format_error(tmp_path: Path) -> None:
    """Enter/Switch/... with too few inputs was an IndexError inside the dataflow executor."""
    import savedmodel
    from tests.graph_builder import F32, node, placeholder, tensor_info, type_attr, write_model

    path = write_model(
        tmp_path / "m",
        [
            placeholder("x", F32, [2]),
            node("e", "Enter", T=type_attr(F32), frame_name="f"),
            node("y", "Exit", "e"),
        ],
        {"x": tensor_info("x:0", F32, [2])},
        {"y": tensor_info("y:0", F32, [2])},
    )
    with pytest.raises(FormatError, match="data inputs"):
        savedmodel.load(path)


def test_from_numpy_of_bad_variant_values_is_a_format_error() -> None:
    """from_numpy(DT_VARIANT) of non-message values raised protobuf's TypeError."""
    with pytest.raises(FormatError, match="VariantTensorDataProto"):
        tensor_format.from_numpy(np.array([b""], dtype=object), DT.DT_VARIANT)


def test_input_exprs_float_overflow_is_invalid_input() -> None:
    """A Python int too large for a float, multiplied by a float, raised OverflowError."""
    from savedmodel.cli.inputs import parse_input_exprs

    with pytest.raises(InvalidInputError, match="overflow"):
        parse_input_exprs("x=10**400*1.5")


def test_bundle_string_length_beyond_data_is_a_format_error() -> None:
    """A string element length varint of 2**64 or more reached NumPy and raised OverflowError."""
    from savedmodel.format.bundle import decode_string_tensor

    huge_varint = b"\xff" * 9 + b"\x7f"  # about 2**70
    with pytest.raises(FormatError, match="exceeds"):
        decode_string_tensor(huge_varint + b"\x00" * 8, 1, "t")


def test_object_graph_child_out_of_range_is_a_format_error(tmp_path: Path) -> None:
    """A SavedObjectGraph child naming a node id past the end raised IndexError in the loader."""
    import shutil

    import savedmodel
    from savedmodel.proto import saved_model_pb2

    model = tmp_path / "tf2-save"
    shutil.copytree(ROOT / "tests" / "fixtures" / "seed" / "tf2-save", model)
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((model / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].object_graph_def.nodes[0].children[0].node_id = 9999
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())
    with pytest.raises(FormatError, match="child"):
        savedmodel.load(model)


def test_odd_complex_parts_is_a_format_error() -> None:
    """A complex TensorProto with an odd number of parts raised NumPy's ValueError from .view()."""
    from savedmodel.proto import tensor_pb2

    proto = tensor_pb2.TensorProto(dtype=DT.DT_COMPLEX128, dcomplex_val=[1.0, 2.0, 3.0])
    proto.tensor_shape.dim.add(size=2)
    with pytest.raises(FormatError, match="odd number"):
        tensor_format.to_numpy(proto)
    proto = tensor_pb2.TensorProto(dtype=DT.DT_COMPLEX64, scomplex_val=[1.0, 2.0, 3.0, 4.0])
    proto.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(tensor_format.to_numpy(proto), np.array([1 + 2j, 3 + 4j], np.complex64))
