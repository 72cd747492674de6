"""OpDefs for the graph builder: stripped_op_list and default attrs, from TensorFlow's OpDefs
shipped with savedmodel (savedmodel/graph/tf_op_defs.pb.gz, tools/oracle/make_op_defs.py)."""

from __future__ import annotations

from typing import Any

from savedmodel.graph.outputs import tf_op_defs
from savedmodel.proto import op_def_pb2


def get(op_type: str) -> op_def_pb2.OpDef | None:
    return tf_op_defs().get(op_type)


def stripped_op_list(op_types: set[str]) -> op_def_pb2.OpList:
    """OpList of the used ops, sorted by name, with their docs stripped (as TF writes it)."""
    out = op_def_pb2.OpList()
    for name in sorted(op_types):
        op = get(name)
        if op is None:
            continue
        copy = out.op.add()
        copy.CopyFrom(op)
        copy.ClearField("summary")
        copy.ClearField("description")
        for arg in list(copy.input_arg) + list(copy.output_arg):
            arg.ClearField("description")
        for attr in copy.attr:
            attr.ClearField("description")
    return out


def strip_default_attrs(nodes: Any) -> None:
    """Drop attrs equal to their OpDef default, in a GraphDef or a list of NodeDefs
    (what `strip_default_attrs=True` and TF2 saving write)."""
    for node in getattr(nodes, "node", nodes):
        op_def = get(node.op)
        if op_def is None:
            continue
        for attr in op_def.attr:
            has_default = attr.HasField("default_value") and attr.name in node.attr
            if has_default and node.attr[attr.name] == attr.default_value:
                del node.attr[attr.name]
