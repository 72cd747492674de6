"""The dataflow executor for TF1 control flow: dead tensors, frames and iterations.

Semantics follow TensorFlow's executor:
- Switch forwards its input to output 1 when the predicate is true, else to
  output 0; the other output is *dead*. A node with a dead input (data or
  control) does not run and its outputs are dead, except Merge (fires on the
  first live input, or dead when every input it can receive is dead) and
  ControlTrigger (always live).
- Enter moves a value into child frame `frame_name` (iteration 0; a constant
  Enter makes it visible to every iteration), NextIteration moves a value to
  the next iteration of the same frame (dead values end the loop and are
  dropped), Exit moves it to the parent frame. An Exit that only ever saw dead
  values sends a dead value to the parent once the frame can make no progress.

Speed: everything a call can know in advance is fixed at compile time (per node: its
successors grouped by output, how it is gated, Merge's expected input counts, a cached
value for constants, a pass-through flag for Identity-like ops). A call keeps one small
dict of pending entries per (frame, iteration); nodes with a single input need no entry
beyond a "fired" marker, and the ready queue carries the node itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from time import monotonic
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, FormatError, SavedModelError
from savedmodel.graph.model import GraphModel
from savedmodel.ops import registry
from savedmodel.policy import deadline_error, iteration_limit_error
from savedmodel.runtime.loops import loop_label
from savedmodel.runtime.plan import CONSTANT_OPS, REF_CONSUMERS, REF_PRODUCERS, Plan, prepare_node
from savedmodel.runtime.resources import deref


class _Dead:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<dead>"


DEAD = _Dead()
_MISSING = object()

# What firing a node does. _CONST and _PASS are regular nodes whose kernel is skipped: a
# constant's value is fixed once prepared, an identity returns its input.
_REGULAR, _SWITCH, _MERGE, _ENTER, _EXIT, _NEXT, _TRIGGER, _CONST, _PASS = range(9)
_ROLE_KINDS = {
    "switch": _SWITCH,
    "merge": _MERGE,
    "enter": _ENTER,
    "exit": _EXIT,
    "next_iteration": _NEXT,
    "trigger": _TRIGGER,
    "loop_cond": _REGULAR,
}
_KINDS = {op: _ROLE_KINDS[role] for op, role in registry.dataflow_roles().items()}
# Ops whose kernel returns its single input unchanged.
_PASS_OPS = registry.ops_with("forwards_input")
# How a node waits for its inputs: one input (no counting), several, or Merge's rule.
_GATE_ONE, _GATE_MANY, _GATE_MERGE = range(3)


class _Item:
    __slots__ = (
        "index",
        "name",
        "op",
        "kind",
        "gate",
        "run",
        "n_data",
        "n_control",
        "pending",
        "out_edges",
        "control_out",
        "sends",
        "single",
        "count",
        "dead_outputs",
        "deref_mask",
        "next_inputs",
        "merge_first",
        "merge_later",
        "value_index",
        "const_outputs",
        "fetch_outputs",
        "frame_name",
        "is_constant",
    )

    def finish(self, items: list[_Item]) -> None:
        """Derive the per-call fast-path fields once the edges are known: `sends` lists, per
        output with consumers (-1: control edges), the consuming items and input slots."""
        sends: list[tuple[int, tuple[tuple[_Item, int], ...]]] = [
            (k, tuple((items[dst], slot) for dst, slot in edges))
            for k, edges in enumerate(self.out_edges)
            if edges
        ]
        if self.control_out:
            sends.append((-1, tuple((items[dst], -1) for dst in self.control_out)))
        self.sends = tuple(sends)
        self.dead_outputs = (DEAD,) * self.count


class _Frame:
    __slots__ = (
        "name",
        "parent",
        "parent_state",
        "iterations",
        "const_values",
        "children",
        "live_exits",
        "dead_exits",
    )

    def __init__(self, name: str, parent: _Frame | None, parent_state: _Iteration | None) -> None:
        self.name = name
        self.parent = parent
        self.parent_state = parent_state
        self.iterations: dict[int, _Iteration] = {}
        self.const_values: list[tuple[int, Any]] = []
        self.children: dict[tuple[int, str], _Frame] = {}
        self.live_exits: set[int] = set()
        self.dead_exits: dict[int, bool] = {}


class _Iteration:
    """One iteration of one frame: the pending entries of its nodes, keyed by the node's item.

    An entry is None for a fired single-input node, [remaining, dead, inputs] for a node
    with several inputs, [fired, expected, dead_count] for a Merge."""

    __slots__ = ("frame", "it", "entries")

    def __init__(self, frame: _Frame, it: int) -> None:
        self.frame = frame
        self.it = it
        self.entries: dict[_Item, Any] = {}


# Data inputs the control-flow primitives need (a malformed graph may give them fewer).
_ARITY = {_SWITCH: (2, 2), _MERGE: (1, None), _ENTER: (1, 1), _EXIT: (1, 1), _NEXT: (1, 1)}


def _check_arity(item: _Item, where: str) -> None:
    bounds = _ARITY.get(item.kind)
    if bounds is None:
        return
    low, high = bounds
    if item.n_data < low or (high is not None and item.n_data > high):
        wanted = str(low) if low == high else f"at least {low}"
        raise FormatError(
            f"{where}: node {item.name!r} ({item.op}) has {item.n_data} data inputs, expected {wanted}"
        )


def _readonly_index(slot: int) -> np.ndarray:
    value = np.asarray(slot, dtype=np.int32)
    value.flags.writeable = False
    return value


def _feed_item(edges: list[tuple[int, int]], items: list[_Item]) -> _Item:
    """A stand-in producer for a fed tensor, so feeds are delivered like any output."""
    item = _Item()
    item.index = -1
    item.sends = ((0, tuple((items[dst], slot) for dst, slot in edges)),) if edges else ()
    item.fetch_outputs = None
    return item


class DataflowPlan(Plan):
    def __init__(
        self,
        runtime: Any,
        graph: GraphModel,
        needed: set[str],
        feeds: list[tuple[str, int]],
        fetches: list[tuple[str, int]],
        name: str,
    ) -> None:
        self.name = name
        self.runtime = runtime
        self.feeds = feeds
        self.fetches = fetches
        fed = set(feeds)
        names = [n for n in graph.nodes if n in needed]
        index = {n: i for i, n in enumerate(names)}
        items: list[_Item] = []
        library = graph.library
        for i, node_name in enumerate(names):
            node = graph.nodes[node_name]
            layout = graph.layout(node_name)
            item = _Item()
            item.index = i
            item.name = node_name
            item.op = node.op
            item.kind = _KINDS.get(node.op, _REGULAR)
            item.run = prepare_node(node, library, graph.where)
            item.n_data = len(node.inputs)
            _check_arity(item, graph.where)
            item.n_control = len([c for c in node.control if c in index])
            item.pending = item.n_data + item.n_control
            item.gate = (
                _GATE_MERGE if item.kind == _MERGE else (_GATE_ONE if item.pending == 1 else _GATE_MANY)
            )
            item.single = layout.single or node.op in (
                "Enter",
                "RefEnter",
                "Exit",
                "RefExit",
                "NextIteration",
                "RefNextIteration",
                "LoopCond",
            )
            item.count = max(layout.count, 2 if item.kind in (_SWITCH, _MERGE) else 1)
            item.out_edges = [[] for _ in range(item.count)]
            item.control_out = []
            mask = tuple(
                graph.nodes[s[0]].op in REF_PRODUCERS and node.op not in REF_CONSUMERS for s in node.inputs
            )
            item.deref_mask = mask if any(mask) else None
            item.next_inputs = tuple(
                graph.nodes[s[0]].op in ("NextIteration", "RefNextIteration") for s in node.inputs
            )
            # A Merge fires on its first live input, or dead once every input it can receive
            # in this iteration is dead: from outside the loop in iteration 0, from
            # NextIteration afterwards (all inputs when none comes from NextIteration).
            from_next = sum(item.next_inputs)
            item.merge_first = item.n_data - from_next if from_next else item.n_data
            item.merge_later = from_next if from_next else item.n_data
            item.value_index = (
                tuple(_readonly_index(k) for k in range(item.n_data)) if item.kind == _MERGE else ()
            )
            item.const_outputs = None
            if item.kind == _REGULAR and node.op not in library:
                if node.op in CONSTANT_OPS and not node.inputs:
                    item.kind = _CONST
                    item.const_outputs = (item.run(None),)
                elif node.op in _PASS_OPS and item.n_data == 1 and layout.single:
                    item.kind = _PASS
            item.fetch_outputs = None
            item.frame_name = (
                node.attr["frame_name"].s.decode("utf-8", "replace") if "frame_name" in node.attr else ""
            )
            item.is_constant = bool(node.attr["is_constant"].b) if "is_constant" in node.attr else False
            items.append(item)
        feed_edges: list[list[tuple[int, int]]] = [[] for _ in feeds]
        feed_pos = {f: k for k, f in enumerate(feeds)}
        for item in items:
            node = graph.nodes[item.name]
            for slot, src in enumerate(node.inputs):
                if src in fed:
                    feed_edges[feed_pos[src]].append((item.index, slot))
                else:
                    producer = items[index[src[0]]]
                    while len(producer.out_edges) <= src[1]:
                        producer.out_edges.append([])
                    producer.out_edges[src[1]].append((item.index, slot))
            for ctrl in node.control:
                if ctrl in index:
                    items[index[ctrl]].control_out.append(item.index)
        self.items = items
        self.loop_labels = _loop_labels(items)
        self.feed_items = [_feed_item(edges, items) for edges in feed_edges]
        self.roots = [it.index for it in items if it.pending == 0]
        self.fetch_refs = [(index[f[0]] if f[0] in index else -1, f[1]) for f in fetches]
        fetched_outputs: dict[int, list[int]] = {}
        for i, out in self.fetch_refs:
            if i >= 0 and out not in fetched_outputs.setdefault(i, []):
                fetched_outputs[i].append(out)
        for i, outs in fetched_outputs.items():
            items[i].fetch_outputs = tuple(outs)
        for item in items:
            item.finish(items)
        # Graphs whose control flow is canonical while loops and v1 conds run as flat step lists.
        from savedmodel.runtime.loops import build_loop_program

        self.fast = build_loop_program(self)

    # -- execution ---------------------------------------------------------------------------------
    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        if self.fast is not None:
            return self.fast.execute(ctx, args)
        items = self.items
        state = _RunState(self, ctx)
        root_state = state.root_state
        fed_values: dict[tuple[str, int], Any] = {}
        for k, value in enumerate(args):
            fed_values[self.feeds[k]] = value
            state.send(root_state, self.feed_items[k], (value,))
        ready = state.ready
        for i in self.roots:
            ready.append((root_state, items[i], []))
        state.loop()
        results = []
        for (i, out), ref in zip(self.fetch_refs, self.fetches, strict=True):
            if ref in fed_values:
                results.append(fed_values[ref])
                continue
            value = state.fetched.get((i, out), _MISSING)
            if value is _MISSING:
                raise ExecutionError(
                    f"fetched tensor '{ref[0]}:{ref[1]}' was never computed (the graph could "
                    "not make progress: a node waits for an input that never arrives)"
                )
            if value is DEAD:
                raise ExecutionError(
                    f"fetched tensor '{ref[0]}:{ref[1]}' was not computed (it is dead: "
                    "on a branch of a conditional that was not taken)"
                )
            results.append(value)
        return results


class _RunState:
    """One call's frames, iterations, ready queue and fetched values."""

    def __init__(self, plan: DataflowPlan, ctx: Any) -> None:
        self.items = plan.items
        self.ctx = ctx
        self.ready: deque[tuple[_Iteration, _Item, list | None]] = deque()
        self.fetched: dict[tuple[int, int], Any] = {}
        self.frames: list[_Frame] = []
        limits = ctx.runtime.limits
        self.max_iterations = limits.max_while_iterations
        self.loop_labels = plan.loop_labels
        self.root = _Frame("", None, None)
        self.root_state = self.iteration(self.root, 0)

    def iteration(self, frame: _Frame, it: int) -> _Iteration:
        """Iteration `it` of `frame`, created (with the frame's loop constants delivered) if new."""
        state = frame.iterations.get(it)
        if state is None:
            state = frame.iterations[it] = _Iteration(frame, it)
            items = self.items
            for enter_index, value in frame.const_values:
                self.send(state, items[enter_index], (value,))
        return state

    def send_into(self, frame: _Frame, it: int, item: _Item, outputs: tuple) -> None:
        """Send to iteration `it` of `frame`, creating it only when something is sent there."""
        if item.sends or (item.fetch_outputs is not None and frame is self.root):
            self.send(self.iteration(frame, it), item, outputs)

    def send(self, state: _Iteration, item: _Item, outputs: Sequence[Any]) -> None:
        """Deliver `outputs` of `item` to its consumers in `state`; queue those that become ready."""
        n_out = len(outputs)
        if item.fetch_outputs is not None and state.frame is self.root:
            for k in item.fetch_outputs:
                if k < n_out:
                    self.fetched[(item.index, k)] = outputs[k]
        entries = state.entries
        append = self.ready.append
        for k, edges in item.sends:
            if k >= 0:
                value = outputs[k] if k < n_out else DEAD
            else:  # control edges: dead only when every output is dead
                value = DEAD if n_out and all(v is DEAD for v in outputs) else None
            for target, slot in edges:
                gate = target.gate
                if gate == _GATE_ONE:
                    if target in entries:
                        continue
                    entries[target] = None
                    if value is DEAD and target.kind != _TRIGGER:
                        append((state, target, None))
                    else:
                        append((state, target, [value] if slot >= 0 else []))
                elif gate == _GATE_MANY:
                    entry = entries.get(target)
                    if entry is None:
                        entry = entries[target] = [target.pending, False, [None] * target.n_data]
                    elif entry[0] <= 0:
                        continue
                    if slot >= 0:
                        entry[2][slot] = value
                    if value is DEAD:
                        entry[1] = True
                    entry[0] -= 1
                    if entry[0] == 0:
                        append((state, target, None if entry[1] and target.kind != _TRIGGER else entry[2]))
                else:
                    if slot < 0:
                        continue  # control inputs of Merge do not gate it
                    entry = entries.get(target)
                    if entry is None:
                        expected = target.merge_later if state.it > 0 else target.merge_first
                        entry = entries[target] = [False, expected, 0]
                    elif entry[0]:
                        continue
                    if value is DEAD:
                        entry[2] += 1
                        if entry[2] >= entry[1]:
                            entry[0] = True
                            append((state, target, [DEAD, DEAD]))
                    else:
                        entry[0] = True
                        append((state, target, [value, target.value_index[slot]]))

    def loop(self) -> None:
        """Run queued nodes until nothing is ready and no frame has a dead Exit left to flush."""
        ready = self.ready
        popleft = ready.popleft
        send = self.send
        ctx = self.ctx
        account = ctx.account
        # ctx.account only acts on arrays over the per-tensor cap, or when a per-call cap is set.
        limits = ctx.runtime.limits
        per_call = limits.max_bytes_per_call is not None
        per_tensor = limits.max_bytes_per_tensor
        if per_tensor is None:
            per_tensor = float("inf")
        ndarray = np.ndarray
        while True:
            while ready:
                state, item, inputs = popleft()
                kind = item.kind
                if kind == _REGULAR:
                    if inputs is None:
                        send(state, item, item.dead_outputs)
                        continue
                    if item.deref_mask is not None:
                        inputs = [deref(v) if m else v for v, m in zip(inputs, item.deref_mask, strict=True)]
                    try:
                        result = item.run(ctx, *inputs)
                    except ExecutionError as exc:
                        if exc.node is not None:
                            raise
                        raise ExecutionError(str(exc), item.name, item.op) from exc
                    except SavedModelError:
                        raise
                    except Exception as exc:
                        raise ExecutionError(f"{type(exc).__name__}: {exc}", item.name, item.op) from exc
                    if item.single:
                        outputs = (result,)
                    elif result is None:
                        outputs = ()
                    else:
                        outputs = list(result)
                    for value in outputs:
                        if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                            account(value, item.name)
                    send(state, item, outputs)
                elif kind == _CONST or kind == _PASS:
                    if inputs is None:
                        send(state, item, item.dead_outputs)
                        continue
                    if kind == _CONST:
                        outputs = item.const_outputs
                    else:
                        value = inputs[0]
                        outputs = (deref(value) if item.deref_mask is not None else value,)
                    value = outputs[0]
                    if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                        account(value, item.name)
                    send(state, item, outputs)
                else:
                    self.fire_control(state, item, inputs)
            if not self.flush_dead_exits():
                break

    def fire_control(self, state: _Iteration, item: _Item, inputs: list | None) -> None:
        """Fire a control-flow primitive (Switch, Merge, Enter, Exit, NextIteration, ControlTrigger)."""
        kind = item.kind
        send = self.send
        if kind == _MERGE:
            send(state, item, inputs)  # type: ignore[arg-type]
            return
        if kind == _TRIGGER:
            send(state, item, ())
            return
        frame = state.frame
        if inputs is None:
            if kind == _EXIT:
                frame.dead_exits.setdefault(item.index, False)
            elif kind == _ENTER:
                self.enter(state, item, DEAD)
            elif kind != _NEXT:  # a dead NextIteration ends the loop: nothing is sent
                send(state, item, item.dead_outputs)
            return
        if item.deref_mask is not None:
            inputs = [deref(v) if m else v for v, m in zip(inputs, item.deref_mask, strict=True)]
        if kind == _SWITCH:
            data, pred = inputs
            if type(pred) is np.ndarray and pred.ndim == 0:
                pred_value = bool(pred)
            else:
                pred_value = bool(
                    np.asarray(pred).reshape(()) if np.ndim(pred) == 0 else _bad_pred(item, pred)
                )
            send(state, item, (DEAD, data) if pred_value else (data, DEAD))
        elif kind == _ENTER:
            self.enter(state, item, inputs[0])
        elif kind == _EXIT:
            frame.live_exits.add(item.index)
            if frame.parent_state is not None:
                send(frame.parent_state, item, (inputs[0],))
        elif kind == _NEXT:
            it = state.it + 1
            if self.max_iterations is not None and it > self.max_iterations:
                raise iteration_limit_error(self.loop_label(frame.name), self.max_iterations)
            deadline = self.ctx.deadline
            if deadline is not None and monotonic() > deadline:
                raise deadline_error(self.ctx.runtime.limits, f"while loop {self.loop_label(frame.name)}")
            self.send_into(frame, it, item, (inputs[0],))

    def loop_label(self, frame: str) -> str:
        return loop_label(frame, self.loop_labels.get(frame))

    def enter(self, state: _Iteration, item: _Item, value: Any) -> None:
        """Move `value` into the child frame: iteration 0, or every iteration for a loop constant."""
        child = self.child(state, item.frame_name)
        if not item.is_constant:
            self.send_into(child, 0, item, (value,))
            return
        child.const_values.append((item.index, value))
        if 0 not in child.iterations:
            self.iteration(child, 0)  # delivers the loop constants, this one included
            return
        for child_state in list(child.iterations.values()):
            self.send(child_state, item, (value,))

    def child(self, state: _Iteration, name: str) -> _Frame:
        frame = state.frame
        key = (state.it, name)
        child = frame.children.get(key)
        if child is None:
            child = frame.children[key] = _Frame(name, frame, state)
            self.frames.append(child)
        return child

    def flush_dead_exits(self) -> bool:
        """Send dead values out of frames whose Exit never saw a live value. True if anything moved."""
        moved = False
        for frame in self.frames:
            for exit_index, sent in list(frame.dead_exits.items()):
                if sent or exit_index in frame.live_exits:
                    continue
                frame.dead_exits[exit_index] = True
                if frame.parent_state is not None:
                    self.send(frame.parent_state, self.items[exit_index], (DEAD,))
                    moved = True
        return moved


def _loop_labels(items: list[_Item]) -> dict[str, str]:
    """Frame name -> the name of its LoopCond node (LoopCond -> Switch <- Merge <- Enter)."""
    producers: dict[tuple[int, int], _Item] = {}
    for item in items:
        for edges in item.out_edges:
            for dst, slot in edges:
                producers[(dst, slot)] = item
    labels: dict[str, str] = {}
    for item in items:
        if item.op != "LoopCond":
            continue
        for edges in item.out_edges:
            for dst, _slot in edges:
                merge = producers.get((dst, 0))
                if items[dst].kind != _SWITCH or merge is None or merge.kind != _MERGE:
                    continue
                for k in range(merge.n_data):
                    enter = producers.get((merge.index, k))
                    if enter is not None and enter.kind == _ENTER:
                        labels.setdefault(enter.frame_name, item.name)
    return labels


def _bad_pred(item: Any, pred: Any) -> bool:
    raise ExecutionError(
        f"the predicate of a Switch must be a scalar, got shape {np.shape(pred)}", item.name, item.op
    )
