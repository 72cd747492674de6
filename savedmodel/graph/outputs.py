"""How many outputs a node has, and where each named output argument starts.

The authoritative source is an OpDef (MetaGraphDefs carry the OpDefs of every op
they use in `meta_info_def.stripped_op_list`). Graphs without OpDefs fall back to
a small table of the multi-output ops models commonly use; anything else is
taken as a single-output op.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from savedmodel.proto import attr_value_pb2, function_pb2, op_def_pb2

# op -> [(output arg name, sizing attr or None, "number" | "list" | None)]
_KNOWN: dict[str, list[tuple[str, str | None, str | None]]] = {
    "Switch": [("output_false", None, None), ("output_true", None, None)],
    "RefSwitch": [("output_false", None, None), ("output_true", None, None)],
    "Merge": [("output", None, None), ("value_index", None, None)],
    "RefMerge": [("output", None, None), ("value_index", None, None)],
    "Unique": [("y", None, None), ("idx", None, None)],
    "UniqueV2": [("y", None, None), ("idx", None, None)],
    "UniqueWithCounts": [("y", None, None), ("idx", None, None), ("count", None, None)],
    "TopKV2": [("values", None, None), ("indices", None, None)],
    "TopK": [("values", None, None), ("indices", None, None)],
    "Split": [("output", "num_split", "number")],
    "SplitV": [("output", "num_split", "number")],
    "Unpack": [("output", "num", "number")],
    "IdentityN": [("output", "T", "list")],
    "PartitionedCall": [("output", "Tout", "list")],
    "StatefulPartitionedCall": [("output", "Tout", "list")],
    "If": [("output", "Tout", "list")],
    "StatelessIf": [("output", "Tout", "list")],
    "Case": [("output", "Tout", "list")],
    "StatelessCase": [("output", "Tout", "list")],
    "While": [("output", "T", "list")],
    "StatelessWhile": [("output", "T", "list")],
    "RestoreV2": [("tensors", "dtypes", "list")],
    "FusedBatchNorm": [
        ("y", None, None),
        ("batch_mean", None, None),
        ("batch_variance", None, None),
        ("reserve_space_1", None, None),
        ("reserve_space_2", None, None),
    ],
    "FusedBatchNormV2": [
        ("y", None, None),
        ("batch_mean", None, None),
        ("batch_variance", None, None),
        ("reserve_space_1", None, None),
        ("reserve_space_2", None, None),
    ],
    "FusedBatchNormV3": [
        ("y", None, None),
        ("batch_mean", None, None),
        ("batch_variance", None, None),
        ("reserve_space_1", None, None),
        ("reserve_space_2", None, None),
        ("reserve_space_3", None, None),
    ],
    "TensorListPopBack": [("output_handle", None, None), ("tensor", None, None)],
    "TensorArrayV3": [("handle", None, None), ("flow", None, None)],
    "TensorArrayGradV3": [("grad_handle", None, None), ("flow_out", None, None)],
    "TensorArrayConcatV3": [("value", None, None), ("lengths", None, None)],
    "BroadcastGradientArgs": [("r0", None, None), ("r1", None, None)],
    "LookupTableExportV2": [("keys", None, None), ("values", None, None)],
    "MaxPoolWithArgmax": [("output", None, None), ("argmax", None, None)],
    "NonMaxSuppressionV4": [("selected_indices", None, None), ("valid_outputs", None, None)],
    "NonMaxSuppressionV5": [
        ("selected_indices", None, None),
        ("selected_scores", None, None),
        ("valid_outputs", None, None),
    ],
    "Svd": [("s", None, None), ("u", None, None), ("v", None, None)],
    "Qr": [("q", None, None), ("r", None, None)],
    "SelfAdjointEigV2": [("e", None, None), ("v", None, None)],
    "ParseExampleV2": [
        ("sparse_indices", "num_sparse", "number"),
        ("sparse_values", "sparse_types", "list"),
        ("sparse_shapes", "num_sparse", "number"),
        ("dense_values", "Tdense", "list"),
        ("ragged_values", "ragged_value_types", "list"),
        ("ragged_row_splits", "ragged_split_types", "list"),
    ],
    "ParseSingleExample": [
        ("sparse_indices", "num_sparse", "number"),
        ("sparse_values", "sparse_types", "list"),
        ("sparse_shapes", "num_sparse", "number"),
        ("dense_values", "Tdense", "list"),
    ],
    "SparseFillEmptyRows": [
        ("output_indices", None, None),
        ("output_values", None, None),
        ("empty_row_indicator", None, None),
        ("reverse_index_map", None, None),
    ],
    "SparseReshape": [("output_indices", None, None), ("output_shape", None, None)],
    "StringSplit": [("indices", None, None), ("values", None, None), ("shape", None, None)],
    "StringSplitV2": [("indices", None, None), ("values", None, None), ("shape", None, None)],
    "RaggedTensorToSparse": [
        ("sparse_indices", None, None),
        ("sparse_values", None, None),
        ("sparse_dense_shape", None, None),
    ],
    "Enter": [("output", None, None)],
}
_NO_OUTPUTS = frozenset(
    {
        "NoOp",
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "SaveV2",
        "MergeV2Checkpoints",
        "InitializeTableV2",
        "InitializeTableFromTextFileV2",
        "LookupTableImportV2",
        "LookupTableInsertV2",
        "DestroyResourceOp",
        "ControlTrigger",
        "TensorListSetItem_",
        "Assert",
        "PrintV2",
    }
)


@dataclass(frozen=True)
class OutputLayout:
    """`count` outputs; `single` when the op has exactly one non-list output (its kernel
    returns the value itself rather than a sequence); `offsets` maps output arg -> first index."""

    count: int
    single: bool
    offsets: Mapping[str, int]


_SINGLE = OutputLayout(1, True, {})


def _attr_size(
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    name: str,
    kind: str,
    defaults: Mapping[str, attr_value_pb2.AttrValue],
) -> int:
    value = attrs.get(name) if name in attrs else defaults.get(name)
    if value is None:
        return 0
    if kind == "number":
        return int(value.i)
    return len(value.list.type)


def layout_from_args(
    args: Iterable[tuple[str, str | None, str | None]],
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    defaults: Mapping[str, attr_value_pb2.AttrValue] | None = None,
) -> OutputLayout:
    defaults = defaults or {}
    args = list(args)
    offsets: dict[str, int] = {}
    count = 0
    for name, size_attr, kind in args:
        offsets[name] = count
        count += 1 if size_attr is None else _attr_size(attrs, size_attr, kind or "list", defaults)
    single = len(args) == 1 and args[0][1] is None
    return OutputLayout(count, single, offsets)


def layout_from_opdef(
    op_def: op_def_pb2.OpDef, attrs: Mapping[str, attr_value_pb2.AttrValue]
) -> OutputLayout:
    args = []
    for arg in op_def.output_arg:
        if arg.number_attr:
            args.append((arg.name, arg.number_attr, "number"))
        elif arg.type_list_attr:
            args.append((arg.name, arg.type_list_attr, "list"))
        else:
            args.append((arg.name, None, None))
    defaults = {a.name: a.default_value for a in op_def.attr if a.HasField("default_value")}
    return layout_from_args(args, attrs, defaults)


def layout_from_function(function: function_pb2.FunctionDef) -> OutputLayout:
    """A library function called by op name: outputs are its output args, as a sequence."""
    offsets = {arg.name: i for i, arg in enumerate(function.signature.output_arg)}
    return OutputLayout(len(offsets), False, offsets)


def output_layout(
    op: str,
    attrs: Mapping[str, attr_value_pb2.AttrValue],
    op_defs: Mapping[str, op_def_pb2.OpDef],
    functions: Mapping[str, function_pb2.FunctionDef] | None = None,
) -> OutputLayout:
    """The output layout of a node of type `op` with `attrs`."""
    if functions and op in functions:
        return layout_from_function(functions[op])
    op_def = op_defs.get(op)
    if op_def is not None:
        return layout_from_opdef(op_def, attrs)
    if op in _KNOWN:
        return layout_from_args(_KNOWN[op], attrs)
    if op in _NO_OUTPUTS:
        return OutputLayout(0, False, {})
    return _SINGLE
