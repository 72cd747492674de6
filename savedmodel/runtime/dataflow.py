"""The dataflow interpreter for TF1 control flow: dead tensors, frames and iterations.

It runs the TF1 graphs whose loops and conds the structure analysis (savedmodel.runtime.loops)
cannot turn into nested steps of the runner, behind the same `Plan.run(ctx, args)`, and shares
the runner's error wrapping, limits accounting and iteration checks (savedmodel.runtime.runner).

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
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.ops._resources import deref
from savedmodel.runtime.prepare import (
    CONST,
    ENTER,
    EXIT,
    KINDS,
    LOOP_COND_OPS,
    MERGE,
    NEXT,
    PASS,
    REGULAR,
    SWITCH,
    TRIGGER,
    GraphFacts,
    NodeFacts,
    readonly_index,
)
from savedmodel.runtime.runner import Plan, call_limits, check_iteration, loop_label, predicate, step_error


class _Dead:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<dead>"


DEAD = _Dead()
_MISSING = object()

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


def _item(node: NodeFacts) -> _Item:
    """The scheduler's view of one prepared node (edges are added by the plan)."""
    item = _Item()
    item.index = node.index
    item.name = node.name
    item.op = node.op
    item.kind = node.kind
    item.run = node.run
    item.n_data = node.n_data
    item.n_control = len(node.control)
    item.pending = item.n_data + item.n_control
    item.gate = _GATE_MERGE if item.kind == MERGE else (_GATE_ONE if item.pending == 1 else _GATE_MANY)
    item.single = node.single
    item.count = node.count
    item.out_edges = [[] for _ in range(item.count)]
    item.control_out = []
    item.deref_mask = node.deref_mask
    # A Merge fires on its first live input, or dead once every input it can receive in this
    # iteration is dead: from outside the loop in iteration 0, from NextIteration afterwards
    # (all inputs when none comes from NextIteration).
    item.next_inputs = tuple(KINDS.get(op) == NEXT for op in node.input_ops)
    from_next = sum(item.next_inputs)
    item.merge_first = item.n_data - from_next if from_next else item.n_data
    item.merge_later = from_next if from_next else item.n_data
    item.value_index = tuple(readonly_index(k) for k in range(item.n_data)) if item.kind == MERGE else ()
    item.const_outputs = (node.const_value,) if item.kind == CONST else None
    item.fetch_outputs = None
    item.frame_name = node.frame_name
    item.is_constant = node.is_constant
    return item


def _feed_item(edges: list[tuple[int, int]], items: list[_Item]) -> _Item:
    """A stand-in producer for a fed tensor, so feeds are delivered like any output."""
    item = _Item()
    item.index = -1
    item.sends = ((0, tuple((items[dst], slot) for dst, slot in edges)),) if edges else ()
    item.fetch_outputs = None
    return item


class DataflowPlan(Plan):
    """The dataflow interpreter: the fallback for TF1 graphs the structure analysis
    (savedmodel.runtime.loops) cannot turn into nested step lists."""

    def __init__(self, facts: GraphFacts, name: str) -> None:
        self.name = name
        self.feeds = facts.feeds
        self.fetches = facts.fetches
        items = [_item(node) for node in facts.nodes]
        for node, item in zip(facts.nodes, items, strict=True):
            for dst, k, slot in node.consumers:
                if k < 0:
                    item.control_out.append(dst)
                else:
                    while len(item.out_edges) <= k:
                        item.out_edges.append([])
                    item.out_edges[k].append((dst, slot))
        self.items = items
        self.loop_labels = _loop_labels(items)
        self.feed_items = [_feed_item(edges, items) for edges in facts.feed_consumers]
        self.roots = [it.index for it in items if it.pending == 0]
        self.fetch_refs = facts.fetch_refs
        fetched_outputs: dict[int, list[int]] = {}
        for i, out in self.fetch_refs:
            if i >= 0 and out not in fetched_outputs.setdefault(i, []):
                fetched_outputs[i].append(out)
        for i, outs in fetched_outputs.items():
            items[i].fetch_outputs = tuple(outs)
        for item in items:
            item.finish(items)

    # -- execution ---------------------------------------------------------------------------------
    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
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
                    if value is DEAD and target.kind != TRIGGER:
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
                        append((state, target, None if entry[1] and target.kind != TRIGGER else entry[2]))
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
        per_call, per_tensor, _ = call_limits(ctx)
        ndarray = np.ndarray
        while True:
            while ready:
                state, item, inputs = popleft()
                kind = item.kind
                if kind == REGULAR:
                    if inputs is None:
                        send(state, item, item.dead_outputs)
                        continue
                    if item.deref_mask is not None:
                        inputs = [deref(v) if m else v for v, m in zip(inputs, item.deref_mask, strict=True)]
                    try:
                        result = item.run(ctx, *inputs)
                    except Exception as exc:
                        error = step_error(exc, item.name, item.op)
                        if error is exc:
                            raise
                        raise error from exc
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
                elif kind == CONST or kind == PASS:
                    if inputs is None:
                        send(state, item, item.dead_outputs)
                        continue
                    if kind == CONST:
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
        if kind == MERGE:
            send(state, item, inputs)  # type: ignore[arg-type]
            return
        if kind == TRIGGER:
            send(state, item, ())
            return
        frame = state.frame
        if inputs is None:
            if kind == EXIT:
                frame.dead_exits.setdefault(item.index, False)
            elif kind == ENTER:
                self.enter(state, item, DEAD)
            elif kind != NEXT:  # a dead NextIteration ends the loop: nothing is sent
                send(state, item, item.dead_outputs)
            return
        if item.deref_mask is not None:
            inputs = [deref(v) if m else v for v, m in zip(inputs, item.deref_mask, strict=True)]
        if kind == SWITCH:
            data, pred = inputs
            pred_value = (
                bool(pred)
                if type(pred) is np.ndarray and pred.ndim == 0
                else predicate(pred, item.name, item.op)
            )
            send(state, item, (DEAD, data) if pred_value else (data, DEAD))
        elif kind == ENTER:
            self.enter(state, item, inputs[0])
        elif kind == EXIT:
            frame.live_exits.add(item.index)
            if frame.parent_state is not None:
                send(frame.parent_state, item, (inputs[0],))
        elif kind == NEXT:
            it = state.it + 1
            check_iteration(self.ctx, it, self.loop_label(frame.name))
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
        if item.op not in LOOP_COND_OPS:
            continue
        for edges in item.out_edges:
            for dst, _slot in edges:
                merge = producers.get((dst, 0))
                if items[dst].kind != SWITCH or merge is None or merge.kind != MERGE:
                    continue
                for k in range(merge.n_data):
                    enter = producers.get((merge.index, k))
                    if enter is not None and enter.kind == ENTER:
                        labels.setdefault(enter.frame_name, item.name)
    return labels
