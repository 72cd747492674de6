"""The names Keras 3 gives a model's layers inside model.weights.h5.

Keras 3 does not address a layer's weights by the layer's name: it walks `model.layers` in
order and names each `snake_case(class name)`, then `_1`, `_2`... for the next ones of the same
class (`layers/dense`, `layers/dense_1`). A Sequential model's `layers` is its config order
without the InputLayer; a Functional model's is its graph's operations sorted by decreasing
depth from the outputs, ties broken by first visit in a depth-first walk from the outputs
(Keras 3's `map_graph`), which `functional_order` recomputes from the config.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Node = tuple[str, int]  # (layer name, call index)


def snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def store_names(layers: list[tuple[str, str]]) -> dict[str, str]:
    """[(layer name, Keras 3 class name)] in `model.layers` order -> layer name -> store name."""
    used: dict[str, int] = {}
    out = {}
    for name, class_name in layers:
        base = snake_case(class_name)
        if base in used:
            used[base] += 1
            out[name] = f"{base}_{used[base]}"
        else:
            used[base] = 0
            out[name] = base
    return out


def _histories(value: Any) -> Iterator[list[Any]]:
    """keras_history of every Keras tensor in a Keras 3 call record, in Keras's flattening order
    (lists in order, dicts by sorted key)."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield value["config"]["keras_history"]
            return
        for key in sorted(value):
            yield from _histories(value[key])
    elif isinstance(value, list):
        for item in value:
            yield from _histories(item)


def functional_order(
    layers: list[dict[str, Any]], inputs: list[list[Any]], outputs: list[list[Any]]
) -> list[str]:
    """Layer names in Keras 3's `Functional.layers` order, from Keras 3 style layer entries
    (each with "name" and "inbound_nodes": [{"args", "kwargs"}])."""
    parents: dict[Node, list[Node]] = {}
    for layer in layers:
        for index, call in enumerate(layer.get("inbound_nodes") or []):
            refs = list(_histories([call.get("args", []), call.get("kwargs", {})]))
            parents[(layer["name"], index)] = [(ref[0], int(ref[1])) for ref in refs]
    for ref in inputs:
        parents.setdefault((ref[0], int(ref[1])), [])

    order: list[Node] = []
    first_seen: dict[str, int] = {}
    finished: set[Node] = set()

    def visit(node: Node) -> None:
        if node in finished or node not in parents:
            return
        first_seen.setdefault(node[0], len(first_seen))
        finished.add(node)  # config graphs are acyclic; marking early only guards malformed files
        for parent in parents[node]:
            visit(parent)
        order.append(node)

    for ref in outputs:
        visit((ref[0], int(ref[1])))
    in_graph = set(order)
    node_depth: dict[Node, int] = {}
    layer_depth: dict[str, int] = {}
    for node in reversed(order):
        depth = max(node_depth.setdefault(node, 0), layer_depth.get(node[0], 0))
        layer_depth[node[0]] = depth
        node_depth[node] = depth
        for parent in parents[node]:
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for ref in inputs:  # inputs the outputs do not use
        if ref[0] not in layer_depth:
            layer_depth[ref[0]] = 0
            first_seen[ref[0]] = -1
    return sorted(layer_depth, key=lambda name: (-layer_depth[name], first_seen[name]))
