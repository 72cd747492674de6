"""Compiling a graph (or a function body) into a prepared plan.

`compile_plan` prepares the subgraph the fetches and targets need (savedmodel.runtime.prepare:
prune, check kernels and policy, prepare each node once, materialise constants, fix the
order); calls then only execute, on one runner (savedmodel.runtime.runner):

- A graph without TF1 control-flow primitives (all TF2 function bodies, most TF1 inference
  graphs) is one flat list of steps over value slots (`StepPlan`).
- A TF1 graph with Switch/Merge/Enter/Exit/NextIteration whose loops and conds have the
  shapes tf.while_loop and tf.cond build is a tree of step lists: each loop or cond is one
  nested step holding its own lists (savedmodel.runtime.loops does the analysis).
- Any other TF1 control flow runs on the dataflow interpreter (`DataflowPlan`,
  savedmodel.runtime.dataflow: dead tensors, frames and iterations, as TensorFlow's executor),
  behind the same `Plan.run(ctx, args)`.

`STRUCTURED_CONTROL_FLOW = False` (tests and benchmarks) sends every TF1 control-flow graph
compiled meanwhile to the dataflow interpreter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from savedmodel.graph.model import GraphModel, instantiate
from savedmodel.policy import using_limits
from savedmodel.runtime.dataflow import DataflowPlan
from savedmodel.runtime.fusion import fuse_steps
from savedmodel.runtime.loops import structure_plan
from savedmodel.runtime.prepare import (
    ALIAS,
    ALIASED,
    CONSTANT_OPS,
    DATAFLOW_OPS,
    PLAIN,
    REF,
    REF_PRODUCERS,
    GraphFacts,
    deref_wrapper,
    input_modes,
    prepare_graph,
    prepare_node,
    step_mode,
    topological_order,
)
from savedmodel.runtime.runner import Plan, Step, StepPlan, wrap_step_error

# Whether TF1 loops and conds become nested steps where the analysis can structure them
# (False: every TF1 control-flow graph runs on the dataflow interpreter).
STRUCTURED_CONTROL_FLOW = True


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
        needed = prepare_graph(runtime, graph, feeds, fetches, targets, keep_stateful)
        if any(graph.nodes[n].op in DATAFLOW_OPS for n in needed):
            facts = GraphFacts(graph, needed, feeds, fetches)
            plan = structure_plan(facts, name) if STRUCTURED_CONTROL_FLOW else None
            return plan if plan is not None else DataflowPlan(facts, name)
        return _straight_plan(graph, needed, feeds, fetches, name)


def _straight_plan(
    graph: GraphModel,
    needed: set[str],
    feeds: Sequence[tuple[str, int]],
    fetches: Sequence[tuple[str, int]],
    name: str,
) -> StepPlan:
    """One flat step list in topological order, constants materialised in the slot template."""
    fed = set(feeds)
    library = graph.library
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
            run = deref_wrapper(run, mask)
        mode, count = step_mode(node, layout, library)
        plain = not any(mask) and node.op not in library
        steps.append(Step(run, tuple(inputs), base[node_name], mode, count, node_name, node.op, plain))
    fetch_slots = [feed_slots[f] if f in feed_slots else base[f[0]] + f[1] for f in fetches]
    steps = fuse_steps(steps, graph, fetch_slots, wrap_step_error)
    return StepPlan(name, template, [feed_slots[f] for f in feeds], steps, fetch_slots)


def compile_function(runtime: Any, name: str, attrs: Mapping[str, Any] | None = None) -> Plan:
    """A library function as a plan: feeds are its arguments, fetches its results."""
    body = instantiate(runtime.library, name, attrs)
    feeds = [(arg, 0) for arg in body.arg_nodes]
    return compile_plan(
        runtime, body.graph, feeds, body.rets, body.control_rets, name=name, keep_stateful=True
    )
