"""Compiling a graph (or a function body) into a prepared plan, and running it.

`compile_plan` prunes the graph to what the fetches and targets need (a fed
tensor cuts the edge to its producer), checks that every op has a kernel (all
missing ops are reported at once, including those used inside the functions the
graph calls), prepares each kernel once (attrs decoded), materialises constants
and fixes the execution order. Calls then only execute.

Two executors share that preparation:
- `StraightPlan`: graphs without TF1 control-flow primitives (all TF2 function
  bodies, most TF1 inference graphs) run as one loop over a flat list of steps
  that read and write slots of a value list.
- `DataflowPlan` (savedmodel.runtime.dataflow): graphs with Switch/Merge/Enter/
  Exit/NextIteration run on a dataflow scheduler with dead tensors, frames and
  iterations, as TensorFlow's executor does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from savedmodel.errors import (
    ExecutionError,
    FormatError,
    NotFoundError,
    RefusedOpError,
    SavedModelError,
    UnsupportedOpError,
)
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.model import FunctionLibrary, GraphModel, Node, instantiate
from savedmodel.ops import registry
from savedmodel.ops.registry import Attrs, NodeSpec
from savedmodel.policy import active_limits, refuses, using_limits
from savedmodel.runtime.fusion import fuse_steps
from savedmodel.runtime.resources import alias, deref

# Op facts, from the kernel registry (savedmodel/ops/registry.py: `ops_with`, generated index).
# Ops whose semantics live in the dataflow executor (their kernels declare a dataflow role).
DATAFLOW_OPS = registry.ops_with("dataflow")
# Ops that produce a reference to a TF1 variable rather than a value (TensorFlow's OpDef: a
# reference output): variables, Assign*, optimizer updates and scatters, RefIdentity, RefSwitch...
REF_PRODUCERS = registry.ops_with("ref_outputs")
# Ops that take such references as they are (a reference input); everything else reads the value.
REF_CONSUMERS = registry.ops_with("ref_inputs")
# Ops that forward their input's buffer to their output. Reading a TF1 variable through one
# (TF's `Variable/read` Identity) yields a tensor that aliases the variable's buffer: consumers
# that run after an in-place update of the variable (an Assign ordered by a control dependency)
# see the new value, as in TensorFlow (StraightPlan only; the dataflow executor reads a copy).
ALIAS_FORWARDERS = registry.ops_with("aliases_input")
# How a step takes one input: as is, dereferenced (a TF1 reference read now), or as an alias.
AS_IS, DEREF, ALIAS = 0, 1, 2
# Ops whose value is fixed at load time (run once while compiling).
CONSTANT_OPS = registry.ops_with("constant")
# Side-effecting ops kept in function bodies even when no result depends on them.
KEEP_IN_FUNCTIONS = registry.ops_with("side_effects")


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


PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2"})


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
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for dst in consumers[name]:
            indegree[dst] -= 1
            if indegree[dst] == 0:
                ready.append(dst)
    if len(order) != len(needed):
        stuck = sorted(n for n, d in indegree.items() if d > 0)[:5]
        raise FormatError(f"{graph.where}: the graph has a cycle (involving {', '.join(stuck)})")
    return order


def _validate_tensor(graph: GraphModel, ref: tuple[str, int], what: str) -> None:
    node = graph.nodes.get(ref[0])
    if node is None:
        raise NotFoundError(f"{graph.where}: {what} '{ref[0]}:{ref[1]}' names no node")
    layout = graph.layout(ref[0])
    if ref[1] < 0 or (ref[1] >= max(layout.count, 1) and not (layout.single and ref[1] == 0)):
        raise NotFoundError(
            f"{graph.where}: {what} '{ref[0]}:{ref[1]}': node {ref[0]!r} ({node.op}) has "
            f"{layout.count} output(s)"
        )


# --------------------------------------------------------------------------- plans


@dataclass
class Step:
    run: Callable[..., Any]
    inputs: tuple[int, ...]
    out: int
    mode: int  # 0: one value; 1: a sequence of `count`; 2: no outputs kept
    count: int
    node: str
    op: str
    plain: bool = True  # takes its inputs as they are (no dereferencing wrapper) and is no function call


class Plan:
    """A compiled graph: `run(ctx, feed_values) -> fetch_values` (both in compile order)."""

    name: str

    def run(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        """Run the plan with its runtime's policy limits active.

        Every entry point (signatures, restored functions, compat.v1 `Session.run`, nested
        function calls) goes through here, so kernels that read `active_limits()` instead of
        their call context see the policy's limits, not the defaults."""
        limits = getattr(getattr(ctx, "runtime", None), "limits", None)
        if limits is None or active_limits() is limits:
            outputs = self._execute(ctx, args)
        else:
            with using_limits(limits):
                outputs = self._execute(ctx, args)
        # A fetched TF1 reference (VariableV2, Assign, RefExit...) gives the variable's value.
        return [deref(value) for value in outputs]

    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        raise NotImplementedError


def _deref_wrapper(run: Callable[..., Any], mask: tuple[int, ...]) -> Callable[..., Any]:
    """`run` taking its inputs as `mask` says (AS_IS/False, DEREF/True, ALIAS)."""
    readers = [_READERS[int(m)] for m in mask]

    def wrapped(ctx: Any, *args: Any) -> Any:
        return run(ctx, *[read(a) for a, read in zip(args, readers, strict=True)])

    return wrapped


_READERS: tuple[Callable[[Any], Any], ...] = (lambda a: a, deref, alias)


# What an input carries: a plain value, a TF1 reference, or an alias of a reference's buffer.
PLAIN, REF, ALIASED = 0, 1, 2


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


def _wrap_error(exc: Exception, step: Step) -> ExecutionError:
    if isinstance(exc, ExecutionError) and exc.node is None:
        return ExecutionError(str(exc), step.node, step.op)
    return ExecutionError(f"{type(exc).__name__}: {exc}", step.node, step.op)


class StraightPlan(Plan):
    """Runs steps in a fixed topological order over a flat list of value slots."""

    def __init__(
        self, name: str, template: list[Any], feed_slots: list[int], steps: list[Step], fetch_slots: list[int]
    ) -> None:
        self.name = name
        self.template = template
        self.feed_slots = feed_slots
        self.steps = steps
        self.fetch_slots = fetch_slots
        releases = _releases(steps, fetch_slots)
        self._fast = [
            (s.run, s.inputs, s.out, s.mode, s.count, r) for s, r in zip(steps, releases, strict=True)
        ]

    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        vals = self.template.copy()
        for slot, value in zip(self.feed_slots, args, strict=True):
            vals[slot] = value
        i = -1
        limits = ctx.runtime.limits
        # ctx.account only acts on arrays over the per-tensor cap, or when a per-call cap is set.
        per_call = limits.max_bytes_per_call is not None
        per_tensor = limits.max_bytes_per_tensor
        if per_tensor is None:
            per_tensor = float("inf")
        ndarray = np.ndarray
        account = ctx.account
        try:
            for i, (run, inputs, out, mode, count, release) in enumerate(self._fast):  # noqa: B007
                result = run(ctx, *[vals[j] for j in inputs])
                for j in release:  # values no later step reads: their memory goes back now
                    vals[j] = None
                if mode == 0:
                    vals[out] = result
                    if type(result) is ndarray and (per_call or result.nbytes > per_tensor):
                        account(result, self.steps[i].node)
                elif mode == 1:
                    if len(result) != count:
                        raise ExecutionError(f"kernel returned {len(result)} outputs, expected {count}")
                    vals[out : out + count] = result
                    for value in result:
                        if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                            account(value, self.steps[i].node)
        except ExecutionError as exc:
            if exc.node is not None:
                raise
            raise _wrap_error(exc, self.steps[i]) from exc
        except SavedModelError:
            raise
        except MemoryError as exc:
            raise ExecutionError("out of memory", self.steps[i].node, self.steps[i].op) from exc
        except RecursionError as exc:
            raise ExecutionError("recursion too deep while running the graph") from exc
        except Exception as exc:
            raise _wrap_error(exc, self.steps[i]) from exc
        return [vals[j] for j in self.fetch_slots]


def _releases(steps: Sequence[Step], fetch_slots: Sequence[int]) -> list[tuple[int, ...]]:
    """Per step, the value slots to drop once it has run: the inputs it is the last reader of
    (outputs of earlier steps only; feeds, constants and fetches stay). Intermediate tensors are
    then freed during the call instead of all living until its end."""
    last_read: dict[int, int] = {}
    for index, step in enumerate(steps):
        for slot in step.inputs:
            last_read[slot] = index
    produced = set()
    for step in steps:
        if step.mode == 0:
            produced.add(step.out)
        elif step.mode == 1:
            produced.update(range(step.out, step.out + step.count))
    kept = set(fetch_slots)
    releases: list[list[int]] = [[] for _ in steps]
    for slot, index in last_read.items():
        if slot in produced and slot not in kept:
            releases[index].append(slot)
    return [tuple(sorted(r)) for r in releases]


def compile_plan(
    runtime: Any,
    graph: GraphModel,
    feeds: Sequence[tuple[str, int]],
    fetches: Sequence[tuple[str, int]],
    targets: Sequence[str] = (),
    name: str = "graph",
    keep_stateful: bool = False,
) -> Plan:
    """Prepare the subgraph computing `fetches` from `feeds` and running `targets`.

    Constants are decoded while preparing, outside any call context: the runtime's policy
    limits are the active ones meanwhile."""
    with using_limits(getattr(runtime, "limits", None)):
        return _compile_plan(runtime, graph, feeds, fetches, targets, name, keep_stateful)


def _compile_plan(
    runtime: Any,
    graph: GraphModel,
    feeds: Sequence[tuple[str, int]],
    fetches: Sequence[tuple[str, int]],
    targets: Sequence[str],
    name: str,
    keep_stateful: bool,
) -> Plan:
    for ref in feeds:
        _validate_tensor(graph, ref, "fed tensor")
    for ref in fetches:
        _validate_tensor(graph, ref, "fetched tensor")
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
    if any(graph.nodes[n].op in DATAFLOW_OPS for n in needed):
        from savedmodel.runtime.dataflow import DataflowPlan

        return DataflowPlan(runtime, graph, needed, list(feeds), list(fetches), name)
    order = topological_order(graph, needed, fed)
    template: list[Any] = []
    feed_slots: dict[tuple[str, int], int] = {}
    for ref in feeds:
        if ref not in feed_slots:
            feed_slots[ref] = len(template)
            template.append(None)
    base: dict[str, int] = {}
    steps: list[Step] = []
    # What each node's outputs carry, where not PLAIN: REF (REF_PRODUCERS) or ALIASED (an
    # ALIAS_FORWARDERS node reading a reference).
    carries: dict[str, int] = {}
    for node_name in order:
        node = graph.nodes[node_name]
        layout = graph.layout(node_name)
        base[node_name] = len(template)
        width = max(layout.count, 1)
        template.extend([None] * width)
        run = prepare_node(node, library, graph.where)
        if node.op in CONSTANT_OPS and not node.control and not node.inputs:
            # Materialised once: constants cost nothing per call.
            template[base[node_name]] = run(None)
            continue
        inputs = [feed_slots[src] if src in feed_slots else base[src[0]] + src[1] for src in node.inputs]
        sources = [PLAIN if src in feed_slots else carries.get(src[0], PLAIN) for src in node.inputs]
        mask = input_modes(node, sources)
        if node.op in REF_PRODUCERS:
            carries[node_name] = REF
        elif mask and mask[0] == ALIAS:
            carries[node_name] = ALIASED
        if any(mask):
            run = _deref_wrapper(run, mask)
        mode = 0 if layout.single else (1 if layout.count else 2)
        if node.op in library:
            mode = 1
        plain = not any(mask) and node.op not in library
        steps.append(Step(run, tuple(inputs), base[node_name], mode, layout.count, node_name, node.op, plain))
    fetch_slots = [feed_slots[f] if f in feed_slots else base[f[0]] + f[1] for f in fetches]
    steps = fuse_steps(steps, graph, fetch_slots, _wrap_error)
    return StraightPlan(name, template, [feed_slots[f] for f in feeds], steps, fetch_slots)


def compile_function(runtime: Any, name: str, attrs: Mapping[str, Any] | None = None) -> Plan:
    """A library function as a plan: feeds are its arguments, fetches its results."""
    body = instantiate(runtime.library, name, attrs)
    feeds = [(arg, 0) for arg in body.arg_nodes]
    return compile_plan(
        runtime, body.graph, feeds, body.rets, body.control_rets, name=name, keep_stateful=True
    )


def constant_value(node: Node) -> np.ndarray:
    return tensor_format.to_numpy(node.attr["value"].tensor)
