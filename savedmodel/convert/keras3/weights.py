"""Where each tf-keras layer's variables live in the checkpoint, and where Keras 3 wants them.

A tf-keras layer is a node of the checkpoint's object graph; its variables are child nodes
named by the attribute that holds them (`kernel`, `cell/recurrent_kernel`,
`_query_dense/bias`). Keras 3 stores a layer's own variables under `<path>/vars/<i>` in
`model.weights.h5`, `i` counting its trainable then non-trainable variables in creation
order, and a sub-layer's under `<path>/<attribute>/vars/<i>` (`lstm/cell/vars/0`). For each
class, `SLOTS` lists (Keras 3 sub-path, tf-keras child path, variable attributes in Keras 3's
order); a variable the layer did not create (`use_bias=False`, `center=False`) is skipped, as
Keras 3 skips it.
"""

from __future__ import annotations

from dataclasses import dataclass

from savedmodel.format import checkpoint as ckpt
from savedmodel.proto.trackable_object_graph_pb2 import TrackableObjectGraph

_KERNEL_BIAS = (("", "", ("kernel", "bias")),)
_RNN = (("cell", "cell", ("kernel", "recurrent_kernel", "bias")),)
_MHA_PARTS = ("query", "key", "value", "output")
SLOTS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    **{
        name: _KERNEL_BIAS
        for name in (
            "Dense",
            "EinsumDense",
            "Conv1D",
            "Conv2D",
            "Conv3D",
            "Conv1DTranspose",
            "Conv2DTranspose",
        )
    },
    "DepthwiseConv1D": (("", "", ("depthwise_kernel", "bias")),),
    "DepthwiseConv2D": (("", "", ("depthwise_kernel", "bias")),),
    "SeparableConv1D": (("", "", ("depthwise_kernel", "pointwise_kernel", "bias")),),
    "SeparableConv2D": (("", "", ("depthwise_kernel", "pointwise_kernel", "bias")),),
    "BatchNormalization": (("", "", ("gamma", "beta", "moving_mean", "moving_variance")),),
    "LayerNormalization": (("", "", ("gamma", "beta")),),
    "GroupNormalization": (("", "", ("gamma", "beta")),),
    "Embedding": (("", "", ("embeddings",)),),
    "LSTM": _RNN,
    "GRU": _RNN,
    "SimpleRNN": _RNN,
    "MultiHeadAttention": tuple(
        (f"{part}_dense", f"_{part}_dense", ("kernel", "bias")) for part in _MHA_PARTS
    ),
    "Attention": (("", "", ("scale", "concat_score_weight")),),
    "AdditiveAttention": (("", "", ("scale",)),),
    "Normalization": (("", "", ("mean", "variance", "count")),),
    "PReLU": (("", "", ("alpha",)),),
}
RANDOM_GENERATOR = "_random_generator"  # tf-keras random layers' generator object (state variable)
# Wrappers: (Keras 3 attribute, tf-keras child) of the wrapped layers, which map by their own class.
WRAPPED = {
    "Bidirectional": (("forward_layer", "forward_layer"), ("backward_layer", "backward_layer")),
    "TimeDistributed": (("layer", "layer"),),
}


@dataclass
class Weight:
    store_path: str  # Keras 3 group, e.g. "layers/lstm/cell"
    index: int  # position under <store_path>/vars
    checkpoint_key: str
    source: str  # tf-keras object path, for reports: "layer_with_weights-1/cell/kernel"


class ObjectGraph:
    """Child lookups over a checkpoint's TrackableObjectGraph."""

    def __init__(self, graph: TrackableObjectGraph) -> None:
        self.graph = graph

    def children(self, node_id: int) -> list[tuple[str, int]]:
        """(local name, node id) of a node's children."""
        return [(ref.local_name, ref.node_id) for ref in self.graph.nodes[node_id].children]

    def child(self, node_id: int, name: str) -> int | None:
        return next((child for local, child in self.children(node_id) if local == name), None)

    def walk(self, node_id: int, path: str) -> int | None:
        for part in filter(None, path.split("/")):
            found = self.child(node_id, part)
            if found is None:
                return None
            node_id = found
        return node_id

    def variable_key(self, node_id: int) -> str | None:
        for attribute in self.graph.nodes[node_id].attributes:
            if attribute.name == ckpt.VARIABLE_VALUE:
                return attribute.checkpoint_key
        return None

    def variables_below(self, node_id: int) -> set[str]:
        """Checkpoint keys of every variable reachable from node_id (to check nothing is left out)."""
        seen, stack, keys = {node_id}, [node_id], set()
        while stack:
            current = stack.pop()
            key = self.variable_key(current)
            if key:
                keys.add(key)
            for ref in self.graph.nodes[current].children:
                if ref.node_id not in seen:
                    seen.add(ref.node_id)
                    stack.append(ref.node_id)
        return keys


class NoWeightMapping(Exception):
    """The layer holds variables this module does not know how to place."""


def layer_weights(
    graph: ObjectGraph, node_id: int, class_name: str, config: dict, store_path: str, source: str
) -> list[Weight]:
    """The Keras 3 placement of every variable of one tf-keras layer (raises NoWeightMapping)."""
    if class_name in WRAPPED:
        out = []
        for k3_attr, tf_child in WRAPPED[class_name]:
            child = graph.child(node_id, tf_child)
            inner = config.get("layer") or {}
            if child is not None:
                out += layer_weights(
                    graph,
                    child,
                    inner.get("class_name", ""),
                    inner.get("config", {}),
                    f"{store_path}/{k3_attr}",
                    f"{source}/{tf_child}",
                )
        return out
    out = []
    for k3_sub, tf_sub, names in SLOTS.get(class_name, ()):
        owner = graph.walk(node_id, tf_sub)
        if owner is None:
            continue
        index = 0
        for name in names:
            child = graph.child(owner, name)
            key = graph.variable_key(child) if child is not None else None
            if key is None:
                continue
            path = f"{store_path}/{k3_sub}" if k3_sub else store_path
            out.append(Weight(path, index, key, "/".join(filter(None, (source, tf_sub, name)))))
            index += 1
    left = graph.variables_below(node_id) - {w.checkpoint_key for w in out}
    generator = graph.child(node_id, RANDOM_GENERATOR)
    if generator is not None:  # tf-keras's RNG state; Keras 3 layers seed their own
        left -= graph.variables_below(generator)
    if left:
        shown = ", ".join(sorted(left)[:3])
        raise NoWeightMapping(f"{len(left)} variable(s) with no Keras 3 place ({shown})")
    return out
