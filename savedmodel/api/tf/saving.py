"""`tf.saved_model.save` (TF2 SavedModels: object graph, concrete functions, signature
wrappers, saver functions, object-based variables checkpoint) and `tf.saved_model.load`."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from savedmodel.api.tf import builder as b
from savedmodel.api.tf import graph as g
from savedmodel.api.tf import op_defs, ops
from savedmodel.api.tf.dtypes import as_dtype
from savedmodel.api.tf.function import ConcreteFunction, FuncGraph, Function, TensorSpec, flatten
from savedmodel.api.tf.graph import Graph, Tensor
from savedmodel.api.tf.meta_graph import GIT_VERSION, TENSORFLOW_VERSION
from savedmodel.api.tf.module import class_functions, tracked_children
from savedmodel.api.tf.saver import assign_restored_value, merge_sharded_save, sharded_temp_filename
from savedmodel.api.tf.variables import BaseVariable, EagerVariable
from savedmodel.errors import InvalidInputError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import structured, writer
from savedmodel.proto import (
    meta_graph_pb2,
    saved_model_pb2,
    saved_object_graph_pb2,
    saver_pb2,
    struct_pb2,
    trackable_object_graph_pb2,
    versions_pb2,
)

DEFAULT_SERVING_SIGNATURE_DEF_KEY = b.DEFAULT_SERVING_SIGNATURE_DEF_KEY
SERVING = b.SERVING
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VERSION = versions_pb2.VersionDef(producer=1, min_consumer=1)


class SaveOptions:
    """`tf.saved_model.SaveOptions`: accepted for compatibility; savedmodel writes one format
    (no proto splitting, no device placement), so the options change nothing."""

    def __init__(self, **options: Any) -> None:
        self.__dict__.update(options)


class LoadOptions(SaveOptions):
    """`tf.saved_model.LoadOptions`: accepted for compatibility; loading takes no options."""


class _SignatureMap:
    """The `signatures` child of the root: signature key -> concrete function."""

    def __init__(self, functions: Mapping[str, ConcreteFunction]) -> None:
        self.functions = dict(functions)


@dataclass
class _Node:
    obj: Any
    path: tuple[str, ...]
    children: list[tuple[str, int]] = field(default_factory=list)


# --- struct encoding -------------------------------------------------------------------


def _spec_fields(value: Any) -> structured.SpecFields | None:
    if isinstance(value, Tensor):
        value = TensorSpec(value.shape, value.dtype, None)
    if isinstance(value, TensorSpec):
        return value.name or "", value.shape.as_proto(), value.dtype.as_datatype_enum
    return None


def _encode(value: Any) -> struct_pb2.StructuredValue:
    try:
        return structured.encode(value, _spec_fields)
    except structured.UnencodableValueError as exc:
        raise InvalidInputError(
            f"cannot save a function argument of type {type(exc.value).__name__}"
        ) from None


def _output_signature(structure: Any, path: tuple[str, ...] = ()) -> Any:
    """Output specs named as TF names them: by their path in the structure (`output`,
    `tensor_0`, `tf___operators___add`), `unknown` for a lone tensor."""
    if isinstance(structure, dict):
        return {k: _output_signature(v, (*path, str(k))) for k, v in structure.items()}
    if isinstance(structure, list | tuple):
        return type(structure)(_output_signature(v, (*path, str(i))) for i, v in enumerate(structure))
    if isinstance(structure, Tensor):
        return TensorSpec(structure.shape, structure.dtype, _output_name(path))
    return structure


def _output_name(path: tuple[str, ...]) -> str:
    import re

    if not path:
        return "unknown"
    name = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(path))
    return f"tensor_{name}" if name[0].isdigit() else name


def _defaults(fn: Function) -> tuple[Any, ...] | None:
    """The defaults of a tf.function's trailing positional parameters (FullArgSpec.defaults)."""
    import inspect

    values = [
        p.default
        for p in fn._params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not inspect.Parameter.empty
    ]
    if not all(v is None or isinstance(v, bool | int | float | str) for v in values):
        return None
    return tuple(values) or None


def _function_spec(
    args: list[str],
    input_signature: Any,
    kwonly: list[str] | None = None,
    is_method: bool = False,
    defaults: tuple[Any, ...] | None = None,
) -> saved_object_graph_pb2.FunctionSpec:
    spec = saved_object_graph_pb2.FunctionSpec()
    arg_names = (["self"] if is_method else []) + args
    spec.fullargspec.CopyFrom(structured.fullargspec(arg_names, kwonly, defaults))
    spec.is_method = is_method
    spec.input_signature.CopyFrom(_encode(tuple(input_signature) if input_signature is not None else None))
    return spec


# --- the exporter ----------------------------------------------------------------------


class _Exporter:
    def __init__(self, root: Any, signatures: Mapping[str, ConcreteFunction]) -> None:
        self.root = root
        self.signatures = dict(signatures)
        self.nodes: list[_Node] = []
        self.node_of: dict[int, int] = {}
        self.graph = _ExportGraph()
        self.concrete: dict[str, ConcreteFunction] = {}

    # object graph traversal (breadth first, as TF orders nodes)
    def collect(self) -> None:
        self._add(self.root, ())
        queue = deque([0])
        while queue:
            index = queue.popleft()
            node = self.nodes[index]
            for name, child in self._children(node.obj, index == 0):
                if id(child) in self.node_of:
                    node.children.append((name, self.node_of[id(child)]))
                    continue
                child_index = self._add(child, node.path + (name,))
                node.children.append((name, child_index))
                queue.append(child_index)

    def _add(self, obj: Any, path: tuple[str, ...]) -> int:
        self.nodes.append(_Node(obj, path))
        self.node_of[id(obj)] = len(self.nodes) - 1
        return len(self.nodes) - 1

    def _children(self, obj: Any, is_root: bool) -> list[tuple[str, Any]]:
        if isinstance(obj, Function):
            return [(f"trace_{i}", c) for i, c in enumerate(obj.concrete_functions())]
        if isinstance(obj, _SignatureMap):
            return list(obj.functions.items())
        if isinstance(obj, list | tuple):
            return [(str(i), v) for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            return [(str(k), v) for k, v in obj.items()]
        if isinstance(obj, ConcreteFunction | BaseVariable):
            return []
        saved_children = getattr(obj, "_saved_children", None)
        if saved_children is not None:
            children = list(saved_children())
        else:
            children = tracked_children(obj)
            if hasattr(obj, "_extra_children"):
                children += obj._extra_children()
        children += [(name, fn) for name, fn in class_functions(obj) if fn.concrete_functions()]
        if is_root:  # as TF, an empty signature map where there are no signatures
            children.append(("signatures", _SignatureMap(self.wrappers)))
        return children

    # variables
    def variables(self) -> list[tuple[int, EagerVariable]]:
        return [(i, n.obj) for i, n in enumerate(self.nodes) if isinstance(n.obj, EagerVariable)]

    def build(self) -> meta_graph_pb2.MetaGraphDef:
        self.wrappers = {key: _signature_wrapper(fn) for key, fn in self.signatures.items()}
        self.collect()
        graph = self.graph
        for node in self.nodes:
            if isinstance(node.obj, Function):
                for concrete in node.obj.concrete_functions():
                    concrete.add_to_graph(graph)
            elif isinstance(node.obj, ConcreteFunction):
                node.obj.add_to_graph(graph)
        for index, var in self.variables():
            graph.add_variable(var, self.nodes[index].path)
        with graph.as_default():
            signature_defs = self._signatures()
            init = graph.create_op("NoOp", [], {}, [], [], name="NoOp")
            object_graph = self._trackable_object_graph()
            saver_def = self._saver(object_graph)
        meta = meta_graph_pb2.MetaGraphDef()
        meta.graph_def.CopyFrom(graph.as_graph_def(add_shapes=True))
        op_defs.strip_default_attrs(meta.graph_def)
        _order_library_for_loading(meta.graph_def.library)
        for fdef in meta.graph_def.library.function:
            op_defs.strip_default_attrs(fdef.node_def)
        meta.graph_def.versions.min_consumer = 12
        meta.meta_info_def.stripped_op_list.CopyFrom(op_defs.stripped_op_list(graph.op_types()))
        meta.meta_info_def.tags.append(SERVING)
        meta.meta_info_def.tensorflow_version = TENSORFLOW_VERSION
        meta.meta_info_def.tensorflow_git_version = GIT_VERSION
        meta.meta_info_def.stripped_default_attrs = True
        meta.saver_def.CopyFrom(saver_def)
        meta.collection_def[b.MAIN_OP_KEY].node_list.value.append(init.name)
        for key, sig in signature_defs.items():
            meta.signature_def[key].CopyFrom(sig)
        init_sig = meta.signature_def[b.INIT_OP_SIGNATURE_KEY]
        init_sig.outputs[b.INIT_OP_SIGNATURE_KEY].name = init.name
        init_sig.outputs[b.INIT_OP_SIGNATURE_KEY].tensor_shape.unknown_rank = True
        meta.object_graph_def.CopyFrom(self._saved_object_graph())
        self.object_graph = object_graph
        return meta

    # signatures
    def _signatures(self) -> dict[str, meta_graph_pb2.SignatureDef]:
        out: dict[str, meta_graph_pb2.SignatureDef] = {}
        for key in sorted(self.signatures):
            wrapper = self.wrappers[key]
            graph = self.graph
            inputs: list[Tensor] = []
            sig = meta_graph_pb2.SignatureDef(method_name=b.PREDICT_METHOD_NAME)
            for placeholder in wrapper.graph.inputs[: len(wrapper.graph.arg_names)]:
                arg = placeholder.op.name
                attrs = {"dtype": g.attr_type(placeholder.dtype), "shape": g.attr_shape(placeholder.shape)}
                p = graph.create_op(
                    "Placeholder", [], attrs, [placeholder.dtype], [placeholder.shape], name=f"{key}_{arg}"
                )
                inputs.append(p.outputs[0])
                sig.inputs[arg].CopyFrom(b.build_tensor_info(p.outputs[0]))
            outs = wrapper._call_in_graph(graph, inputs)
            for name, tensor in zip(sorted(wrapper.structured_outputs), flatten(outs), strict=True):
                sig.outputs[name].CopyFrom(b.build_tensor_info(tensor))
            out[key] = sig
        return out

    # checkpoint
    def _trackable_object_graph(self) -> trackable_object_graph_pb2.TrackableObjectGraph:
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        for node in self.nodes:
            proto = graph.nodes.add()
            for name, child in node.children:
                proto.children.add(node_id=child, local_name=name)
            if isinstance(node.obj, EagerVariable):
                proto.attributes.add(
                    name="VARIABLE_VALUE",
                    full_name=node.obj.name.split(":")[0],
                    checkpoint_key=ckpt.checkpoint_key(node.path),
                )
            proto.has_checkpoint_values.value = True
        return graph

    def _saver(self, object_graph: trackable_object_graph_pb2.TrackableObjectGraph) -> saver_pb2.SaverDef:
        graph = self.graph
        variables = self.variables()
        keys = [ckpt.checkpoint_key(self.nodes[i].path) for i, _ in variables]
        handles = [graph.variable_handle(v) for _, v in variables]
        data = object_graph.SerializeToString(deterministic=True)
        with graph.device("/device:CPU:0"):
            const = ops.constant(np.array(data, dtype=object), dtype="string", name="Const")
        filename = graph.create_op(
            "Placeholder",
            [],
            {"dtype": g.attr_type("string"), "shape": g.attr_shape([])},
            ["string"],
            [[]],
            name="saver_filename",
        ).outputs[0]
        save_fn = _traced_save(keys, [v for _, v in variables])
        restore_fn = _traced_restore(keys, [v for _, v in variables])
        save_out = _call(graph, save_fn, [filename, *handles, const])
        restore_out = _call(graph, restore_fn, [filename, *handles])
        return saver_pb2.SaverDef(
            filename_tensor_name=filename.name,
            save_tensor_name=save_out.name,
            restore_op_name=restore_out.op.name,
            version=saver_pb2.SaverDef.V2,
        )

    # SavedObjectGraph
    def _saved_object_graph(self) -> saved_object_graph_pb2.SavedObjectGraph:
        out = saved_object_graph_pb2.SavedObjectGraph()
        for node in self.nodes:
            proto = out.nodes.add()
            for name, child in node.children:
                proto.children.add(node_id=child, local_name=name)
            obj = node.obj
            if isinstance(obj, Function):
                for name, child in node.children:
                    proto.dependencies.add(node_id=child, local_name=name)
                proto.function.concrete_functions.extend(c.name for c in obj.concrete_functions())
                proto.function.function_spec.CopyFrom(
                    _function_spec(
                        obj.arg_names, obj.input_signature, is_method=False, defaults=_defaults(obj)
                    )
                )
                for c in obj.concrete_functions():
                    self._add_concrete(out, c)
            elif isinstance(obj, ConcreteFunction):
                bare = proto.bare_concrete_function
                bare.concrete_function_name = obj.name
                wrapper_keys = {w.name for w in getattr(self, "wrappers", {}).values()}
                if obj.name in wrapper_keys:
                    bare.argument_keywords.extend(obj._arg_names)
                    # TF lets a signature with one input take it positionally, no others
                    bare.allowed_positional_arguments = 1 if len(obj._arg_names) == 1 else 0
                    bare.function_spec.CopyFrom(_function_spec([], None, kwonly=obj._arg_names))
                else:
                    keywords = _argument_keywords(obj)
                    bare.argument_keywords.extend(keywords)
                    bare.allowed_positional_arguments = len(keywords)
                    bare.function_spec.CopyFrom(_function_spec(obj._arg_names, None))
                self._add_concrete(out, obj)
            elif isinstance(obj, _SignatureMap):
                proto.user_object.identifier = "signature_map"
                proto.user_object.version.CopyFrom(_VERSION)
            elif isinstance(obj, EagerVariable):
                var = proto.variable
                var.dtype = obj.dtype.as_datatype_enum
                var.shape.CopyFrom(obj.shape.as_proto())
                var.trainable = obj.trainable
                var.name = obj.name.split(":")[0]
            elif isinstance(obj, list | tuple):
                proto.user_object.identifier = "trackable_list_wrapper"
                proto.user_object.version.CopyFrom(_VERSION)
            elif isinstance(obj, dict):
                proto.user_object.identifier = "trackable_dict_wrapper"
                proto.user_object.version.CopyFrom(_VERSION)
            else:
                proto.user_object.identifier = getattr(obj, "_object_identifier", "_generic_user_object")
                proto.user_object.version.CopyFrom(_VERSION)
                metadata = getattr(obj, "_tracking_metadata", None)
                if metadata:
                    proto.user_object.metadata = metadata
        return out

    def _add_concrete(self, out: saved_object_graph_pb2.SavedObjectGraph, concrete: ConcreteFunction) -> None:
        saved = out.concrete_functions[concrete.name]
        if saved.HasField("canonicalized_input_signature"):
            return
        args, kwargs = concrete.structured_input_signature
        saved.canonicalized_input_signature.CopyFrom(_encode((tuple(args), dict(kwargs))))
        saved.output_signature.CopyFrom(_encode(_output_signature(concrete.structured_outputs)))
        for var in concrete.variables:
            if id(var) in self.node_of:
                saved.bound_inputs.append(self.node_of[id(var)])


def _argument_keywords(concrete: ConcreteFunction) -> list[str]:
    """A trace's keyword names as TF records them: one per tensor input (not per Python
    parameter), its placeholder's name, made unique with `_1`, `_2`..."""
    names = [t.op.name for t in concrete.graph.inputs[: len(concrete.graph.arg_names)]]
    seen: set[str] = set()
    counts: dict[str, int] = {}
    out = []
    for name in names:
        proposal = name
        while proposal in seen:
            index = counts.get(name, 1)
            proposal = f"{name}_{index}"
            counts[name] = index + 1
        seen.add(proposal)
        out.append(proposal)
    return out


def _trace_number(name: str) -> int:
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _order_library_for_loading(library: Any) -> None:
    """Newest trace first. TF's loader takes ready functions from the end of the library and
    renames them with a counter in that order; saved_model_cli lists a function's options sorted
    by those names. Newest-first loads traces oldest-first, so e.g. a Keras call function's
    `training=True` trace is listed first, as in what TF writes."""
    functions = sorted(library.function, key=lambda f: (-_trace_number(f.signature.name), f.signature.name))
    del library.function[:]
    library.function.extend(functions)


class _ExportGraph(Graph):
    """The exported MetaGraph's graph: VarHandleOp nodes stand for the saved variables."""

    def __init__(self) -> None:
        super().__init__()
        self._handles: dict[int, Tensor] = {}

    def add_variable(self, var: EagerVariable, path: tuple[str, ...]) -> None:
        name = var.name.split(":")[0]
        with self.name_scope(name) as scope:
            attrs = {
                "dtype": g.attr_type(var.dtype),
                "shape": g.attr_shape(var.shape),
                "shared_name": g.attr_str(scope[:-1]),
                "debug_name": g.attr_str(scope),
            }
            op = self.create_op("VarHandleOp", [], attrs, ["resource"], [[]], name=scope)
        self._handles[id(var)] = op.outputs[0]

    def variable_handle(self, var: Any) -> Tensor:
        try:
            return self._handles[id(var)]
        except KeyError:
            raise InvalidInputError(
                f"a saved function captures {var!r}, which is not reachable from the object being saved; "
                "attach it to the saved object (e.g. as an attribute of the tf.Module)"
            ) from None


def _call(graph: Graph, concrete: ConcreteFunction, inputs: list[Tensor]) -> Tensor:
    concrete.add_to_graph(graph)
    op_type = "StatefulPartitionedCall"
    from savedmodel.api.tf.function import CONFIG_PROTO, _int_list
    from savedmodel.proto import attr_value_pb2

    attrs = {
        "Tin": g.attr_types([t.dtype for t in inputs]),
        "Tout": g.attr_types(concrete.output_dtypes),
        "f": attr_value_pb2.AttrValue(func=attr_value_pb2.NameAttrList(name=concrete.name)),
        "config_proto": attr_value_pb2.AttrValue(s=CONFIG_PROTO),
        "_read_only_resource_inputs": _int_list([]),
        "_collective_manager_ids": _int_list([]),
    }
    op = graph.create_op(op_type, inputs, attrs, concrete.output_dtypes, [[]], name=op_type)
    return op.outputs[0]


def _signature_wrapper(target: ConcreteFunction | Function) -> ConcreteFunction:
    """`__inference_signature_wrapper_N` (`signature_wrapper_<function>_N` for a tf.function):
    keyword inputs, a flat dict of outputs."""
    from savedmodel.api.tf.function import _UID

    if isinstance(target, Function):
        specs = list(target.input_signature or [])
        params = target.arg_names
        names = [s.name or (params[i] if i < len(params) else f"args_{i}") for i, s in enumerate(specs)]
        label = f"signature_wrapper_{target.name}"
    else:
        specs = [s for s in flatten(target.structured_input_signature[0]) if isinstance(s, TensorSpec)]
        names = [s.name or f"input_{i}" for i, s in enumerate(specs)]
        label = "signature_wrapper"
    graph = FuncGraph(f"__inference_{label}_{next(_UID)}")
    with graph.as_default():
        # TF flattens a signature's keyword inputs in sorted order: the wrapper's args follow it
        order = sorted(range(len(specs)), key=lambda i: names[i])
        placed = {i: graph.add_arg(specs[i], names[i]) for i in order}
        args = [placed[i] for i in range(len(specs))]
        if isinstance(target, Function):
            result = target(*args)
        else:
            result = target._call_in_graph(graph, args)
        if not _valid_signature_outputs(result):
            raise InvalidInputError(
                f"a signature function must return a tensor, a flat list of tensors or a dict of string keys "
                f"to tensors; {label} returns {result!r}"
            )
        if isinstance(result, dict):
            outputs = dict(result)
        else:
            outputs = {f"output_{i}": t for i, t in enumerate(flatten(result))}
        identities = []
        for key in sorted(outputs):
            t = outputs[key]
            op = graph.create_op(
                "Identity", [t], {"T": g.attr_type(t.dtype)}, [t.dtype], [t.shape], name="Identity"
            )
            identities.append(op.outputs[0])
        graph.outputs = identities
    structured = {k: identities[i] for i, k in enumerate(sorted(outputs))}
    wrapper = ConcreteFunction(
        graph,
        ((), {names[i]: TensorSpec(specs[i].shape, specs[i].dtype, names[i]) for i in order}),
        structured,
        label,
        [names[i] for i in order],
    )
    return wrapper


def _traced_save(keys: list[str], variables: list[EagerVariable]) -> ConcreteFunction:
    from savedmodel.api.tf.function import _UID

    graph = FuncGraph(f"__inference__traced_save_{next(_UID)}")
    string = TensorSpec([], "string")
    with graph.as_default():
        prefix = graph.add_arg(string, "file_prefix")
        handles = [
            graph.add_arg(TensorSpec([], "resource"), _read_arg_name(i, var))
            for i, var in enumerate(variables)
        ]
        const = graph.add_arg(string, "savev2_const")
        const.op.attrs["_user_specified_name"] = g.attr_str("Const")
        sharded = sharded_temp_filename(graph, prefix)
        reads = []
        for handle, var in zip(handles, variables, strict=True):
            # TF 2.21 turns copy-on-read off before reading a variable to save it.
            with graph.name_scope("Read"):
                disable = graph.create_op("DisableCopyOnRead", [handle], {}, [], [], name="DisableCopyOnRead")
                read = graph.create_op(
                    "ReadVariableOp",
                    [handle],
                    {"dtype": g.attr_type(var.dtype)},
                    [var.dtype],
                    [var.shape],
                    name="ReadVariableOp",
                    control_inputs=[disable],
                )
            reads.append(read.outputs[0])
        all_keys = keys + [OBJECT_GRAPH_KEY]
        order = sorted(range(len(all_keys)), key=lambda i: all_keys[i])
        tensors = [*reads, const]
        with graph.name_scope("SaveV2") as scope:
            names_t = ops.constant(
                np.array([all_keys[i].encode() for i in order], dtype=object),
                dtype="string",
                name="tensor_names",
            )
            slices_t = ops.constant(
                np.array([b""] * len(all_keys), dtype=object), dtype="string", name="shape_and_slices"
            )
            save = graph.create_op(
                "SaveV2",
                [sharded, names_t, slices_t, *[tensors[i] for i in order]],
                {"dtypes": g.attr_types([tensors[i].dtype for i in order])},
                [],
                [],
                name=scope,
            )
        save.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        merge = merge_sharded_save(graph, sharded, prefix, after=save)
        ident = graph.create_op(
            "Identity",
            [prefix],
            {"T": g.attr_type("string")},
            ["string"],
            [[]],
            name="Identity",
            control_inputs=[merge],
        )
        noop = graph.create_op("NoOp", [], {}, [], [], name="NoOp", control_inputs=[merge])
        out = graph.create_op(
            "Identity",
            [ident.outputs[0]],
            {"T": g.attr_type("string")},
            ["string"],
            [[]],
            name="Identity",
            control_inputs=[noop],
        )
        graph.outputs = [out.outputs[0]]
        graph.control_outputs = [merge]
    return ConcreteFunction(graph, ((string, string), {}), out.outputs[0], "_traced_save", ["file_prefix"])


def _read_arg_name(index: int, var: EagerVariable) -> str:
    """`read_disablecopyonread_<var>`, `read_1_disablecopyonread_<var>`... (TF's argument names)."""
    import re

    scope = "read" if index == 0 else f"read_{index}"
    base = re.sub(r"[^a-z0-9_]", "_", var.name.split(":")[0].lower())
    return f"{scope}_disablecopyonread_{base}"


def _traced_restore(keys: list[str], variables: list[EagerVariable]) -> ConcreteFunction:
    from savedmodel.api.tf.function import _UID

    graph = FuncGraph(f"__inference__traced_restore_{next(_UID)}")
    string = TensorSpec([], "string")
    with graph.as_default():
        prefix = graph.add_arg(string, "file_prefix")
        handles = [graph.add_arg(TensorSpec([], "resource"), "resource") for _ in keys]
        all_keys = keys + [OBJECT_GRAPH_KEY]
        dtypes_ = [v.dtype for v in variables] + [as_dtype("string")]
        with graph.name_scope("RestoreV2") as scope:
            names_t = ops.constant(
                np.array([k.encode() for k in all_keys], dtype=object), dtype="string", name="tensor_names"
            )
            slices_t = ops.constant(
                np.array([b""] * len(all_keys), dtype=object), dtype="string", name="shape_and_slices"
            )
            restore = graph.create_op(
                "RestoreV2",
                [prefix, names_t, slices_t],
                {"dtypes": g.attr_types(dtypes_)},
                dtypes_,
                [None] * len(dtypes_),
                name=scope,
            )
        assigns = []
        for i, (handle, var) in enumerate(zip(handles, variables, strict=True)):
            assigns.append(assign_restored_value(graph, handle, restore.outputs[i], var.dtype))
        noop = graph.create_op("NoOp", [], {}, [], [], name="NoOp", control_inputs=assigns)
        noop.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        ident = graph.create_op(
            "Identity",
            [prefix],
            {"T": g.attr_type("string")},
            ["string"],
            [[]],
            name="Identity",
            control_inputs=[noop],
        )
        out = graph.create_op(
            "Identity", [ident.outputs[0]], {"T": g.attr_type("string")}, ["string"], [[]], name="Identity"
        )
        graph.outputs = [out.outputs[0]]
        graph.control_outputs = list(assigns)
    return ConcreteFunction(graph, ((string,), {}), out.outputs[0], "_traced_restore", ["file_prefix"])


# --- public API ---------------------------------------------------------------------------


def _signature_functions(obj: Any, signatures: Any) -> dict[str, ConcreteFunction | Function]:
    if signatures is None:
        # As TF: the one tf.function with an input_signature that returns something (a function
        # returning nothing cannot be a signature).
        found = [
            fn
            for _, fn in class_functions(obj)
            if fn.input_signature is not None
            and _valid_signature_outputs(fn.get_concrete_function().structured_outputs)
        ]
        call = getattr(obj, "_default_signature_function", None)
        if call is not None:  # tf-keras passes its default signature as a concrete function
            found = [call().get_concrete_function()]
        if len(found) == 1:
            signatures = found[0]
        else:
            return {}
    if not isinstance(signatures, dict):
        signatures = {DEFAULT_SERVING_SIGNATURE_DEF_KEY: signatures}
    out: dict[str, ConcreteFunction | Function] = {}
    for key, fn in signatures.items():
        if isinstance(fn, Function):
            if fn.input_signature is None:
                raise ValueError(
                    "Function used as a signature must have an input_signature or be a concrete "
                    f"function (signature {key!r})"
                )
            if all(isinstance(spec, TensorSpec) for spec in fn.input_signature):
                # As TF does: the signature wrapper calls the tf.function (traced in its graph).
                out[key] = fn
                continue
            fn = fn.get_concrete_function()
        if not isinstance(fn, ConcreteFunction):
            raise ValueError(f"signature {key!r} must be a tf.function or a ConcreteFunction, got {fn!r}")
        for spec in flatten(fn.structured_input_signature[0]):
            if isinstance(spec, TensorSpec) is False:
                raise ValueError(f"signature {key!r} takes a non-tensor argument {spec!r}")
        out[key] = fn
    return out


def _valid_signature_outputs(structure: Any) -> bool:
    """What a signature may return (TF's rule): a tensor, a flat list/tuple of tensors, or a dict
    of string keys to tensors."""
    if isinstance(structure, Tensor):
        return True
    if isinstance(structure, dict):
        return bool(structure) and all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in structure.items()
        )
    if isinstance(structure, list | tuple):
        return bool(structure) and all(isinstance(v, Tensor) for v in structure)
    return False


def build_saved_model(obj: Any, signatures: Any = None) -> tuple[saved_model_pb2.SavedModel, _Exporter]:
    exporter = _Exporter(obj, _signature_functions(obj, signatures))
    meta = exporter.build()
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    proto.meta_graphs.add().CopyFrom(meta)
    return proto, exporter


def _fingerprint(directory: Any) -> bytes:
    """fingerprint.pb for a directory whose saved_model.pb and variables are written."""
    from savedmodel.format import fingerprint

    return fingerprint.compute_fingerprint(directory).to_proto().SerializeToString(deterministic=True)


def save(
    obj: Any,
    export_dir: str | os.PathLike[str],
    signatures: Any = None,
    options: Any = None,
    keras_metadata: bool = True,
    **_: Any,
) -> None:
    """Write a TF2 SavedModel (atomically, replacing an existing one as TF does). Keras's
    `model.save` writes keras_metadata.pb for Keras models; `tf.saved_model.save` (saved_model_save)
    does not, as in TensorFlow."""
    proto, exporter = build_saved_model(obj, signatures)
    variables = exporter.variables()
    tensors = {ckpt.checkpoint_key(exporter.nodes[i].path): np.asarray(v._value) for i, v in variables}

    def write_variables(prefix: str) -> None:
        ckpt.write_checkpoint(prefix, tensors, exporter.object_graph)

    contents = writer.SavedModelContents(
        proto=proto,
        write_variables=write_variables,
        always_create_variables_dir=True,
        fingerprint=_fingerprint_or_none(),
        keras_metadata=_keras_metadata(obj, exporter) if keras_metadata else None,
        always_create_assets_dir=True,
    )
    writer.write_saved_model_dir(export_dir, contents, overwrite=True)


def _keras_metadata(obj: Any, exporter: _Exporter) -> bytes | None:
    """keras_metadata.pb for Keras models, its node ids those of the object graph."""
    build = getattr(obj, "_keras_metadata_bytes", None)
    return build(exporter.node_of) if build is not None else None


def _fingerprint_or_none() -> Any:
    try:
        from savedmodel.format import fingerprint  # noqa: F401
    except ImportError:  # the format helper's module not there: TF loads without fingerprint.pb
        return None
    return _fingerprint


# --- loading ------------------------------------------------------------------------------


def saved_model_save(
    obj: Any, export_dir: str | os.PathLike[str], signatures: Any = None, options: Any = None, **_: Any
) -> None:
    """`tf.saved_model.save`."""
    save(obj, export_dir, signatures, options, keras_metadata=False)


def load(export_dir: str | os.PathLike[str], tags: Any = None, options: Any = None) -> Any:
    """`tf.saved_model.load`: the object graph's root with TF-typed values (savedmodel.api.tf.loaded)."""
    from savedmodel.api.tf.loaded import Loaded
    from savedmodel.loader import load as shared_load

    return Loaded(shared_load(os.fspath(export_dir), tags))


def contains_saved_model(export_dir: str | os.PathLike[str]) -> bool:
    return b.contains_saved_model(export_dir)


_ = EagerVariable
