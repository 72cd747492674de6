"""TF1 SavedModel -> TF2-style SavedModel.

The output is what `tf.saved_model.save` writes for a module holding the model:
- each signature is a concrete function (a FunctionDef in the library) that the
  MetaGraph's graph calls with StatefulPartitionedCall from `<key>_<input>` placeholders,
  and a bare concrete function under the root's `signatures` map; method names are kept,
  so classify and regress signatures still serve;
- variables are resource variables (reference variables are read with ReadVariableOp),
  tracked objects of the root, by their TF1 scope path (`dense/kernel`) and in the list
  `variables`, stored under TF2 object-based checkpoint keys;
- tables are resources with `_create_resource` and `_initialize` functions, their asset
  files tracked under `asset_paths`; the `__saved_model_init_op` signature runs the
  initializers for TF1-style loaders (TF Serving);
- `_traced_save`/`_traced_restore` functions back the SaverDef.
With `freeze`, variables become constants of the functions and nothing is checkpointed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.convert.functions import (
    DT_RESOURCE,
    DT_STRING,
    BodyBuilder,
    BuiltFunction,
    Capture,
    TensorArg,
    UniqueNames,
    Variable,
    attr_list_types,
    sanitize,
)
from savedmodel.convert.graphs import (
    REF_VARIABLE_OPS,
    TABLE_INIT_OPS,
    TABLE_OPS,
    VARIABLE_OPS,
    GraphIndex,
)
from savedmodel.convert.objects import ObjectGraphBuilder, Spec, saved_concrete
from savedmodel.convert.report import ConversionError, Report
from savedmodel.errors import FormatError, NotFoundError, SavedModelError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import dtypes, writer
from savedmodel.format import saved_model as sm
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.endpoints import PLACEHOLDERS, node_output_shapes
from savedmodel.graph.names import parse_input
from savedmodel.graph.outputs import tf_op_defs
from savedmodel.proto import (
    attr_value_pb2,
    meta_graph_pb2,
    node_def_pb2,
    op_def_pb2,
    saved_model_pb2,
    saver_pb2,
    tensor_shape_pb2,
)

INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
MAIN_OP_KEY = "saved_model_main_op"
ASSETS_COLLECTION = "saved_model_assets"
PREDICT = "tensorflow/serving/predict"
_CONFIG_PROTO = b"\n\007\n\003CPU\020\001\n\007\n\003GPU\020\0002\002J\0008\001\202\001\000\222\001\002J\000"
PathLike = str | os.PathLike[str]
Progress = Callable[[str], None]
# What the converted model's root holds besides the variables' scopes.
_ROOT_CHILDREN = ("variables", "signatures", "tables", "asset_paths")


@dataclass
class _Output:
    """Everything the converted SavedModel holds, before it is written."""

    proto: saved_model_pb2.SavedModel
    tensors: dict[str, np.ndarray]
    object_graph: Any
    assets: dict[str, Path] = field(default_factory=dict)


def _op_list_for(names: set[str], own: dict[str, op_def_pb2.OpDef]) -> op_def_pb2.OpList:
    out = op_def_pb2.OpList()
    known = tf_op_defs()
    for name in sorted(names):
        op_def = own.get(name) or known.get(name)
        if op_def is not None:
            out.op.add().CopyFrom(op_def)
    return out


def _asset_defs(meta: meta_graph_pb2.MetaGraphDef) -> list[meta_graph_pb2.AssetFileDef]:
    assets = list(meta.asset_file_def)
    if not assets and ASSETS_COLLECTION in meta.collection_def:
        for item in meta.collection_def[ASSETS_COLLECTION].any_list.value:
            asset = meta_graph_pb2.AssetFileDef()
            asset.ParseFromString(item.value)
            assets.append(asset)
    unique: dict[str, meta_graph_pb2.AssetFileDef] = {}
    for asset in assets:
        unique.setdefault(asset.tensor_info.name, asset)
    return list(unique.values())


def _node_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/]", "_", text)


def _trace_to_variable(index: GraphIndex, name: str) -> str | None:
    """Follow Identity/ReadVariableOp inputs from `name` back to a variable node."""
    for _ in range(8):
        node = index.nodes.get(name)
        if node is None:
            return None
        if node.op in VARIABLE_OPS:
            return name
        if node.op not in ("Identity", "ReadVariableOp", "Snapshot") or not node.input:
            return None
        name = parse_input(node.input[0]).node
    return None


def _const_strings(index: GraphIndex, name: str) -> list[str] | None:
    node = index.nodes.get(parse_input(name).node)
    if node is None or node.op != "Const":
        return None
    values = tensor_format.to_numpy(node.attr["value"].tensor).reshape(-1)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def checkpoint_names(index: GraphIndex) -> tuple[dict[str, str], dict[str, str]]:
    """Variable node -> its key in the TF1 checkpoint (from the saver's save ops; else the
    node's own name), and, for the partitions of a partitioned variable, their slice
    ('10 4 0,5:-': the full shape, then the partition's extents)."""
    keys: dict[str, str] = {}
    sliced: dict[str, str] = {}
    for node in index.graph_def.node:
        if node.op not in ("SaveV2", "SaveSlices", "Save"):
            continue
        data = [i for i in node.input if not i.startswith("^")]
        names = _const_strings(index, data[1]) if len(data) > 1 else None
        first = 2 if node.op == "Save" else 3
        slices = _const_strings(index, data[2]) if node.op != "Save" and len(data) > 2 else None
        if names is None:
            continue
        for i, text in enumerate(data[first:]):
            variable = _trace_to_variable(index, parse_input(text).node)
            if variable is None or i >= len(names):
                continue
            keys.setdefault(variable, names[i])
            if slices and i < len(slices) and slices[i]:
                sliced[variable] = slices[i]
    for name, node in index.nodes.items():
        if node.op in VARIABLE_OPS:
            shared = node.attr["shared_name"].s.decode() if node.op == "VarHandleOp" else ""
            keys.setdefault(name, shared or name)
    return keys, sliced


def _partition(full: np.ndarray, spec: str) -> np.ndarray:
    from savedmodel.format.bundle import parse_shape_and_slice

    shape, extents = parse_shape_and_slice(spec)
    if list(full.shape) != shape:
        raise FormatError(f"partition {spec!r} of a tensor of shape {list(full.shape)}")
    index = tuple(slice(start, None if length is None else start + length) for start, length in extents)
    return np.array(full[index])


def read_checkpoint(source: Path) -> tuple[dict[str, Any], Any]:
    """Key -> a function reading that tensor, from the model's variables: a TensorBundle
    (variables/variables, a session bundle's `export`) or a V1 checkpoint (older session
    bundles' `export-?????-of-?????`); and a function closing the reader."""
    from savedmodel.format import checkpoint_v1, session_bundle
    from savedmodel.format.bundle import BundleReader
    from savedmodel.inspect import variables_prefix

    if session_bundle.is_session_bundle(source):
        pattern = session_bundle.variables_filename(source)
        if checkpoint_v1.is_v1_checkpoint(pattern):
            v1 = checkpoint_v1.V1CheckpointReader(pattern)
            return {key: (lambda k=key: v1.read(k)) for key in v1.keys()}, lambda: None
    prefix = variables_prefix(source)
    if prefix is None:
        return {}, lambda: None
    reader = BundleReader(prefix)
    return {key: (lambda k=key: reader.read(k)) for key in reader.keys()}, reader.close


class Converter:
    """Plans and builds the conversion of one MetaGraphDef (see the module docstring)."""

    def __init__(
        self,
        source: PathLike,
        tag_set: str | Sequence[str] | None = None,
        signature_keys: list[str] | None = None,
        freeze: bool = False,
        plain_inputs: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.source = Path(source)
        self.freeze = freeze
        self.report = Report(str(source))
        self.progress = progress or _silent
        self.progress(f"reading {self.source}")
        self.saved_model = sm.read_saved_model(self.source)
        self.meta = sm.find_meta_graph(self.saved_model, tag_set, str(self.source))
        self.keys = self._signature_keys(signature_keys)
        if plain_inputs and not len(self.meta.object_graph_def.nodes):
            from savedmodel.convert.plain_inputs import PlainInputs

            PlainInputs(self.meta, self.report).rewrite(self.keys)
        self.index = GraphIndex(self.meta.graph_def, self.meta.meta_info_def.stripped_op_list)
        self.variables = self._variables()
        self.tables = {n for n, node in self.index.nodes.items() if node.op in TABLE_OPS}
        self.assets = _asset_defs(self.meta)
        self.asset_tensors = {
            f"{parse_input(a.tensor_info.name).node}:{parse_input(a.tensor_info.name).index}"
            for a in self.assets
        }
        self.progress(f"reading {len(self.variables)} variables")
        self.values = self._read_values()
        # the converted SavedModel, its functions built in place (see BodyBuilder's `library`)
        self.output = saved_model_pb2.SavedModel(saved_model_schema_version=1)
        self.library = self.output.meta_graphs.add().graph_def.library
        self._uid = 0

    # ---- what the source holds
    def _signature_keys(self, wanted: list[str] | None) -> list[str]:
        available = sorted(k for k in self.meta.signature_def if k != INIT_OP_SIGNATURE_KEY)
        if wanted:
            missing = [k for k in wanted if k not in available]
            if missing:
                raise NotFoundError(
                    f"{self.source}: no signature {', '.join(map(repr, missing))} "
                    f"(available: {', '.join(available) or 'none'})"
                )
            return list(dict.fromkeys(wanted))
        if not available:
            self.report.block("the MetaGraphDef has no signatures (nothing to convert into functions)")
        return available

    def _variables(self) -> dict[str, Variable]:
        out = {}
        for name, node in self.index.nodes.items():
            if node.op in VARIABLE_OPS:
                shape = tensor_format.shape_from_proto(node.attr["shape"].shape) or ()
                out[name] = Variable(
                    name, int(node.attr["dtype"].type), tuple(shape), node.op in REF_VARIABLE_OPS
                )
        return out

    def _read_values(self) -> dict[str, np.ndarray]:
        self.checkpoint_keys, self.sliced = checkpoint_names(self.index)
        if not self.variables:
            return {}
        try:
            tensors, close = read_checkpoint(self.source)
        except SavedModelError as exc:
            self.report.warn(f"no variables checkpoint could be read ({exc})")
            return {}
        out = {}
        try:
            for name in self.variables:
                key = self.checkpoint_keys.get(name, name)
                if key not in tensors:
                    continue
                value = np.asarray(tensors[key]())
                out[name] = _partition(value, self.sliced[name]) if name in self.sliced else value
        finally:
            close()
        partitioned = sorted({self.checkpoint_keys[n] for n in self.sliced if n in out})
        if partitioned:
            self.report.changes.append(
                "partitioned variables kept as their partitions: " + ", ".join(partitioned)
            )
        initial = self._initial_values([n for n in self.variables if n not in out])
        self.initialised = set(initial)
        out.update(initial)
        if initial:
            self.report.changes.append(
                "variables not in the checkpoint take their initial values: " + ", ".join(sorted(initial))
            )
        left_out = sorted(n for n in self.variables if n not in out)
        if left_out:
            self.report.warn(
                f"{len(left_out)} variables are not in the checkpoint and are left out unless used: "
                + ", ".join(left_out[:5])
                + (" ..." if len(left_out) > 5 else "")
            )
        return out

    def _initial_values(self, names: list[str]) -> dict[str, np.ndarray]:
        """Values of variables the checkpoint lacks (local variables, which the init op sets)
        from their VariableDef's initial value, computed with savedmodel's runtime."""
        from savedmodel.proto import variable_pb2
        from savedmodel.runtime.session import GraphSession

        wanted = set(names)
        initial: dict[str, str] = {}
        for key in ("local_variables", "variables"):
            collection = self.meta.collection_def.get(key)
            for raw in collection.bytes_list.value if collection is not None else []:
                var = variable_pb2.VariableDef.FromString(raw)
                node = parse_input(var.variable_name).node
                if node in wanted and var.initial_value_name:
                    initial.setdefault(node, var.initial_value_name)
        if not initial:
            return {}
        out = {}
        try:
            session = GraphSession(self.meta.graph_def, op_list=self.meta.meta_info_def.stripped_op_list)
            for node, tensor in sorted(initial.items()):
                out[node] = np.asarray(session.run(tensor))
        except SavedModelError as exc:
            self.report.warn(f"initial values of variables not in the checkpoint not computed ({exc})")
            return {}
        return out

    def check_init_op(self) -> None:
        """Warn about what the TF1 init op (main_op, legacy_init_op) does besides initialising
        tables and the variables the checkpoint lacks: the converted model does not do it."""
        from savedmodel.loader import init_op_name

        try:
            init = init_op_name(self.meta)
        except SavedModelError as exc:
            self.report.warn(f"the init op is not understood ({exc}); it is not converted")
            return
        if init is None or init not in self.index.nodes:
            return
        dropped, reassigned = _init_op_work(
            self.index, init, self.variables, getattr(self, "initialised", set())
        )
        if reassigned:
            self.report.warn(
                "the init op re-assigns checkpointed variables, which TF1 loaders do after restoring "
                "them; the converted model keeps the checkpoint's values: " + _some(reassigned)
            )
        if dropped:
            self.report.warn(
                "the init op runs more than table and variable initialisers; the converted model "
                "does not run: " + _some(dropped)
            )

    def _trainable(self) -> set[str]:
        from savedmodel.proto import variable_pb2

        out: set[str] = set()
        collection = self.meta.collection_def.get("trainable_variables")
        if collection is None:
            return out
        for raw in collection.bytes_list.value:
            var = variable_pb2.VariableDef()
            var.ParseFromString(raw)
            out.add(parse_input(var.variable_name).node)
        return out

    def _name(self, label: str) -> str:
        self._uid += 1
        return f"__inference_{label}_{self._uid}"

    # ---- planning
    def build(self) -> _Output | None:
        if len(self.meta.object_graph_def.nodes):
            self.report.block(
                "already a TF2 SavedModel (it has an object graph); use --rename_signature etc. to edit it"
            )
            return None
        self.check_init_op()
        builder = self._body_builder()
        signatures = {}
        for i, key in enumerate(self.keys):
            self.progress(f"signature {key!r} ({i + 1}/{len(self.keys)})")
            signatures[key] = self._signature_function(builder, key)
        if not self.report.ok:
            return None
        used_tables = sorted({c.source for f in signatures.values() for c in f.captures if c.kind == "table"})
        tables = {t: self._table_functions(t) for t in used_tables}
        used_vars = {c.source for f in signatures.values() for c in f.captures if c.kind == "variable"}
        for fns in tables.values():
            used_vars |= {c.source for f in fns if f is not None for c in f.captures if c.kind == "variable"}
        missing = sorted(v for v in used_vars if v not in self.values)
        for name in missing:
            self.report.block(f"variable {name!r} is used but not in the checkpoint")
        if not self.report.ok:
            return None
        self.progress("assembling the object graph and checkpoint")
        return _Assembler(self, signatures, tables).assemble()

    def _signature_function(self, builder: BodyBuilder, key: str) -> BuiltFunction:
        sig = self.meta.signature_def[key]
        self.report.signatures[key] = sig.method_name
        inputs, outputs = [], []
        for role, infos, target in (("input", sig.inputs, inputs), ("output", sig.outputs, outputs)):
            for name in sorted(infos):
                info = infos[name]
                if info.WhichOneof("encoding") != "name":
                    self.report.block(
                        f"signature {key!r}: {role} {name!r} is a composite tensor "
                        f"({info.WhichOneof('encoding')})"
                    )
                    continue
                dtype, shape = self._tensor_type(key, name, info)
                target.append(TensorArg(name, info.name, dtype, shape))
        name = self._name(f"signature_wrapper_{sanitize(key)}")
        built = builder.build(name, f"signature {key!r}", inputs, outputs)
        for capture in built.captures:
            if self.freeze and capture.kind == "variable":
                self.report.block(f"signature {key!r} uses variable {capture.source!r} as a resource")
        return built

    def _tensor_type(
        self, key: str, name: str, info: meta_graph_pb2.TensorInfo
    ) -> tuple[int, tensor_shape_pb2.TensorShapeProto]:
        """The dtype and shape of a signature tensor: the graph's own where the TensorInfo
        disagrees (old exports recorded a string placeholder as DT_FLOAT), a Placeholder's
        declared shape read as TF reads it for the graph's producer."""
        ref = parse_input(info.name)
        actual = self.index.output_dtype(ref.node, ref.index)
        dtype = dtypes.base_dtype(int(info.dtype)) if info.dtype else actual or 0
        if actual is not None and actual != dtype:
            self.report.warn(
                f"signature {key!r}: {name!r} is recorded as {dtypes.dtype_name(dtype)} but the graph "
                f"makes it {dtypes.dtype_name(actual)}; written as {dtypes.dtype_name(actual)}"
            )
            dtype = actual
        node = self.index.nodes.get(ref.node)
        if node is not None and node.op in PLACEHOLDERS and "shape" in node.attr:
            dims = node_output_shapes(node, 1, self.meta.graph_def.versions.producer)[0]
            shape = tensor_format.shape_to_proto(dims)
        elif info.HasField("tensor_shape"):
            shape = info.tensor_shape
        else:
            shape = tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
        return dtype, shape

    def _table_functions(self, table: str) -> tuple[BuiltFunction, BuiltFunction | None]:
        """`_create_resource` and `_initialize` of a table."""
        creator = BodyBuilder(self.index, {}, set(), set(), self.report, library=self.library)
        create = creator.build(
            self._name("_creator"),
            f"table {table!r}",
            [],
            [TensorArg("handle", f"{table}:0", DT_RESOURCE)],
        )
        inits = [
            node.name
            for node in self.index.graph_def.node
            if node.op in TABLE_INIT_OPS and node.input and parse_input(node.input[0]).node == table
        ]
        if not inits:
            self.report.warn(f"table {table!r} has no initializer in the graph; it starts empty")
            return create, None
        builder = self._body_builder()
        init = builder.build(
            self._name("_initializer"),
            f"the initializer of table {table!r}",
            [],
            [],
            inits,
            [("table", table)],
        )
        return create, init

    def _body_builder(self) -> BodyBuilder:
        """A builder of function bodies over the model's variables, tables and assets."""
        return BodyBuilder(
            self.index,
            self.variables,
            self.tables,
            self.asset_tensors,
            self.report,
            frozen=self.values if self.freeze else None,
            library=self.library,
        )


class _Assembler:
    """Builds the MetaGraphDef, object graph and checkpoint of the converted model."""

    def __init__(
        self,
        conv: Converter,
        signatures: dict[str, BuiltFunction],
        tables: dict[str, tuple[BuiltFunction, BuiltFunction | None]],
    ) -> None:
        self.conv = conv
        self.signatures = signatures
        self.tables = tables
        # built in place, never copied: with --freeze it holds every variable's value
        self.proto = conv.output
        self.meta = self.proto.meta_graphs[0]
        self.graph = self.meta.graph_def
        self.objects = ObjectGraphBuilder()
        self.node_of: dict[tuple[str, str], int] = {}  # (kind, source) -> object node id
        self.outer: dict[tuple[str, str], str] = {}  # (kind, source) -> outer tensor name
        self.concrete: dict[str, Any] = {}
        self.names = UniqueNames(set())
        self.calls = 0

    # ---- outer graph helpers
    def _node(
        self, base: str, op: str, inputs: list[str] | None = None, **attrs: attr_value_pb2.AttrValue
    ) -> node_def_pb2.NodeDef:
        node = self.graph.node.add(name=self.names.unique(base), op=op)
        node.input.extend(inputs or [])
        for key, value in attrs.items():
            node.attr[key].CopyFrom(value)
        return node

    def _call(
        self, fn_name: str, inputs: list[str], tin: list[int], tout: list[int], controls: list[str] = ()
    ) -> node_def_pb2.NodeDef:
        name = "StatefulPartitionedCall" if self.calls == 0 else f"StatefulPartitionedCall_{self.calls}"
        self.calls += 1
        node = self._node(
            name,
            "StatefulPartitionedCall",
            list(inputs) + [f"^{c}" for c in controls],
            Tin=attr_list_types(tin),
            Tout=attr_list_types(tout),
            f=attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name=fn_name)),
            config_proto=attr_value_pb2.AttrValue(s=_CONFIG_PROTO),
        )
        for key in ("_read_only_resource_inputs", "_collective_manager_ids"):
            node.attr[key].list.SetInParent()
        return node

    # ---- assembly
    def assemble(self) -> _Output:
        conv = self.conv
        self._track_variables()
        self._track_tables_and_assets()
        self._signatures()
        init = self._init_op()
        object_graph = self.objects.trackable()
        tensors = {}
        if not conv.freeze:
            keys = self.objects.variable_keys()
            for (kind, source), node_id in self.node_of.items():
                if kind == "variable":
                    tensors[keys[node_id]] = conv.values[source]
        self._saver(object_graph, tensors)
        self._finish_meta(init)
        proto = self.proto
        assets = {}
        for asset in conv.assets:
            path = conv.source / sm.ASSETS_DIR / asset.filename
            if path.is_file():
                assets[asset.filename] = path
            else:
                conv.report.warn(f"asset file {asset.filename!r} is missing from the source; not copied")
        return _Output(proto, tensors, object_graph, assets)

    def _track_variables(self) -> None:
        conv = self.conv
        # frozen: no variables, but `loaded.variables` still answers (an empty list)
        names = [] if conv.freeze else sorted(v for v in conv.variables if v in conv.values)
        trainable = conv._trainable()
        ids = {}
        flat = any(self._conflicts(n, names) for n in names)
        taken = set(_ROOT_CHILDREN)
        for name in names:
            var = conv.variables[name]
            data = (name, var.dtype, conv.values[name].shape, name in trainable or not trainable)
            path = [self._flat_name(name, taken)] if flat else name.split("/")
            parent = 0
            for part in path[:-1]:
                found = self.objects.child(parent, part)
                parent = found if found is not None else self.objects.add(parent, part, "user_object")
            ids[name] = self.objects.add(parent, path[-1], "variable", data)
            self.node_of[("variable", name)] = ids[name]
            handle = self._node(
                name,
                "VarHandleOp",
                dtype=attr_value_pb2.AttrValue(type=var.dtype),
                shape=attr_value_pb2.AttrValue(shape=tensor_format.shape_to_proto(conv.values[name].shape)),
                shared_name=attr_value_pb2.AttrValue(s=name.encode()),
            )
            self.outer[("variable", name)] = f"{handle.name}:0"
        listed = self.objects.add(0, "variables", "list")
        for i, name in enumerate(names):
            self.objects.link(listed, str(i), ids[name])
        conv.report.variables = names
        if names:
            refs = sum(conv.variables[n].is_ref for n in names)
            conv.report.changes.append(
                f"{_count(len(names), 'variable')} tracked as resource variables under TF2 checkpoint keys"
                + (f" ({refs} were reference variables)" if refs else "")
            )

    @staticmethod
    def _conflicts(name: str, names: list[str]) -> bool:
        """Whether scope paths cannot name the variables (a variable that is also a scope, or
        a top-level name the root uses for something else)."""
        top = name.split("/")[0]
        return any(other.startswith(name + "/") for other in names) or top in _ROOT_CHILDREN

    @staticmethod
    def _flat_name(name: str, taken: set[str]) -> str:
        base = name.replace("/", "_")
        out, i = base, 0
        while out in taken:
            i += 1
            out = f"{base}_{i}"
        taken.add(out)
        return out

    def _track_tables_and_assets(self) -> None:
        conv = self.conv
        if conv.assets:
            listed = self.objects.add(0, "asset_paths", "list")
            for i, asset in enumerate(conv.assets):
                node_id = self.objects.add(listed, str(i), "asset", i)
                tensor = (
                    f"{parse_input(asset.tensor_info.name).node}:{parse_input(asset.tensor_info.name).index}"
                )
                self.node_of[("asset", tensor)] = node_id
                const = self._node(
                    "asset_path_initializer",
                    "Const",
                    dtype=attr_value_pb2.AttrValue(type=DT_STRING),
                    value=attr_value_pb2.AttrValue(
                        tensor=tensor_format.from_numpy(
                            np.array(asset.filename.encode(), dtype=object), DT_STRING
                        )
                    ),
                )
                self.outer[("asset", tensor)] = f"{const.name}:0"
                copy = self.meta.asset_file_def.add(filename=asset.filename)
                copy.tensor_info.name = f"{const.name}:0"
                copy.tensor_info.dtype = DT_STRING
                copy.tensor_info.tensor_shape.SetInParent()
            conv.report.changes.append(f"{_count(len(conv.assets), 'asset file')} tracked (asset_paths)")
        if not self.tables:
            return
        listed = self.objects.add(0, "tables", "list")
        for i, (table, (create, _init)) in enumerate(sorted(self.tables.items())):
            node_id = self.objects.add(listed, str(i), "resource")
            self.node_of[("table", table)] = node_id
            self.objects.add(node_id, "_create_resource", "function", create.fdef.signature.name)
            self._concrete(create, {}, Spec(tensor_shape_pb2.TensorShapeProto(), DT_RESOURCE))
            source = self.conv.index.nodes[table]
            node = self._node(table, source.op)
            for key, value in source.attr.items():
                if key != "_class":
                    node.attr[key].CopyFrom(value)
            self.outer[("table", table)] = f"{node.name}:0"
        for table, (_create, init) in sorted(self.tables.items()):
            if init is not None:
                self.objects.add(
                    self.node_of[("table", table)], "_initialize", "function", init.fdef.signature.name
                )
                self._concrete(init, {}, None)
        conv.report.changes.append(
            f"{_count(len(self.tables), 'table')} tracked as resources (_create_resource, _initialize)"
        )

    def _concrete(self, built: BuiltFunction, inputs: dict[str, Spec], output: Any) -> None:
        bound = [self.node_of[(c.kind, c.source)] for c in built.captures]
        self.concrete[built.fdef.signature.name] = saved_concrete(bound, inputs, output)
        if not built.in_library:
            self.graph.library.function.add().CopyFrom(built.fdef)

    def _outer_inputs(self, captures: list[Capture]) -> tuple[list[str], list[int]]:
        return [self.outer[(c.kind, c.source)] for c in captures], [c.dtype for c in captures]

    def _signatures(self) -> None:
        sig_map = self.objects.add(0, "signatures", "signature_map")
        for key in sorted(self.signatures):
            built = self.signatures[key]
            source = self.conv.meta.signature_def[key]
            sig = self.meta.signature_def[key]
            sig.method_name = source.method_name or PREDICT
            placeholders = []
            for item in built.inputs:
                shape = (
                    item.shape
                    if item.shape is not None
                    else tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
                )
                node = self._node(
                    _node_name(f"{key}_{item.key}"),
                    "Placeholder",
                    dtype=attr_value_pb2.AttrValue(type=item.dtype),
                    shape=attr_value_pb2.AttrValue(shape=shape),
                )
                placeholders.append(f"{node.name}:0")
                info = sig.inputs[item.key]
                info.name = f"{node.name}:0"
                info.dtype = item.dtype
                info.tensor_shape.CopyFrom(shape)
            captured, types = self._outer_inputs(built.captures)
            call = self._call(
                built.fdef.signature.name,
                placeholders + captured,
                [i.dtype for i in built.inputs] + types,
                [o.dtype for o in built.outputs],
            )
            for i, item in enumerate(built.outputs):
                info = sig.outputs[item.key]
                info.name = f"{call.name}:{i}"
                info.dtype = item.dtype
                info.tensor_shape.CopyFrom(
                    item.shape
                    if item.shape is not None
                    else tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
                )
            specs = {i.key: Spec(_shape(i.shape), i.dtype, i.key) for i in built.inputs}
            outputs = {o.key: Spec(_shape(o.shape), o.dtype, o.key) for o in built.outputs}
            self.objects.add(
                sig_map, key, "signature", (built.fdef.signature.name, [i.key for i in built.inputs])
            )
            self._concrete(built, specs, outputs)
            if source.method_name != PREDICT:
                self.conv.report.changes.append(f"signature {key!r} keeps method name {source.method_name!r}")
        self.conv.report.changes.append(
            f"{_count(len(self.signatures), 'signature')} -> concrete functions "
            "called by StatefulPartitionedCall"
        )

    def _init_op(self) -> str:
        calls = []
        for _table, (_create, init) in sorted(self.tables.items()):
            if init is None:
                continue
            captured, types = self._outer_inputs(init.captures)
            calls.append(self._call(init.fdef.signature.name, captured, types, []).name)
        noop = self._node("NoOp", "NoOp", [f"^{c}" for c in calls])
        return noop.name

    def _saver(self, object_graph: Any, tensors: dict[str, np.ndarray]) -> None:
        from savedmodel.api.tf.dtypes import as_dtype
        from savedmodel.api.tf.graph import TensorShape
        from savedmodel.api.tf.saving import _traced_restore, _traced_save

        keys = self.objects.variable_keys()
        entries = sorted(
            ((keys[i], src) for (kind, src), i in self.node_of.items() if kind == "variable"),
            key=lambda kv: kv[0],
        )
        variables = [
            _SaverVariable(
                f"{src}:0", as_dtype(self.conv.variables[src].dtype), TensorShape(list(tensors[k].shape))
            )
            for k, src in entries
        ]
        names = [k for k, _ in entries]
        handles = [self.outer[("variable", src)] for _, src in entries]
        filename = self._node(
            "saver_filename",
            "Placeholder",
            dtype=attr_value_pb2.AttrValue(type=DT_STRING),
            shape=attr_value_pb2.AttrValue(shape=tensor_shape_pb2.TensorShapeProto()),
        )
        data = np.empty((), dtype=object)
        data[()] = object_graph.SerializeToString(deterministic=True)
        const = self._node(
            "Const",
            "Const",
            dtype=attr_value_pb2.AttrValue(type=DT_STRING),
            value=attr_value_pb2.AttrValue(tensor=tensor_format.from_numpy(data, DT_STRING)),
        )
        # Named by this conversion's own counter, so converting twice writes the same bytes.
        fn_names = {}
        for label, fn in (
            ("_traced_save", _traced_save(names, variables)),
            ("_traced_restore", _traced_restore(names, variables)),
        ):
            fn_names[label] = self.conv._name(label)
            for fdef in fn.library().values():
                copy = self.graph.library.function.add()
                copy.CopyFrom(fdef)
                if fdef.signature.name == fn.name:
                    copy.signature.name = fn_names[label]
        resource_types = [DT_RESOURCE] * len(handles)
        save = self._call(
            fn_names["_traced_save"],
            [f"{filename.name}:0", *handles, f"{const.name}:0"],
            [DT_STRING, *resource_types, DT_STRING],
            [DT_STRING],
        )
        restore = self._call(
            fn_names["_traced_restore"],
            [f"{filename.name}:0", *handles],
            [DT_STRING, *resource_types],
            [DT_STRING],
        )
        self.meta.saver_def.CopyFrom(
            saver_pb2.SaverDef(
                filename_tensor_name=f"{filename.name}:0",
                save_tensor_name=f"{save.name}:0",
                restore_op_name=restore.name,
                version=saver_pb2.SaverDef.V2,
            )
        )

    def _finish_meta(self, init: str) -> None:
        from savedmodel.api.tf.meta_graph import GIT_VERSION, TENSORFLOW_VERSION

        conv = self.conv
        source = conv.meta
        existing = {f.signature.name for f in self.graph.library.function}
        for fdef in source.graph_def.library.function:
            if fdef.signature.name not in existing:
                self.graph.library.function.add().CopyFrom(fdef)
        self.graph.library.gradient.extend(source.graph_def.library.gradient)
        self.graph.versions.CopyFrom(source.graph_def.versions)
        self.graph.versions.min_consumer = max(self.graph.versions.min_consumer, 12)
        init_sig = self.meta.signature_def[INIT_OP_SIGNATURE_KEY]
        init_sig.outputs[INIT_OP_SIGNATURE_KEY].name = init
        init_sig.outputs[INIT_OP_SIGNATURE_KEY].tensor_shape.unknown_rank = True
        self.meta.collection_def[MAIN_OP_KEY].node_list.value.append(init)
        info = self.meta.meta_info_def
        info.tags.append("serve")  # what TF2 writes, and what TF Serving asks for
        if sorted(source.meta_info_def.tags) != ["serve"]:
            tags = ",".join(sorted(source.meta_info_def.tags))
            conv.report.changes.append(f"tag set {tags!r} written as 'serve'")
        info.tensorflow_version = TENSORFLOW_VERSION
        info.tensorflow_git_version = GIT_VERSION
        ops = {n.op for n in self.graph.node}
        library = {f.signature.name for f in self.graph.library.function}
        for fdef in self.graph.library.function:
            ops |= {n.op for n in fdef.node_def}
        info.stripped_op_list.CopyFrom(_op_list_for(ops - library, conv.index.op_defs))
        self.meta.object_graph_def.CopyFrom(self.objects.saved(self.concrete))


@dataclass
class _SaverVariable:
    """What the `_traced_save`/`_traced_restore` builders read of a variable."""

    name: str
    dtype: Any
    shape: Any


# Ops an init op may run that leave nothing behind for the converted model to redo.
_HARMLESS_INIT_OPS = frozenset(
    {"NoOp", "Const", "Identity", "VarIsInitializedOp", "IsVariableInitialized", "ReadVariableOp"}
)
_ASSIGN_OPS = frozenset({"Assign", "AssignVariableOp", "AssignAdd", "AssignSub", "AssignAddVariableOp"})


def _init_op_work(
    index: GraphIndex, init: str, variables: dict[str, Variable], initialised: set[str]
) -> tuple[list[str], list[str]]:
    """What the init op does that conversion drops: stateful nodes other than table
    initialisers and assignments of the variables given their initial values (`initialised`),
    and the checkpointed variables it assigns."""
    dropped: list[str] = []
    reassigned: list[str] = []
    seen: set[str] = set()
    stack = [init]
    while stack:
        name = stack.pop()
        if name in seen or name not in index.nodes:
            continue
        seen.add(name)
        node = index.nodes[name]
        if node.op in TABLE_INIT_OPS or node.op in VARIABLE_OPS or node.op in TABLE_OPS:
            continue
        if node.op in _ASSIGN_OPS and node.input:
            target = _trace_to_variable(index, parse_input(node.input[0]).node)
            if target in initialised:
                continue
            if target in variables:
                reassigned.append(target)
                continue
        op_def = index.op_def(node.op)
        if op_def is not None and op_def.is_stateful and node.op not in _HARMLESS_INIT_OPS:
            dropped.append(f"{name} ({node.op})")
            continue
        stack.extend(parse_input(text).node for text in node.input)
    return sorted(dropped), sorted(set(reassigned))


def _some(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def _silent(_message: str) -> None:
    pass


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _shape(proto: tensor_shape_pb2.TensorShapeProto | None) -> tensor_shape_pb2.TensorShapeProto:
    return proto if proto is not None else tensor_shape_pb2.TensorShapeProto(unknown_rank=True)


# --------------------------------------------------------------------------------- public API


def plan(
    source: PathLike,
    tag_set: str | Sequence[str] | None = None,
    signature_keys: list[str] | None = None,
    freeze: bool = False,
    plain_inputs: bool = False,
    progress: Progress | None = None,
) -> Report:
    """What converting `source` would do (nothing is written)."""
    converter = Converter(source, tag_set, signature_keys, freeze, plain_inputs, progress)
    built = converter.build()
    if built is not None:
        _check_ops(converter.report, built.proto)
    return converter.report


def _check_ops(report: Report, proto: saved_model_pb2.SavedModel) -> None:
    """Warn about ops of the converted functions TensorFlow does not define (custom ops) and
    ops savedmodel has no kernel for."""
    from savedmodel.ops.registry import lookup

    meta = proto.meta_graphs[0]
    library = {f.signature.name for f in meta.graph_def.library.function}
    ops = {n.op for f in meta.graph_def.library.function for n in f.node_def} - library
    known = tf_op_defs()
    custom = sorted(op for op in ops if op not in known)
    if custom:
        report.warn(
            "not TensorFlow 2.21 ops (custom ops; load their library before the model): " + ", ".join(custom)
        )
    missing = sorted(op for op in ops if lookup(op) is None and op not in custom)
    if missing:
        report.warn("savedmodel has no kernel for " + ", ".join(missing) + " (TensorFlow runs them)")


def tf1_to_tf2(
    source: PathLike,
    output: PathLike,
    tag_set: str | Sequence[str] | None = None,
    signature_keys: list[str] | None = None,
    freeze: bool = False,
    overwrite: bool = False,
    plain_inputs: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Convert the TF1 SavedModel at `source` into a TF2-style SavedModel at `output`
    (written atomically; an existing non-empty `output` is refused unless `overwrite`).
    `tag_set` picks the MetaGraphDef (None: the only one, else 'serve'); `signature_keys`
    the signatures kept (None: all); `freeze` folds variables into constants;
    `plain_inputs` turns tf.Example signatures into ones over the parsed features
    (savedmodel.convert.plain_inputs); `progress` is called with a line per step.
    Raises ConversionError, whose `report` lists the blockers, when it cannot."""
    converter = Converter(source, tag_set, signature_keys, freeze, plain_inputs, progress)
    built = converter.build()
    report = converter.report
    report.output = str(output)
    if built is None or not report.ok:
        raise ConversionError(report)
    if freeze:
        report.changes.append("variables folded into constants (--freeze)")
    _check_ops(report, built.proto)
    converter.progress(f"writing {output}")
    _write(built, source, output, overwrite)
    report.written = True
    return report


def _write(built: _Output, source: PathLike, output: PathLike, overwrite: bool) -> None:
    from savedmodel.format import fingerprint

    if Path(output).resolve() == Path(source).resolve():
        from savedmodel.errors import PolicyError

        raise PolicyError(f"{output}: the output directory is the source directory")

    def write_variables(prefix: str) -> None:
        ckpt.write_checkpoint(prefix, built.tensors, built.object_graph)

    extra_dir = Path(source) / sm.EXTRA_ASSETS_DIR
    extra = (
        {str(p.relative_to(extra_dir)): p for p in extra_dir.rglob("*") if p.is_file()}
        if extra_dir.is_dir()
        else {}
    )
    contents = writer.SavedModelContents(
        proto=built.proto,
        write_variables=write_variables,
        assets=built.assets,
        extra_assets=extra,
        always_create_variables_dir=True,
        fingerprint=lambda directory: (
            fingerprint.compute_fingerprint(directory, saved_model=built.proto)
            .to_proto()
            .SerializeToString(deterministic=True)
        ),
    )
    writer.write_saved_model_dir(output, contents, overwrite=overwrite)
