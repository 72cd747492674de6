"""`savedmodel show`: what `saved_model_cli show` prints, byte for byte (TensorFlow 2.21).

    savedmodel show --dir D                       tag sets
    savedmodel show --dir D --tag_set serve       signature keys of that MetaGraph
    savedmodel show --dir D --tag_set serve --signature_def serving_default
    savedmodel show --dir D --tag_set serve --list_ops
    savedmodel show --dir D --all                 everything, incl. TF2 concrete functions
    savedmodel show --graph frozen.pb             a GraphDef's placeholders and sinks (savedmodel.cli.graph)
    add --json for a machine-readable rendering.

The op set is printed like a Python set, in sorted order (TensorFlow's order
depends on the hash seed). The concrete functions are read from the
SavedObjectGraph instead of loading the model.

JSON schema (`--json`; keys always present unless marked optional):

    {"path": str, "saved_model_schema_version": int,
     "meta_graphs": [MetaGraph, ...]}                 # --all / no flags
    MetaGraph = {"tags": [str] (stored order),
                 "signatures": {key: Signature} (sorted by key),
                 "ops": [str] (sorted),
                 "functions": null (no object graph) | [Function] (sorted by name)}
    Signature = {"method_name": str, "inputs": {key: TensorInfo}, "outputs": {key: TensorInfo}}
    TensorInfo = {"dtype": "DT_FLOAT", "shape": [int] (-1 = unknown dim) | null (unknown rank),
                  "shape_recorded": false    # only when the TensorInfo records no shape (unknown)
                  "encoding": "name" | "coo_sparse" | "composite_tensor" | null,
                  "name": str                                   # encoding "name"
                  "coo_sparse": {"values_tensor_name", "indices_tensor_name",
                                 "dense_shape_tensor_name"}     # encoding "coo_sparse"
                  "composite_tensor": {"type_spec": Value,
                                       "components": [TensorInfo]}}  # encoding "composite_tensor"
    Function = {"name": str, "kind": "function" | "bare_concrete_function",
                "concrete_functions": [{"name": str, "args": [Value] | null,
                                        "kwargs": {str: Value} | null,
                                        "arg_keywords": [str] (only when args is null)}]}
    Value = null | bool | int | float | str
          | {"type": "TensorSpec" | "BoundedTensorSpec", "dtype": "float32", "shape": [int] | null,
             "name": str | null}
          | {"type": "TensorShape", "shape": ...} | {"type": "DType", "dtype": str}
          | {"type": <TypeSpec class>, "repr": str}
          | {"tuple": [Value]} | {"list": [Value]} | {"dict": {str: Value}}
          | {"namedtuple": str, "fields": {str: Value}}

With --tag_set the output is {"path", "tags", "signatures": [keys]} (plus "ops"
with --list_ops); with --signature_def it is {"path", "tags", "signature_def":
key, "signature": Signature}.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from savedmodel.cli.commands import help_of
from savedmodel.cli.graph import add_source_arguments, show_graph
from savedmodel.errors import InvalidInputError
from savedmodel.inspect import (
    BoundedTensorSpecValue,
    DTypeValue,
    FunctionInfo,
    MetaGraphInfo,
    ModelInfo,
    SignatureInfo,
    TensorInfo,
    TensorShapeValue,
    TensorSpecValue,
    TypeSpecValue,
    describe,
    parse_tags,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "show",
        help=help_of("show"),
        description="Show the tag sets, signatures, ops and functions of a SavedModel, "
        "printed as TensorFlow's saved_model_cli show prints them (or as JSON with --json).",
    )
    add_source_arguments(parser)
    parser.add_argument("--all", action="store_true", help="show all information in the SavedModel")
    parser.add_argument("--tag_set", help="comma-separated tags identifying a MetaGraphDef, e.g. serve,gpu")
    parser.add_argument("--signature_def", help="a SignatureDef key to show the inputs and outputs of")
    parser.add_argument("--list_ops", action="store_true", help="list the ops used by the MetaGraphDef")
    parser.add_argument("--json", action="store_true", help="print JSON instead of saved_model_cli's text")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.graph is not None:
        return show_graph(args)
    out = sys.stdout
    info = describe(args.dir)
    if args.json:
        json.dump(_json_for(info, args), out, indent=1, sort_keys=False)
        out.write("\n")
        return 0
    if args.all:
        show_all(info, out)
        return 0
    if args.tag_set is None:
        if args.list_ops:
            out.write("--list_ops must be paired with a tag-set or with --all.\n")
        show_tag_sets(info, out)
        return 0
    meta_graph = info.meta_graph(_checked_tags(args.tag_set))
    if args.list_ops:
        show_ops(meta_graph, out)
    if args.signature_def is None:
        show_signature_keys(meta_graph, out)
    else:
        show_signature(meta_graph, meta_graph.signature(args.signature_def), out, indent=0)
    return 0


def _checked_tags(tag_set: str) -> frozenset[str]:
    tags = parse_tags(tag_set)
    if not tags:
        raise InvalidInputError("tag_set must contain at least one non-empty item")
    return tags


def _json_for(info: ModelInfo, args: argparse.Namespace) -> dict[str, Any]:
    if args.all or args.tag_set is None:
        return info.to_json()
    meta_graph = info.meta_graph(_checked_tags(args.tag_set))
    out: dict[str, Any] = {"path": info.path, "tags": list(meta_graph.tags)}
    if args.list_ops:
        out["ops"] = list(meta_graph.ops)
    if args.signature_def is None:
        out["signatures"] = list(meta_graph.signatures)
    else:
        out["signature_def"] = args.signature_def
        out["signature"] = meta_graph.signature(args.signature_def).to_json()
    return out


# ---------------------------------------------------------------------------
# saved_model_cli's text
# ---------------------------------------------------------------------------


def show_tag_sets(info: ModelInfo, out: TextIO) -> None:
    out.write("The given SavedModel contains the following tag-sets:\n")
    for tags in sorted(info.tag_sets()):
        out.write(repr(", ".join(sorted(tags))) + "\n")


def show_signature_keys(meta_graph: MetaGraphInfo, out: TextIO) -> None:
    out.write("The given SavedModel MetaGraphDef contains SignatureDefs with the following keys:\n")
    for key in meta_graph.signatures:
        out.write(f'SignatureDef key: "{key}"\n')


def ops_line(meta_graph: MetaGraphInfo) -> str:
    ops = "{" + ", ".join(repr(op) for op in meta_graph.ops) + "}" if meta_graph.ops else "set()"
    return f"The MetaGraph with tag set {list(meta_graph.tags)!r} contains the following ops: {ops}"


def show_ops(meta_graph: MetaGraphInfo, out: TextIO) -> None:
    out.write(ops_line(meta_graph) + "\n")


def _shape_text(info: TensorInfo) -> str:
    if not info.shape_recorded:
        return "()"  # saved_model_cli prints the empty TensorShapeProto (the shape is unknown)
    if info.shape is None:
        return "unknown_rank"
    return "(" + ", ".join(str(d) for d in info.shape) + ")"


def show_tensor_info(info: TensorInfo, out: TextIO, indent: int) -> None:
    pad = "  " * indent
    out.write(f"{pad}    dtype: {info.dtype_enum_name}\n")
    out.write(f"{pad}    shape: {_shape_text(info)}\n")
    out.write(f"{pad}    name: {info.name}\n")


def show_signature(meta_graph: MetaGraphInfo, signature: SignatureInfo, out: TextIO, indent: int) -> None:
    pad = "  " * indent
    out.write(f"{pad}The given SavedModel SignatureDef contains the following input(s):\n")
    for key, info in signature.inputs.items():
        out.write(f"{pad}  inputs['{key}'] tensor_info:\n")
        show_tensor_info(info, out, indent + 1)
    out.write(f"{pad}The given SavedModel SignatureDef contains the following output(s):\n")
    for key, info in signature.outputs.items():
        out.write(f"{pad}  outputs['{key}'] tensor_info:\n")
        show_tensor_info(info, out, indent + 1)
    out.write(f"{pad}Method name is: {signature.method_name}\n")


def show_all(info: ModelInfo, out: TextIO) -> None:
    for meta_graph in sorted(info.meta_graphs, key=lambda mg: list(mg.tags)):
        out.write(
            f"\nMetaGraphDef with tag-set: '{', '.join(meta_graph.tags)}' "
            "contains the following SignatureDefs:\n"
        )
        for key, signature in meta_graph.signatures.items():
            out.write(f"\nsignature_def['{key}']:\n")
            show_signature(meta_graph, signature, out, indent=1)
        show_ops(meta_graph, out)
    show_functions(info, out)


def show_functions(info: ModelInfo, out: TextIO) -> None:
    """The "Concrete Functions" section (only for models with an object graph)."""
    with_graph = [mg for mg in info.meta_graphs if mg.functions is not None]
    if not with_graph:
        return
    out.write("\nConcrete Functions:")
    if len(info.meta_graphs) != 1:
        # TensorFlow's loader cannot pick a MetaGraph without tags and gives up.
        out.write(" N/A (could not be listed due to unknown reasons)\n")
        return
    for function in with_graph[0].functions or []:
        _show_function(function, out)


def _show_function(function: FunctionInfo, out: TextIO) -> None:
    out.write(f"\n  Function Name: '{function.name}'\n")
    for index, concrete in enumerate(function.concrete_functions, 1):
        args: Any = None
        kwargs: Any = None
        if concrete.signature is not None:
            args, kwargs = concrete.signature
        elif concrete.arg_keywords:
            args = list(concrete.arg_keywords)
        if args:
            out.write(f"    Option #{index}\n")
            out.write("      Callable with:\n")
            _show_args(args, "Argument", out)
        if kwargs:
            _show_args(kwargs, "Named Argument", out)


def _quoted(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _type_name(value: Any) -> str:
    if isinstance(value, TypeSpecValue):
        return value.class_name
    if isinstance(value, TensorShapeValue):
        return "TensorShape"
    if isinstance(value, DTypeValue):
        return "DType"
    return type(value).__name__


def _show_args(arguments: Any, label: str, out: TextIO) -> None:
    pad = "        "  # indent 4
    for index, element in enumerate(arguments, 1):
        out.write(f"{pad}{label} #{index}\n")
        if isinstance(element, str):
            out.write(f"{pad}  {element}\n")
        elif isinstance(element, (TensorSpecValue, BoundedTensorSpecValue)):
            out.write(f"{pad}  {element.name}: {element!r}\n")
        elif isinstance(element, (list, tuple, TensorShapeValue)):
            out.write(f"{pad}  DType: {_type_name(element)}\n")
            out.write(f"{pad}  Value: [" + "".join(f"{_quoted(v)}, " for v in element) + "\b\b]\n")
        elif isinstance(element, dict):
            out.write(f"{pad}  DType: dict\n")
            out.write(
                f"{pad}  Value: {{"
                + "".join(f"'{k}': {_quoted(v)}, " for k, v in element.items())
                + "\b\b}\n"
            )
        else:
            out.write(f"{pad}  DType: {_type_name(element)}\n")
            out.write(f"{pad}  Value: {element}\n")
