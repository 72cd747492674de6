"""Preparing a graph (or a function body) for an executor; imports no executor.

- The executor's op facts: every op-name set the executors use, in one block below.
- Checks: every op reachable from the graph (the functions it calls included) has a kernel
  and passes the policy (`check_supported`).
- Pruning to what the fetches and targets need (`prune`; a fed tensor cuts the edge to its
  producer) and the execution order (`topological_order`).
- Preparing each node once (`prepare_node`: the kernel with its attrs decoded) and how each
  node takes TF1 references (`input_modes`, `deref_wrapper`).
- `GraphFacts`: a neutral description of a prepared graph with TF1 control flow (node kinds,
  producers, consumers, frames), which the structure analysis (savedmodel.runtime.loops) and
  the dataflow interpreter (savedmodel.runtime.dataflow) both read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from savedmodel.errors import FormatError, NotFoundError, RefusedOpError, SavedModelError, UnsupportedOpError
from savedmodel.graph import feeds
from savedmodel.graph.model import FunctionLibrary, GraphModel, Node
from savedmodel.graph.order import stack_order
from savedmodel.ops import registry
from savedmodel.ops._resources import alias, deref
from savedmodel.ops.registry import Attrs, NodeSpec
from savedmodel.policy import refuses

# --------------------------------------------------------------------------- op facts
# Every op-name set the executors use, in one block: queries of the kernel registry
# (savedmodel/ops/registry.py: `ops_with`, `dataflow_roles`, the generated index).

# Ops whose semantics live in the executor (their kernels declare a dataflow role).
DATAFLOW_OPS = registry.ops_with("dataflow")
# Ops that produce a reference to a TF1 variable rather than a value (TensorFlow's OpDef: a
# reference output): variables, Assign*, optimizer updates and scatters, RefIdentity, RefSwitch...
REF_PRODUCERS = registry.ops_with("ref_outputs")
# Ops that take such references as they are (a reference input); everything else reads the value.
REF_CONSUMERS = registry.ops_with("ref_inputs")
# Ops that forward their input's buffer to their output. Reading a TF1 variable through one
# (TF's `Variable/read` Identity) yields a tensor that aliases the variable's buffer: consumers
# that run after an in-place update of the variable (an Assign ordered by a control dependency)
# see the new value, as in TensorFlow (straight step lists only; TF1 control flow reads a copy).
ALIAS_FORWARDERS = registry.ops_with("aliases_input")
# Ops whose value is fixed at load time (run once while compiling).
CONSTANT_OPS = registry.ops_with("constant")
# Side-effecting ops kept in function bodies even when no result depends on them.
KEEP_IN_FUNCTIONS = registry.ops_with("side_effects")
# Ops that feed a graph (a control edge from a fed one is satisfied by the feed).
PLACEHOLDER_OPS = feeds.PLACEHOLDERS
# What each TF1 control-flow primitive is to the executors (any other op: REGULAR).
REGULAR, SWITCH, MERGE, ENTER, EXIT, NEXT, TRIGGER, CONST, PASS = range(9)
_ROLE_KINDS = {
    "switch": SWITCH,
    "merge": MERGE,
    "enter": ENTER,
    "exit": EXIT,
    "next_iteration": NEXT,
    "trigger": TRIGGER,
    "loop_cond": REGULAR,
}
KINDS = {op: _ROLE_KINDS[role] for op, role in registry.dataflow_roles().items()}
# Ops whose kernel returns its single input unchanged (kind PASS: the kernel is skipped).
_PASS_OPS = registry.ops_with("forwards_input")
# Ops with one output whatever the graph's layout says (frame moves and LoopCond).
_SINGLE_OUTPUT_FLOW_OPS = frozenset(
    op
    for op, role in registry.dataflow_roles().items()
    if role in ("enter", "exit", "next_iteration", "loop_cond")
)
# The ops a TF1 while loop's predicate passes through (LoopCond).
LOOP_COND_OPS = frozenset(op for op, role in registry.dataflow_roles().items() if role == "loop_cond")
# How a step stores what its kernel returns: one value, a sequence of `count`, nothing, or (a
# nested step: a loop or cond) what its own step lists write (savedmodel.runtime.runner).
ONE, MANY, NONE, NESTED = 0, 1, 2, 3
# How a step takes one input: as is, dereferenced (a TF1 reference read now), or as an alias.
AS_IS, DEREF, ALIAS = 0, 1, 2
# What an input carries: a plain value, a TF1 reference, or an alias of a reference's buffer.
PLAIN, REF, ALIASED = 0, 1, 2


def has_kernel(op: str, library: FunctionLibrary) -> bool:
    return op in library or registry.lookup(op) is not None


def is_stateful(op: str) -> bool:
    """Whether a node of `op` must run although nothing depends on it (its kernel has side effects)."""
    return registry.has_fact(op, "side_effects")


def prepare_node(node: Node, library: FunctionLibrary, where: str) -> Callable[..., Any]:
    """The node's run function, `run(ctx, *inputs)`."""
    op = node.op
    if op in library:
        from savedmodel.runtime.context import FunctionRef

        ref = FunctionRef(op, node.attr)
        return lambda ctx, *args: ref(ctx, args)
    spec = NodeSpec(
        node.name,
        op,
        Attrs(node.attr, f"{where}, node {node.name!r} ({op})"),
        len(node.inputs),
        list(node.input_names),
        node.device,
    )
    definition = registry.lookup(op)
    try:
        if definition is not None:
            return definition.prepare(spec)
    except SavedModelError:
        raise
    except Exception as exc:  # a kernel rejecting its attrs
        raise FormatError(f"{where}, node {node.name!r} ({op}): cannot prepare kernel: {exc}") from exc
    raise UnsupportedOpError({op: [node.name]}, where)


# --------------------------------------------------------------------------- checks


def _function_refs(node: Node) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for value in node.attr.values():
        kind = value.WhichOneof("value")
        if kind == "func":
            yield value.func.name, value.func.attr
        elif kind == "list" and value.list.func:
            for func in value.list.func:
                yield func.name, func.attr


def check_supported(
    nodes: Iterable[Node],
    library: FunctionLibrary,
    where: str = "",
    seen_functions: set[str] | None = None,
    denied: frozenset[str] = frozenset(),
) -> None:
    """Check `nodes` and the functions they call: raise RefusedOpError naming every op the policy
    refuses (`denied`, see policy.refuses), else UnsupportedOpError naming every op without a kernel."""
    missing: dict[str, list[str]] = {}
    refused: dict[str, list[str]] = {}
    seen = seen_functions if seen_functions is not None else set()
    _collect_missing(list(nodes), library, "", missing, seen, denied, refused)
    if refused:
        raise RefusedOpError(refused, where)
    if missing:
        raise UnsupportedOpError(missing, where)


def _collect_missing(
    nodes: list[Node],
    library: FunctionLibrary,
    prefix: str,
    missing: dict[str, list[str]],
    seen: set[str],
    denied: frozenset[str] = frozenset(),
    refused: dict[str, list[str]] | None = None,
) -> None:
    """Record the ops of `nodes` and of every function they reach, transitively (a work list:
    a chain of nested calls of any length needs no Python recursion)."""
    work: list[tuple[list[Node], str]] = [(nodes, prefix)]
    while work:
        body, where = work.pop()
        for node in body:
            if not has_kernel(node.op, library):
                missing.setdefault(node.op, []).append(where + node.name)
            if denied and refused is not None and refuses(denied, node.op, node.attr):
                refused.setdefault(node.op, []).append(where + node.name)
            called = [name for name, _ in _function_refs(node)]
            if node.op in library:
                called.append(node.op)
            for name in called:
                if name in seen:
                    continue
                seen.add(name)
                if name not in library:
                    missing.setdefault(f"<function {name}>", []).append(where + node.name)
                    continue
                fdef = library.get(name)
                work.append(([Node(nd.name, nd.op, nd.attr) for nd in fdef.node_def], f"{name}/"))


# --------------------------------------------------------------------------- pruning and order


def fed_placeholders(graph: GraphModel, fed: Iterable[tuple[str, int]]) -> set[str]:
    """Placeholder nodes whose tensor is fed. As in TensorFlow, a control dependency on such a
    node is satisfied by the feed: the Placeholder kernel itself never runs. (For any other fed
    node TensorFlow keeps the control edge, so that node still runs.)"""
    nodes = graph.nodes
    return {name for name, _ in fed if name in nodes and nodes[name].op in PLACEHOLDER_OPS}


def prune(
    graph: GraphModel, fetch_nodes: Iterable[str], targets: Iterable[str], fed: set[tuple[str, int]]
) -> set[str]:
    """Names of the nodes needed to compute `fetch_nodes` and run `targets`, not crossing fed
    tensors nor control edges from fed placeholders (those are satisfied by the feed)."""
    needed: set[str] = set()
    satisfied = fed_placeholders(graph, fed)
    stack = [*fetch_nodes, *targets]
    nodes = graph.nodes
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        node = nodes.get(name)
        if node is None:
            raise NotFoundError(f"{graph.where}: no node named {name!r}")
        needed.add(name)
        for src in node.inputs:
            if src not in fed and src[0] not in needed:
                stack.append(src[0])
        stack.extend(c for c in node.control if c not in needed and c not in satisfied)
    return needed


def topological_order(graph: GraphModel, needed: set[str], fed: set[tuple[str, int]]) -> list[str]:
    """Kahn's order over data and control edges, ties broken by file order."""
    indegree = dict.fromkeys(needed, 0)
    consumers: dict[str, list[str]] = {name: [] for name in needed}
    for name in needed:
        node = graph.nodes[name]
        sources = {src[0] for src in node.inputs if src not in fed} | set(node.control)
        for src in sources:
            if src in needed:
                indegree[name] += 1
                consumers[src].append(name)
    order_index = {name: i for i, name in enumerate(graph.nodes)}
    ready = sorted((n for n, d in indegree.items() if d == 0), key=order_index.__getitem__, reverse=True)
    order = stack_order(ready, consumers, indegree)
    if len(order) != len(needed):
        stuck = sorted(n for n, d in indegree.items() if d > 0)[:5]
        raise FormatError(f"{graph.where}: the graph has a cycle (involving {', '.join(stuck)})")
    return order


def validate_tensor(graph: GraphModel, ref: tuple[str, int], what: str) -> None:
    node = graph.nodes.get(ref[0])
    if node is None:
        raise NotFoundError(f"{graph.where}: {what} '{ref[0]}:{ref[1]}' names no node")
    layout = graph.layout(ref[0])
    if ref[1] < 0 or (ref[1] >= max(layout.count, 1) and not (layout.single and ref[1] == 0)):
        raise NotFoundError(
            f"{graph.where}: {what} '{ref[0]}:{ref[1]}': node {ref[0]!r} ({node.op}) has "
            f"{layout.count} output(s)"
        )


def prepare_graph(
    runtime: Any,
    graph: GraphModel,
    feeds: Sequence[tuple[str, int]],
    fetches: Sequence[tuple[str, int]],
    targets: Sequence[str],
    keep_stateful: bool,
) -> set[str]:
    """Validate feeds and fetches, prune, check kernels and policy (functions called included),
    and compile the called functions now: the names of the nodes a plan runs."""
    for ref in feeds:
        validate_tensor(graph, ref, "fed tensor")
    for ref in fetches:
        validate_tensor(graph, ref, "fetched tensor")
    fed = set(feeds)
    roots = [*targets]
    if keep_stateful:
        roots += [n.name for n in graph.nodes.values() if is_stateful(n.op)]
    needed = prune(graph, [f[0] for f in fetches if f not in fed], roots, fed)
    library = graph.library
    policy = getattr(runtime, "policy", None)
    denied = policy.denied_ops() if policy is not None else frozenset()
    # Functions an earlier compile of this runtime checked (with all they call) are not walked
    # again: compiling each function of a long call chain stays linear.
    checked = getattr(runtime, "checked_functions", None)
    seen = set(checked) if checked is not None else None
    check_supported((graph.nodes[n] for n in needed), library, graph.where, seen, denied)
    if checked is not None and seen is not None:
        checked.update(seen)
    if runtime is not None:
        refs = []
        for n in needed:
            node = graph.nodes[n]
            refs.extend(_function_refs(node))
            if node.op in library:
                refs.append((node.op, node.attr))
        runtime.precompile(refs)
    return needed


def step_mode(node: Node, layout: Any, library: FunctionLibrary) -> tuple[int, int]:
    """(mode, count): how a step stores what `node`'s kernel returns (a function call returns
    a list, whatever its layout)."""
    if node.op in library:
        return MANY, layout.count
    return (ONE if layout.single else (MANY if layout.count else NONE)), layout.count


# --------------------------------------------------------------------------- references


def deref_wrapper(run: Callable[..., Any], mask: tuple[int, ...]) -> Callable[..., Any]:
    """`run` taking its inputs as `mask` says (AS_IS/False, DEREF/True, ALIAS)."""
    readers = [_READERS[int(m)] for m in mask]

    def wrapped(ctx: Any, *args: Any) -> Any:
        return run(ctx, *[read(a) for a, read in zip(args, readers, strict=True)])

    return wrapped


_READERS: tuple[Callable[[Any], Any], ...] = (lambda a: a, deref, alias)


def input_modes(node: Node, sources: Sequence[int]) -> tuple[int, ...]:
    """How `node` takes each input, given what each carries (PLAIN, REF, ALIASED): ref consumers
    take references as they are, forwarders pass their first input on as an alias, everything
    else reads the value now."""
    modes = []
    for i, kind in enumerate(sources):
        if kind == PLAIN:
            modes.append(AS_IS)
        elif node.op in ALIAS_FORWARDERS and i == 0:
            modes.append(ALIAS)
        elif kind == REF and node.op in REF_CONSUMERS:
            modes.append(AS_IS)
        else:
            modes.append(DEREF)
    return tuple(modes)


# --------------------------------------------------------------------------- graph facts


def readonly_index(value: int) -> np.ndarray:
    """Merge's `value_index` output for input `value` (shared, so never writable)."""
    array = np.asarray(value, dtype=np.int32)
    array.flags.writeable = False
    return array


class NodeFacts:
    """One prepared node of a graph with TF1 control flow, as both TF1 executors see it.

    `producers[k]` is where data input k comes from: (node index, output), or (-2 - f, 0) for
    feed f. `consumers` lists (node index, output, input slot), with output and slot -1 for a
    control edge. `control` lists the nodes this one has a control edge from."""

    __slots__ = (
        "index",
        "name",
        "op",
        "kind",
        "run",
        "n_data",
        "producers",
        "input_ops",
        "control",
        "consumers",
        "single",
        "count",
        "mode",
        "outputs",
        "deref_mask",
        "const_value",
        "frame_name",
        "is_constant",
    )


# Data inputs the control-flow primitives need (a malformed graph may give them fewer).
_ARITY = {SWITCH: (2, 2), MERGE: (1, None), ENTER: (1, 1), EXIT: (1, 1), NEXT: (1, 1)}


def _check_arity(facts: NodeFacts, where: str) -> None:
    bounds = _ARITY.get(facts.kind)
    if bounds is None:
        return
    low, high = bounds
    if facts.n_data < low or (high is not None and facts.n_data > high):
        wanted = str(low) if low == high else f"at least {low}"
        raise FormatError(
            f"{where}: node {facts.name!r} ({facts.op}) has {facts.n_data} data inputs, expected {wanted}"
        )


class GraphFacts:
    """The needed nodes of a graph (file order), prepared, with their edges, feeds and fetches.

    `fetch_refs[k]` is (node index, output) of fetch k, or (-1, output) when it is fed."""

    def __init__(
        self,
        graph: GraphModel,
        needed: set[str],
        feeds: Sequence[tuple[str, int]],
        fetches: Sequence[tuple[str, int]],
    ) -> None:
        self.where = graph.where
        self.feeds = list(feeds)
        self.fetches = list(fetches)
        names = [n for n in graph.nodes if n in needed]
        index = {n: i for i, n in enumerate(names)}
        feed_pos = {f: k for k, f in enumerate(self.feeds)}
        self.nodes = [self._node(graph, i, name, index, feed_pos) for i, name in enumerate(names)]
        # Consumers of each feed: (node index, input slot).
        self.feed_consumers: list[list[tuple[int, int]]] = [[] for _ in self.feeds]
        for facts in self.nodes:
            for slot, (p, k) in enumerate(facts.producers):
                if p >= 0:
                    self.nodes[p].consumers.append((facts.index, k, slot))
                else:
                    self.feed_consumers[-2 - p].append((facts.index, slot))
            for p in facts.control:
                self.nodes[p].consumers.append((facts.index, -1, -1))
        self.fetch_refs = [(index[f[0]] if f[0] in index else -1, f[1]) for f in self.fetches]

    @staticmethod
    def _node(
        graph: GraphModel, i: int, name: str, index: dict[str, int], feed_pos: dict[tuple[str, int], int]
    ) -> NodeFacts:
        node = graph.nodes[name]
        layout = graph.layout(name)
        facts = NodeFacts()
        facts.index = i
        facts.name = name
        facts.op = node.op
        facts.kind = KINDS.get(node.op, REGULAR)
        facts.run = prepare_node(node, graph.library, graph.where)
        facts.n_data = len(node.inputs)
        _check_arity(facts, graph.where)
        facts.producers = [
            (-2 - feed_pos[src], 0) if src in feed_pos else (index[src[0]], src[1]) for src in node.inputs
        ]
        # The op of each input's producing node (fed or not).
        facts.input_ops = tuple(graph.nodes[src[0]].op for src in node.inputs)
        facts.control = [index[c] for c in node.control if c in index]
        facts.consumers = []
        facts.single = layout.single or node.op in _SINGLE_OUTPUT_FLOW_OPS
        facts.count = max(layout.count, 2 if facts.kind in (SWITCH, MERGE) else 1)
        facts.mode, facts.outputs = step_mode(node, layout, graph.library)
        # TF1 control flow reads references as values (no aliasing), except in ref consumers.
        mask = tuple(
            graph.nodes[src[0]].op in REF_PRODUCERS and node.op not in REF_CONSUMERS for src in node.inputs
        )
        facts.deref_mask = mask if any(mask) else None
        facts.const_value = None
        if facts.kind == REGULAR and node.op not in graph.library:
            if node.op in CONSTANT_OPS and not node.inputs:
                facts.kind = CONST
                facts.const_value = facts.run(None)
            elif node.op in _PASS_OPS and facts.n_data == 1 and layout.single:
                facts.kind = PASS
        facts.frame_name = (
            node.attr["frame_name"].s.decode("utf-8", "replace") if "frame_name" in node.attr else ""
        )
        facts.is_constant = bool(node.attr["is_constant"].b) if "is_constant" in node.attr else False
        return facts
