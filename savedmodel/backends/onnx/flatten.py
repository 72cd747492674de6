"""A signature's computation as one flat graph, and what of it is fixed at load time.

`flatten` splices the body of every function call (`PartitionedCall`, `StatefulPartitionedCall`,
a node whose op names a library function) into the calling graph, recursively, naming each
spliced node `<call node>/<body node>`; functional control flow (`If`, `While`, `Case`...) stays a
call of its library function. The result is a `GraphModel` the plan compiler runs as it runs any
graph, so the NumPy kernels and the ONNX regions see the same nodes.

`foldable` says which tensors do not depend on the signature's inputs and never change between
calls (constants, variable reads of variables nothing in the signature assigns, and what is
computed from them alone): those become ONNX initializers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from savedmodel.errors import LimitExceededError
from savedmodel.graph.model import ARG_OP, GraphModel, Node, instantiate
from savedmodel.runtime import prepare as plan_module

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
# Ops that read a variable or stand for one; foldable when nothing in the signature assigns it.
VARIABLE_READS = frozenset({"ReadVariableOp", "VarHandleOp", "VariableV2", "Variable", "HashTableV2"})
# Ops that change a variable: their presence keeps every variable read live (read per call).
VARIABLE_WRITES = frozenset(
    {
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "ResourceScatterUpdate",
        "ResourceScatterAdd",
        "ResourceScatterSub",
        "ResourceScatterMul",
        "ResourceScatterDiv",
        "ResourceScatterMin",
        "ResourceScatterMax",
        "ResourceScatterNdUpdate",
        "ResourceScatterNdAdd",
        "ResourceScatterNdSub",
        *plan_module.REF_PRODUCERS - {"VariableV2", "Variable"},
    }
)
MAX_INLINE_DEPTH = 64

Ref = tuple[str, int]


@dataclass
class FlatGraph:
    graph: GraphModel
    feeds: list[Ref]  # the flat tensors the signature's inputs feed (in signature order)
    fetches: list[Ref]  # the flat tensors of the signature's outputs
    needed: set[str]  # nodes that compute the fetches (and side effects of inlined bodies)


class _Splicer:
    def __init__(self, graph: GraphModel) -> None:
        self.library = graph.library
        self.nodes: list[Node] = []
        self.names: set[str] = set()
        self.stateful: list[str] = []

    def emit(self, node: Node) -> None:
        self.nodes.append(node)
        self.names.add(node.name)
        if plan_module.is_stateful(node.op):
            self.stateful.append(node.name)

    def splice(
        self,
        graph: GraphModel,
        prefix: str,
        args: Sequence[Ref],
        roots: Sequence[Ref],
        targets: Sequence[str],
        fed: set[Ref],
        keep_stateful: bool,
        control: Sequence[str],
        depth: int,
    ) -> tuple[list[Ref], list[str]]:
        """Emit what `roots`/`targets` of `graph` need; returns the flat refs of `roots` and the
        flat names a control dependency on this graph's work waits for."""
        if depth > MAX_INLINE_DEPTH:
            raise LimitExceededError(f"function calls nested more than {MAX_INLINE_DEPTH} deep")
        extra = (
            [n.name for n in graph.nodes.values() if plan_module.is_stateful(n.op)] if keep_stateful else []
        )
        needed = plan_module.prune(graph, [r[0] for r in roots if r not in fed], [*targets, *extra], fed)
        order = plan_module.topological_order(graph, needed, fed)
        resolved: dict[Ref, Ref] = {}
        done: dict[str, list[str]] = {}  # node -> flat names standing for its completion

        def ref(src: Ref) -> Ref:
            return resolved.get(src, (prefix + src[0], src[1]))

        for name in order:
            node = graph.nodes[name]
            inputs = [ref(src) for src in node.inputs]
            waits = [flat for c in node.control for flat in done.get(c, [])]
            if control and all(graph.nodes[src[0]].op == ARG_OP for src in node.inputs):
                # What the call waited for, its body's first nodes wait for.
                waits += list(control)
            if node.op == ARG_OP:
                resolved[(name, 0)] = args[node.attr["index"].i]
                done[name] = []
                continue
            call = _call_target(node, self.library)
            if call is not None:
                body = instantiate(self.library, call[0], call[1])
                results, finished = self.splice(
                    body.graph,
                    f"{prefix}{name}/",
                    inputs,
                    body.rets,
                    body.control_rets,
                    set(),
                    True,
                    waits,
                    depth + 1,
                )
                for i, result in enumerate(results):
                    resolved[(name, i)] = result
                done[name] = finished
                continue
            flat = prefix + name
            self.emit(Node(flat, node.op, node.attr, inputs, waits, node.device, list(node.input_names)))
            done[name] = [flat]
        finished = [flat for name in order for flat in done.get(name, [])]
        return [ref(r) if r not in fed else r for r in roots], finished


def _call_target(node: Node, library: object) -> tuple[str, object] | None:
    if node.op in CALL_OPS and "f" in node.attr:
        func = node.attr["f"].func
        return func.name, func.attr
    if node.op in library:  # type: ignore[operator]
        return node.op, node.attr
    return None


def flatten(graph: GraphModel, feeds: Sequence[Ref], fetches: Sequence[Ref]) -> FlatGraph:
    """The subgraph computing `fetches` from `feeds`, every function call inlined."""
    splicer = _Splicer(graph)
    fed = set(feeds)
    roots, _ = splicer.splice(graph, "", [], fetches, [], fed, False, [], 0)
    for name in dict.fromkeys(ref[0] for ref in feeds):
        if name not in splicer.names:  # a fed node is never run: only its name and layout matter
            original = graph.node(name)
            splicer.emit(Node(name, original.op, original.attr, device=original.device))
    flat = GraphModel(splicer.nodes, graph.library, graph.where)
    flat_feeds = list(feeds)
    needed = plan_module.prune(flat, [r[0] for r in roots if r not in fed], splicer.stateful, fed)
    return FlatGraph(flat, flat_feeds, roots, needed)


def writes_variables(flat: FlatGraph) -> bool:
    return any(flat.graph.nodes[name].op in VARIABLE_WRITES for name in flat.needed)


def foldable(flat: FlatGraph, fold_variables: bool = True) -> set[str]:
    """Nodes whose outputs are the same on every call (see the module docstring); variable reads
    only with `fold_variables` (the caller watches the variables for changes)."""
    fed = set(flat.feeds)
    variables_fixed = fold_variables and not writes_variables(flat)
    graph = flat.graph
    order = plan_module.topological_order(graph, flat.needed, fed)
    fixed: set[str] = set()
    for name in order:
        node = graph.nodes[name]
        if node.op in plan_module.PLACEHOLDER_OPS or node.op in plan_module.DATAFLOW_OPS:
            continue
        if any(src in fed or src[0] not in fixed for src in node.inputs):
            continue
        if node.op in VARIABLE_READS:
            if variables_fixed:
                fixed.add(name)
            continue
        if plan_module.is_stateful(node.op) or node.op in graph.library or node.op in CALL_OPS:
            continue
        fixed.add(name)
    return fixed
