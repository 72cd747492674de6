"""The object graph of a converted model: a root holding its variables (by their TF1 scope
path, and as the list `variables`), tables (resources with `_create_resource` and
`_initialize` functions), assets (`asset_paths`) and the `signatures` map; both the
SavedObjectGraph of saved_model.pb and the checkpoint's TrackableObjectGraph, which share
node ids as in what TF2 writes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from savedmodel.format import checkpoint as ckpt
from savedmodel.format import structured
from savedmodel.format.tensor import shape_to_proto
from savedmodel.proto import (
    saved_object_graph_pb2,
    struct_pb2,
    tensor_shape_pb2,
    trackable_object_graph_pb2,
    versions_pb2,
)

_VERSION = versions_pb2.VersionDef(producer=1, min_consumer=1)


@dataclass
class Spec:
    """A TensorSpec for structured signatures: shape (None: unknown rank), dtype enum, name."""

    shape: tensor_shape_pb2.TensorShapeProto
    dtype: int
    name: str = ""


def _spec_fields(value: Any) -> structured.SpecFields | None:
    return (value.name, value.shape, value.dtype) if isinstance(value, Spec) else None


def encode(value: Any) -> struct_pb2.StructuredValue:
    return structured.encode(value, _spec_fields)


def function_spec(
    kwonly: list[str] | None = None, input_signature: Any = ()
) -> saved_object_graph_pb2.FunctionSpec:
    spec = saved_object_graph_pb2.FunctionSpec()
    spec.fullargspec.CopyFrom(structured.fullargspec([], kwonly))
    spec.input_signature.CopyFrom(encode(input_signature))
    return spec


@dataclass
class ObjectNode:
    """One node of the converted model's object graph."""

    kind: str  # user_object, list, signature_map, variable, resource, asset, function, signature
    children: list[tuple[str, int]] = field(default_factory=list)
    # variable: (TF1 name, dtype, shape, trainable); asset: index; function/signature: fn name
    data: Any = None


class ObjectGraphBuilder:
    """The converted model's object graph while it is built; written out as both the
    SavedObjectGraph and the checkpoint's TrackableObjectGraph."""

    def __init__(self) -> None:
        self.nodes: list[ObjectNode] = [ObjectNode("user_object")]

    def add(self, parent: int, name: str, kind: str, data: Any = None) -> int:
        self.nodes.append(ObjectNode(kind, data=data))
        self.nodes[parent].children.append((name, len(self.nodes) - 1))
        return len(self.nodes) - 1

    def link(self, parent: int, name: str, child: int) -> None:
        self.nodes[parent].children.append((name, child))

    def child(self, parent: int, name: str) -> int | None:
        return next((c for n, c in self.nodes[parent].children if n == name), None)

    def paths(self) -> dict[int, tuple[str, ...]]:
        """Each node's first path from the root, breadth first (as checkpoint keys use)."""
        out: dict[int, tuple[str, ...]] = {0: ()}
        queue = deque([0])
        while queue:
            node = queue.popleft()
            for name, child in self.nodes[node].children:
                if child not in out:
                    out[child] = (*out[node], name)
                    queue.append(child)
        return out

    def variable_keys(self) -> dict[int, str]:
        paths = self.paths()
        return {i: ckpt.checkpoint_key(paths[i]) for i, n in enumerate(self.nodes) if n.kind == "variable"}

    def trackable(self) -> trackable_object_graph_pb2.TrackableObjectGraph:
        keys = self.variable_keys()
        out = trackable_object_graph_pb2.TrackableObjectGraph()
        for i, node in enumerate(self.nodes):
            proto = out.nodes.add()
            for name, child in node.children:
                proto.children.add(node_id=child, local_name=name)
            if node.kind == "variable":
                proto.attributes.add(name="VARIABLE_VALUE", full_name=node.data[0], checkpoint_key=keys[i])
            proto.has_checkpoint_values.value = True
        return out

    def saved(
        self, concrete: dict[str, saved_object_graph_pb2.SavedConcreteFunction]
    ) -> saved_object_graph_pb2.SavedObjectGraph:
        out = saved_object_graph_pb2.SavedObjectGraph()
        for node in self.nodes:
            proto = out.nodes.add()
            for name, child in node.children:
                proto.children.add(node_id=child, local_name=name)
            self._fill(node, proto, concrete)
        for name, fn in sorted(concrete.items()):
            out.concrete_functions[name].CopyFrom(fn)
        return out

    @staticmethod
    def _fill(node: ObjectNode, proto: saved_object_graph_pb2.SavedObject, concrete: dict[str, Any]) -> None:
        if node.kind in ("user_object", "list", "signature_map"):
            identifier = {
                "user_object": "_generic_user_object",
                "list": "trackable_list_wrapper",
                "signature_map": "signature_map",
            }[node.kind]
            proto.user_object.identifier = identifier
            proto.user_object.version.CopyFrom(_VERSION)
        elif node.kind == "variable":
            name, dtype, shape, trainable = node.data
            proto.variable.dtype = dtype
            proto.variable.shape.CopyFrom(shape_to_proto(shape))
            proto.variable.trainable = trainable
            proto.variable.name = name
        elif node.kind == "resource":
            proto.resource.SetInParent()
            for name, child in node.children:  # only the creator: _initialize captures the resource
                if name == "_create_resource":
                    proto.dependencies.add(node_id=child, local_name=name)
        elif node.kind == "asset":
            proto.asset.asset_file_def_index = node.data
        elif node.kind == "function":
            proto.function.concrete_functions.append(node.data)
            proto.function.function_spec.CopyFrom(function_spec())
        elif node.kind == "signature":
            name, keywords = node.data
            bare = proto.bare_concrete_function
            bare.concrete_function_name = name
            bare.argument_keywords.extend(keywords)
            bare.allowed_positional_arguments = 1 if len(keywords) == 1 else 0
            bare.function_spec.CopyFrom(function_spec(kwonly=list(keywords), input_signature=None))
        del concrete


def saved_concrete(
    bound_inputs: list[int], inputs: dict[str, Spec], output: Any
) -> saved_object_graph_pb2.SavedConcreteFunction:
    out = saved_object_graph_pb2.SavedConcreteFunction()
    out.bound_inputs.extend(bound_inputs)
    out.canonicalized_input_signature.CopyFrom(encode(((), dict(sorted(inputs.items())))))
    out.output_signature.CopyFrom(encode(output))
    return out
