"""Output layouts come from OpDefs: the graph's own, else TensorFlow's shipped table."""

from __future__ import annotations

import pytest

from savedmodel.graph import outputs
from savedmodel.graph.outputs import layout_from_opdef, output_layout, tf_op_defs
from savedmodel.ops import registry
from savedmodel.proto import attr_value_pb2, op_def_pb2


def _int(value: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(i=value)


def _types(*enums: int) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(type=list(enums)))


def test_there_is_no_hand_table():
    assert not hasattr(outputs, "_KNOWN") and not hasattr(outputs, "_NO_OUTPUTS")


def test_every_registered_op_with_an_op_def_takes_its_layout_from_it():
    table = tf_op_defs()
    kernels = registry.all_kernels()
    covered = [op for op in kernels if op in table]
    # Every kernel registered under a TensorFlow op name has its OpDef shipped.
    assert set(kernels) - set(covered) <= {"VariableV1"}
    for op in covered:
        assert output_layout(op, {}, {}) == layout_from_opdef(table[op], {}), op


@pytest.mark.parametrize(
    ("op", "attrs", "count", "single"),
    [
        ("Split", {"num_split": _int(3)}, 3, False),
        ("SplitV", {"num_split": _int(4)}, 4, False),
        ("ShapeN", {"N": _int(5)}, 5, False),
        ("ListDiff", {}, 2, False),
        ("DynamicPartition", {"num_partitions": _int(3)}, 3, False),
        ("BroadcastGradientArgs", {}, 2, False),
        ("Unique", {}, 2, False),
        ("UniqueWithCounts", {}, 3, False),
        ("TopKV2", {}, 2, False),
        ("FusedBatchNorm", {}, 5, False),
        ("FusedBatchNormV3", {}, 6, False),
        ("Unpack", {"num": _int(2)}, 2, False),
        ("IdentityN", {"T": _types(1, 3, 7)}, 3, False),
        ("Switch", {}, 2, False),
        ("Merge", {}, 2, False),
        ("NoOp", {}, 0, False),
        ("AssignVariableOp", {}, 0, False),
        ("TensorListSetItem", {}, 1, True),
        ("Relu", {}, 1, True),
        ("MaxPoolWithArgmax", {}, 2, False),
        ("QuantizeV2", {}, 3, False),
        ("SparseSplit", {"num_split": _int(2)}, 6, False),
    ],
)
def test_multi_output_ops(op, attrs, count, single):
    layout = output_layout(op, attrs, {})
    assert (layout.count, layout.single) == (count, single)


def test_offsets_name_each_output_arg():
    layout = output_layout("SparseSplit", {"num_split": _int(3)}, {})
    assert dict(layout.offsets) == {"output_indices": 0, "output_values": 3, "output_shape": 6}


def test_a_graphs_own_op_def_comes_first():
    own = op_def_pb2.OpDef(name="Relu")
    own.output_arg.add(name="a", type=1)
    own.output_arg.add(name="b", type=1)
    assert output_layout("Relu", {}, {"Relu": own}).count == 2


def test_custom_ops_without_op_def():
    shapes = attr_value_pb2.AttrValue()
    shapes.list.shape.add()
    shapes.list.shape.add()
    assert output_layout("MyCustomOp", {}, {}).count == 1
    assert output_layout("MyCustomOp", {"_output_shapes": shapes}, {}).count == 2
