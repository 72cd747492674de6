"""Editing a SavedModel's signatures and nothing else: rename, remove, choose the default,
set method names (what TF's MethodNameUpdater does, plus the rest), add a signature over
tensors of the graph, and give a string input or output a `_bytes` alias for TF Serving's
REST API.

Adding: `add={"key": SignatureSpec(inputs={"x": "x:0"}, outputs={"y": "dense/BiasAdd:0"})}`,
or on the command line `--add_signature 'key:x=x:0->y=dense/BiasAdd:0@predict'` (inputs,
`->`, outputs, each `alias=tensor` separated by commas, a tensor `node` or `node:index`;
`@method` optional, predict by default) or `--add_signature @spec.json` ({"key": {"inputs":
{...}, "outputs": {...}, "method_name": "predict"}}). Dtypes and shapes come from the graph.
In a TF2 model the signature is a SignatureDef only: TF1 loaders and TF Serving see it,
`tf.saved_model.load(...).signatures` does not (it lists the object graph's functions).

`_bytes` aliases (`b64={"key": ["name"]}`, `--b64 key:name`): TF Serving's REST API carries
binary strings as {"b64": "..."}; it base64-encodes a DT_STRING output in its answers only when
the output's alias ends in `_bytes`, and clients (Cloud ML Engine, Vertex AI) look for input
aliases ending in `_bytes` to know which inputs to send that way. The alias `name` becomes
`name_bytes`, the tensor stays the same. In a TF2 model the signature function's argument
and output names are renamed alike (refused where that would reorder them).

Only saved_model.pb(txt) changes (and fingerprint.pb, whose signature hash follows it); every
other file is copied byte for byte. For TF2 models the root's `signatures` map in the object
graph is edited alike, so `tf.saved_model.load(...).signatures` agrees with the SignatureDefs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel.convert.report import Report
from savedmodel.errors import InvalidInputError, NotFoundError, PolicyError
from savedmodel.format import saved_model as sm
from savedmodel.format import tensor as tensor_format
from savedmodel.format.atomic import atomic_directory
from savedmodel.proto import meta_graph_pb2, saved_model_pb2, struct_pb2, tensor_shape_pb2, types_pb2

DEFAULT_KEY = "serving_default"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
METHODS = {
    "predict": "tensorflow/serving/predict",
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}
PathLike = str | os.PathLike[str]
DT_STRING = types_pb2.DT_STRING
BYTES_SUFFIX = "_bytes"


@dataclass
class SignatureSpec:
    """A signature to add: alias -> tensor name ('x:0') for inputs and outputs, a method name."""

    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    method_name: str = METHODS["predict"]


def _tensor_pairs(text: str, what: str, spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        alias, sep, tensor = item.partition("=")
        if not sep or not alias or not tensor:
            raise InvalidInputError(f"--add_signature {spec!r}: {what} {item!r} is not ALIAS=TENSOR")
        if alias in out:
            raise InvalidInputError(f"--add_signature {spec!r}: {what} {alias!r} given twice")
        out[alias] = tensor if ":" in tensor else f"{tensor}:0"
    return out


def parse_signature_spec(text: str) -> dict[str, SignatureSpec]:
    """`KEY:in=tensor,...->out=tensor,...[@method]`, or `@file.json` (see the module docstring)."""
    if text.startswith("@"):
        return _signature_specs_from_json(Path(text[1:]))
    key, sep, rest = text.partition(":")
    if not sep or not key:
        raise InvalidInputError(f"--add_signature {text!r}: expected KEY:INPUTS->OUTPUTS[@METHOD]")
    rest, at, method = rest.partition("@")
    if rest.count("->") != 1:
        raise InvalidInputError(
            f"--add_signature {text!r}: expected one '->' between inputs and outputs "
            "(a tensor name holding '->' needs the @spec.json form)"
        )
    inputs, outputs = rest.split("->")
    spec = SignatureSpec(
        _tensor_pairs(inputs, "input", text),
        _tensor_pairs(outputs, "output", text),
        method_name(method) if at else METHODS["predict"],
    )
    if not spec.outputs:
        raise InvalidInputError(f"--add_signature {text!r}: a signature needs at least one output")
    return {key: spec}


def _signature_specs_from_json(path: Path) -> dict[str, SignatureSpec]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInputError(f"--add_signature @{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInputError(f"--add_signature @{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"--add_signature @{path}: expected {{key: {{inputs, outputs, method_name}}}}"
        )
    out = {}
    for key, item in data.items():
        if not isinstance(item, dict) or set(item) - {"inputs", "outputs", "method_name"}:
            raise InvalidInputError(f"--add_signature @{path}: {key!r} needs inputs, outputs, method_name")
        pairs = {}
        for role in ("inputs", "outputs"):
            value = item.get(role, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise InvalidInputError(
                    f"--add_signature @{path}: {key!r}: {role} must map aliases to tensors"
                )
            pairs[role] = {k: v if ":" in v else f"{v}:0" for k, v in value.items()}
        if not pairs["outputs"]:
            raise InvalidInputError(f"--add_signature @{path}: {key!r} needs at least one output")
        out[key] = SignatureSpec(
            pairs["inputs"], pairs["outputs"], method_name(item.get("method_name", "predict"))
        )
    return out


def parse_b64(values: Iterable[str]) -> dict[str, list[str]]:
    """['key:name', ...] -> {key: [name, ...]} (the CLI's --b64)."""
    out: dict[str, list[str]] = {}
    for value in values:
        key, sep, name = value.partition(":")
        if not sep or not key or not name:
            raise InvalidInputError(
                f"--b64 takes KEY:NAME (a string input or output of signature KEY), got {value!r}"
            )
        out.setdefault(key, []).append(name)
    return out


def parse_pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """['a:b', 'c:d'] -> {'a': 'b', 'c': 'd'} (the CLI's `old:new` and `key:method` flags)."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, target = value.partition(":")
        if not sep or not key or not target:
            raise InvalidInputError(f"{what} takes KEY:VALUE, got {value!r}")
        if key in out:
            raise InvalidInputError(f"{what}: {key!r} given twice")
        out[key] = target
    return out


def method_name(value: str) -> str:
    """'classify' -> 'tensorflow/serving/classify'; a full name is kept."""
    return METHODS.get(value, value)


def _signature_map_node(meta: meta_graph_pb2.MetaGraphDef) -> int | None:
    graph = meta.object_graph_def
    if not len(graph.nodes):
        return None
    child = next((c.node_id for c in graph.nodes[0].children if c.local_name == "signatures"), None)
    return child


class _Editor:
    def __init__(self, meta: meta_graph_pb2.MetaGraphDef, report: Report, where: str) -> None:
        self.meta = meta
        self.report = report
        self.where = where
        self.map_node = _signature_map_node(meta)

    def _require(self, key: str) -> None:
        if key == INIT_OP_SIGNATURE_KEY:
            raise InvalidInputError(
                f"{INIT_OP_SIGNATURE_KEY} is the model's init op, not a signature to edit"
            )
        if key not in self.meta.signature_def:
            available = ", ".join(sorted(k for k in self.meta.signature_def if k != INIT_OP_SIGNATURE_KEY))
            raise NotFoundError(f"{self.where}: no signature {key!r} (available: {available or 'none'})")

    def remove(self, key: str) -> None:
        self._require(key)
        del self.meta.signature_def[key]
        if self.map_node is not None:
            node = self.meta.object_graph_def.nodes[self.map_node]
            kept = [c for c in node.children if c.local_name != key]
            del node.children[:]
            node.children.extend(kept)
        self.report.changes.append(f"removed signature {key!r}")

    def rename(self, renames: Mapping[str, str]) -> None:
        for old in renames:
            self._require(old)
        if INIT_OP_SIGNATURE_KEY in renames.values():
            raise InvalidInputError(f"{INIT_OP_SIGNATURE_KEY} is reserved for the model's init op")
        remaining = set(self.meta.signature_def) - set(renames)
        targets = list(renames.values())
        clash = sorted({t for t in targets if t in remaining or targets.count(t) > 1})
        if clash:
            raise InvalidInputError(f"{self.where}: signature {clash[0]!r} already exists")
        moved = {old: _copy(self.meta.signature_def[old]) for old in renames}
        for old in renames:
            del self.meta.signature_def[old]
        for old, new in renames.items():
            self.meta.signature_def[new].CopyFrom(moved[old])
        if self.map_node is not None:
            for child in self.meta.object_graph_def.nodes[self.map_node].children:
                if child.local_name in renames:
                    child.local_name = renames[child.local_name]
        for old, new in renames.items():
            self.report.changes.append(f"renamed signature {old!r} to {new!r}")

    def set_default(self, key: str) -> None:
        self._require(key)
        if key == DEFAULT_KEY:
            return
        if DEFAULT_KEY in self.meta.signature_def:
            self.rename({key: DEFAULT_KEY, DEFAULT_KEY: key})
        else:
            self.rename({key: DEFAULT_KEY})

    def add(self, key: str, spec: SignatureSpec) -> None:
        if key == INIT_OP_SIGNATURE_KEY:
            raise InvalidInputError(f"{INIT_OP_SIGNATURE_KEY} is reserved for the model's init op")
        if key in self.meta.signature_def:
            raise InvalidInputError(f"{self.where}: signature {key!r} already exists")
        from savedmodel.convert.graphs import GraphIndex

        index = GraphIndex(self.meta.graph_def, self.meta.meta_info_def.stripped_op_list)
        signature = self.meta.signature_def[key]
        signature.method_name = spec.method_name
        for infos, pairs in ((signature.inputs, spec.inputs), (signature.outputs, spec.outputs)):
            for alias, tensor in pairs.items():
                infos[alias].CopyFrom(_tensor_info(index, tensor, self.where, key))
        if self.map_node is not None:
            self.report.warn(
                f"signature {key!r} is a SignatureDef only: TF1 loaders and TF Serving see it, "
                "tf.saved_model.load(...).signatures does not"
            )
        self.report.changes.append(
            f"added signature {key!r} ({', '.join(spec.inputs) or 'no inputs'} -> {', '.join(spec.outputs)})"
        )
        _check_method(signature, key, self.report)

    def b64_alias(self, key: str, name: str) -> None:
        """Rename string input or output `name` of signature `key` to `name_bytes`."""
        self._require(key)
        signature = self.meta.signature_def[key]
        if name.endswith(BYTES_SUFFIX) and (name in signature.inputs or name in signature.outputs):
            return
        infos = signature.inputs if name in signature.inputs else signature.outputs
        if name not in infos:
            raise NotFoundError(f"{self.where}: signature {key!r} has no input or output {name!r}")
        if infos[name].dtype != DT_STRING:
            raise InvalidInputError(f"{self.where}: signature {key!r}: {name!r} is not a string tensor")
        new = name + BYTES_SUFFIX
        if new in infos:
            raise InvalidInputError(f"{self.where}: signature {key!r} already has {new!r}")
        if self.map_node is not None:
            self._rename_in_function(key, name, new, sorted(infos))
        moved = meta_graph_pb2.TensorInfo()
        moved.CopyFrom(infos[name])
        del infos[name]
        infos[new].CopyFrom(moved)
        role = "input" if infos is signature.inputs else "output"
        self.report.changes.append(
            f"signature {key!r}: {role} {name!r} -> {new!r} (b64 in TF Serving's REST API)"
        )

    def _rename_in_function(self, key: str, old: str, new: str, names: list[str]) -> None:
        """Rename an argument or output of a TF2 signature function, whose flat order is the
        sorted order of the names (so a rename must not change it)."""
        renamed = sorted(new if n == old else n for n in names)
        if [n if n != new else old for n in renamed] != names:
            raise InvalidInputError(
                f"{self.where}: renaming {old!r} to {new!r} would reorder the arguments of the TF2 "
                f"signature {key!r}; re-export the model with that name"
            )
        graph = self.meta.object_graph_def
        child = next((c.node_id for c in graph.nodes[self.map_node].children if c.local_name == key), None)
        if child is None or graph.nodes[child].WhichOneof("kind") != "bare_concrete_function":
            self.report.warn(
                f"signature {key!r} has no function in the object graph; only its SignatureDef changes"
            )
            return
        bare = graph.nodes[child].bare_concrete_function
        bare.argument_keywords[:] = [new if k == old else k for k in bare.argument_keywords]
        _rename_structure(bare.function_spec.fullargspec, old, new)
        concrete = graph.concrete_functions.get(bare.concrete_function_name)
        if concrete is not None:
            _rename_structure(concrete.canonicalized_input_signature, old, new)
            _rename_structure(concrete.output_signature, old, new)

    def set_method(self, key: str, method: str) -> None:
        self._require(key)
        signature = self.meta.signature_def[key]
        old = signature.method_name
        signature.method_name = method
        self.report.changes.append(f"signature {key!r}: method name {old!r} -> {method!r}")
        _check_method(signature, key, self.report)


def _tensor_info(index: object, tensor: str, where: str, key: str) -> meta_graph_pb2.TensorInfo:
    """A TensorInfo for `tensor` ('node:i') with the graph's dtype and stated shape."""
    from savedmodel.graph.endpoints import node_output_shapes
    from savedmodel.graph.names import parse_input

    ref = parse_input(tensor)
    node = index.nodes.get(ref.node)
    if node is None:
        raise NotFoundError(f"{where}: signature {key!r}: no node {ref.node!r} in the graph")
    count = len(index.output_args(node))
    if ref.index >= count:
        raise InvalidInputError(
            f"{where}: signature {key!r}: {ref.node!r} has {count} outputs, not {ref.index + 1}"
        )
    dtype = index.output_dtype(ref.node, ref.index)
    if dtype is None:
        raise InvalidInputError(f"{where}: signature {key!r}: the dtype of {tensor!r} is not known")
    info = meta_graph_pb2.TensorInfo(name=f"{ref.node}:{ref.index}", dtype=dtype)
    shapes = node_output_shapes(node, count, index.graph_def.versions.producer)
    shape = shapes[ref.index] if ref.index < len(shapes) else None
    if shape is None:
        info.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(unknown_rank=True))
    else:
        info.tensor_shape.CopyFrom(tensor_format.shape_to_proto(shape))
    return info


def _rename_structure(value: struct_pb2.StructuredValue, old: str, new: str) -> None:
    """Rename `old` to `new` in a StructuredValue: dict keys, TensorSpec names, list strings."""
    kind = value.WhichOneof("kind")
    if kind == "dict_value":
        fields = value.dict_value.fields
        if old in fields:
            moved = struct_pb2.StructuredValue()
            moved.CopyFrom(fields[old])
            del fields[old]
            fields[new].CopyFrom(moved)
        for item in fields.values():
            _rename_structure(item, old, new)
    elif kind in ("tuple_value", "list_value"):
        for item in getattr(value, kind).values:
            if item.WhichOneof("kind") == "string_value" and item.string_value == old:
                item.string_value = new
            else:
                _rename_structure(item, old, new)
    elif kind == "named_tuple_value":
        for pair in value.named_tuple_value.values:
            _rename_structure(pair.value, old, new)
    elif kind == "tensor_spec_value" and value.tensor_spec_value.name == old:
        value.tensor_spec_value.name = new


def _copy(signature: meta_graph_pb2.SignatureDef) -> meta_graph_pb2.SignatureDef:
    out = meta_graph_pb2.SignatureDef()
    out.CopyFrom(signature)
    return out


def _check_method(signature: meta_graph_pb2.SignatureDef, key: str, report: Report) -> None:
    """Warn where TF Serving would refuse a classify/regress signature."""
    method = signature.method_name
    if method == METHODS["classify"]:
        if set(signature.inputs) != {"inputs"} or not set(signature.outputs) <= {"classes", "scores"}:
            report.warn(
                f"signature {key!r}: TF Serving's classify API wants one input 'inputs' (serialized "
                "tf.Examples) and outputs 'classes' and/or 'scores'"
            )
    elif method == METHODS["regress"]:
        if set(signature.inputs) != {"inputs"} or set(signature.outputs) != {"outputs"}:
            report.warn(
                f"signature {key!r}: TF Serving's regress API wants one input 'inputs' (serialized "
                "tf.Examples) and one output 'outputs'"
            )
    elif not method.startswith("tensorflow/serving/"):
        report.warn(f"signature {key!r}: {method!r} is not a TF Serving method name")


def edit_proto(
    proto: saved_model_pb2.SavedModel,
    where: str,
    tag_set: str | Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    set_default: str | None = None,
    method_names: Mapping[str, str] | None = None,
    add: Mapping[str, SignatureSpec] | None = None,
    b64: Mapping[str, Sequence[str]] | None = None,
) -> Report:
    """Apply the edits to the MetaGraphDef chosen by `tag_set` (None: every MetaGraphDef), in
    this order: add, remove, rename, set the default, method names, `_bytes` aliases (keys
    as they are after the renames)."""
    report = Report(where, kind="edit_signatures")
    metas = [sm.find_meta_graph(proto, tag_set, where)] if tag_set else list(proto.meta_graphs)
    for meta in metas:
        editor = _Editor(meta, report, where)
        for key, spec in (add or {}).items():
            editor.add(key, spec)
        for key in remove:
            editor.remove(key)
        if rename:
            editor.rename(rename)
        if set_default:
            editor.set_default(set_default)
        for key, method in (method_names or {}).items():
            editor.set_method(key, method_name(method))
        for key, names in (b64 or {}).items():
            for name in names:
                editor.b64_alias(key, name)
        report.signatures.update(
            {k: v.method_name for k, v in meta.signature_def.items() if k != INIT_OP_SIGNATURE_KEY}
        )
    if not report.changes:
        report.warn("no edits asked for: the output is a copy")
    return report


def edit_signatures(
    source: PathLike,
    output: PathLike | None,
    tag_set: str | Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    set_default: str | None = None,
    method_names: Mapping[str, str] | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    add: Mapping[str, SignatureSpec] | None = None,
    b64: Mapping[str, Sequence[str]] | None = None,
) -> Report:
    """Write a copy of `source` to `output` with its signatures edited (see the module
    docstring); `output` may be `source` itself with `overwrite`. `dry_run` writes nothing."""
    source = Path(source)
    path = sm.saved_model_file(source)
    proto = sm.read_saved_model(source)
    report = edit_proto(
        proto, str(source), tag_set, rename, list(remove), set_default, method_names, add, b64
    )
    report.output = None if output is None else str(output)
    if dry_run or output is None:
        return report
    if Path(output).resolve() == source.resolve() and not overwrite:
        raise PolicyError(f"{output} is the source model (pass overwrite to edit it in place)")
    with atomic_directory(output, overwrite=overwrite) as tmp:
        _copy_tree(source, tmp, skip={path.name, sm.FINGERPRINT_NAME})
        sm.write_saved_model_proto(proto, tmp, as_text=path.name == sm.PBTXT_NAME)
        if (source / sm.FINGERPRINT_NAME).is_file():
            from savedmodel.format import fingerprint

            data = fingerprint.compute_fingerprint(tmp).to_proto().SerializeToString(deterministic=True)
            (tmp / sm.FINGERPRINT_NAME).write_bytes(data)
    report.written = True
    return report


def _copy_tree(source: Path, target: Path, skip: set[str]) -> None:
    for item in sorted(source.iterdir()):
        if item.name in skip:
            continue
        if item.is_symlink():
            raise PolicyError(f"{item}: symbolic links are not copied")
        if item.is_dir():
            shutil.copytree(item, target / item.name, symlinks=True)
        else:
            shutil.copyfile(item, target / item.name)
