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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, FormatError, LimitExceededError, SavedModelError
from savedmodel.graph.model import GraphModel
from savedmodel.runtime.plan import REF_CONSUMERS, REF_PRODUCERS, Plan, prepare_node
from savedmodel.runtime.resources import deref


class _Dead:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<dead>"


DEAD = _Dead()
_MISSING = object()

_REGULAR, _SWITCH, _MERGE, _ENTER, _EXIT, _NEXT, _TRIGGER = range(7)
_KINDS = {
    "Switch": _SWITCH,
    "RefSwitch": _SWITCH,
    "Merge": _MERGE,
    "RefMerge": _MERGE,
    "Enter": _ENTER,
    "RefEnter": _ENTER,
    "Exit": _EXIT,
    "RefExit": _EXIT,
    "NextIteration": _NEXT,
    "RefNextIteration": _NEXT,
    "ControlTrigger": _TRIGGER,
}


class _Item:
    __slots__ = (
        "index",
        "name",
        "op",
        "kind",
        "run",
        "n_data",
        "n_control",
        "out_edges",
        "control_out",
        "single",
        "count",
        "deref_mask",
        "next_inputs",
        "frame_name",
        "is_constant",
    )


class _Frame:
    __slots__ = (
        "name",
        "parent",
        "parent_iter",
        "iterations",
        "const_values",
        "children",
        "live_exits",
        "dead_exits",
        "iteration_count",
    )

    def __init__(self, name: str, parent: _Frame | None, parent_iter: int) -> None:
        self.name = name
        self.parent = parent
        self.parent_iter = parent_iter
        self.iterations: dict[int, dict[int, list]] = {}
        self.const_values: list[tuple[int, Any]] = []
        self.children: dict[tuple[int, str], _Frame] = {}
        self.live_exits: set[int] = set()
        self.dead_exits: dict[int, bool] = {}
        self.iteration_count = 0


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
        for i, node_name in enumerate(names):
            node = graph.nodes[node_name]
            layout = graph.layout(node_name)
            item = _Item()
            item.index = i
            item.name = node_name
            item.op = node.op
            item.kind = _KINDS.get(node.op, _REGULAR)
            item.run = prepare_node(node, graph.library, graph.where)
            item.n_data = len(node.inputs)
            _check_arity(item, graph.where)
            item.n_control = len([c for c in node.control if c in index])
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
            item.deref_mask = tuple(
                graph.nodes[s[0]].op in REF_PRODUCERS and node.op not in REF_CONSUMERS for s in node.inputs
            )
            item.next_inputs = tuple(
                graph.nodes[s[0]].op in ("NextIteration", "RefNextIteration") for s in node.inputs
            )
            item.frame_name = (
                node.attr["frame_name"].s.decode("utf-8", "replace") if "frame_name" in node.attr else ""
            )
            item.is_constant = bool(node.attr["is_constant"].b) if "is_constant" in node.attr else False
            items.append(item)
        self.feed_edges: list[list[tuple[int, int]]] = [[] for _ in feeds]
        feed_pos = {f: k for k, f in enumerate(feeds)}
        for item in items:
            node = graph.nodes[item.name]
            for slot, src in enumerate(node.inputs):
                if src in fed:
                    self.feed_edges[feed_pos[src]].append((item.index, slot))
                else:
                    producer = items[index[src[0]]]
                    while len(producer.out_edges) <= src[1]:
                        producer.out_edges.append([])
                    producer.out_edges[src[1]].append((item.index, slot))
            for ctrl in node.control:
                if ctrl in index:
                    items[index[ctrl]].control_out.append(item.index)
        self.items = items
        self.roots = [
            it.index
            for it in items
            if it.n_control == 0 and all(src in fed for src in graph.nodes[it.name].inputs) and it.n_data == 0
        ]
        self.fetch_refs = [(index[f[0]] if f[0] in index else -1, f[1]) for f in fetches]

    # -- execution ---------------------------------------------------------------------------------
    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        items = self.items
        root = _Frame("", None, 0)
        ready: deque[tuple[_Frame, int, int, list]] = deque()
        state = _RunState(self, ctx, root, ready)
        fed_values: dict[tuple[str, int], Any] = {}
        for k, value in enumerate(args):
            fed_values[self.feeds[k]] = value
            for dst, slot in self.feed_edges[k]:
                state.deliver(root, 0, dst, slot, value)
        for i in self.roots:
            ready.append((root, 0, i, []))
        while True:
            while ready:
                frame, it, i, inputs = ready.popleft()
                state.fire(frame, it, items[i], inputs)
            if not state.flush_dead_exits():
                break
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
    def __init__(self, plan: DataflowPlan, ctx: Any, root: _Frame, ready: deque) -> None:
        self.plan = plan
        self.items = plan.items
        self.ctx = ctx
        self.root = root
        self.ready = ready
        self.fetched: dict[tuple[int, int], Any] = {}
        self.fetch_set = set(plan.fetch_refs)
        self.fetch_nodes = {ref[0] for ref in plan.fetch_refs}
        self.frames: list[_Frame] = []
        self.max_iterations = ctx.runtime.limits.max_while_iterations

    # pending per (frame, iteration, node): [inputs list, pending count, dead flag, fired]
    def _slot_state(self, frame: _Frame, it: int, item: Any) -> list:
        iteration = frame.iterations.get(it)
        if iteration is None:
            iteration = self._new_iteration(frame, it)
        entry = iteration.get(item.index)
        if entry is None:
            if item.kind == _MERGE:
                expected = (
                    sum(1 for nxt in item.next_inputs if nxt == (it > 0))
                    if any(item.next_inputs)
                    else item.n_data
                )
                entry = [[None] * item.n_data, expected, 0, False]
            else:
                entry = [[None] * item.n_data, item.n_data + item.n_control, False, False]
            iteration[item.index] = entry
        return entry

    def _new_iteration(self, frame: _Frame, it: int) -> dict[int, list]:
        iteration: dict[int, list] = {}
        frame.iterations[it] = iteration
        for enter_index, value in frame.const_values:
            self._propagate(frame, it, self.items[enter_index], [value], within_child=True)
        return iteration

    def deliver(self, frame: _Frame, it: int, dst: int, slot: int, value: Any) -> None:
        item = self.items[dst]
        entry = self._slot_state(frame, it, item)
        if entry[3]:
            return
        if item.kind == _MERGE:
            if slot < 0:
                return  # control inputs of Merge do not gate it
            if value is DEAD:
                entry[2] += 1
                if entry[2] >= entry[1]:
                    entry[3] = True
                    self.ready.append((frame, it, dst, [DEAD, DEAD]))
                return
            entry[3] = True
            self.ready.append((frame, it, dst, [value, np.asarray(slot, dtype=np.int32)]))
            return
        if slot >= 0:
            entry[0][slot] = value
        if value is DEAD:
            entry[2] = True
        entry[1] -= 1
        if entry[1] == 0:
            entry[3] = True
            inputs = entry[0]
            entry[0] = None
            if entry[2] and item.kind != _TRIGGER:
                inputs = None
            self.ready.append((frame, it, dst, inputs))

    def fire(self, frame: _Frame, it: int, item: Any, inputs: list | None) -> None:
        kind = item.kind
        dead = inputs is None
        if kind == _MERGE:
            self._propagate(frame, it, item, inputs)
            return
        if kind == _TRIGGER:
            self._propagate(frame, it, item, [])
            return
        if dead:
            if kind == _EXIT:
                frame.dead_exits.setdefault(item.index, False)
                return
            if kind == _NEXT:
                return
            if kind == _ENTER:
                child = self._child(frame, it, item.frame_name)
                if item.is_constant:
                    child.const_values.append((item.index, DEAD))
                    for child_it in list(child.iterations):
                        self._propagate(child, child_it, item, [DEAD], within_child=True)
                    if 0 not in child.iterations:
                        self._slot_iteration(child, 0)
                else:
                    self._propagate(child, 0, item, [DEAD], within_child=True)
                return
            self._propagate(frame, it, item, [DEAD] * item.count)
            return
        if item.deref_mask and any(item.deref_mask):
            inputs = [deref(v) if m else v for v, m in zip(inputs, item.deref_mask, strict=True)]
        if kind == _SWITCH:
            data, pred = inputs
            pred_value = bool(np.asarray(pred).reshape(()) if np.ndim(pred) == 0 else _bad_pred(item, pred))
            self._propagate(frame, it, item, [DEAD, data] if pred_value else [data, DEAD])
            return
        if kind == _ENTER:
            child = self._child(frame, it, item.frame_name)
            if item.is_constant:
                child.const_values.append((item.index, inputs[0]))
                if 0 not in child.iterations:
                    self._slot_iteration(child, 0)
                else:
                    for child_it in list(child.iterations):
                        self._propagate(child, child_it, item, [inputs[0]], within_child=True)
            else:
                self._propagate(child, 0, item, [inputs[0]], within_child=True)
            return
        if kind == _EXIT:
            frame.live_exits.add(item.index)
            parent = frame.parent
            if parent is not None:
                self._propagate(parent, frame.parent_iter, item, [inputs[0]], within_child=True)
            return
        if kind == _NEXT:
            frame.iteration_count = max(frame.iteration_count, it + 1)
            if self.max_iterations is not None and it + 1 > self.max_iterations:
                raise LimitExceededError(
                    f"while loop {frame.name!r} ran more than {self.max_iterations} "
                    "iterations (policy limit max_while_iterations)"
                )
            self._propagate(frame, it + 1, item, [inputs[0]], within_child=True)
            return
        try:
            result = item.run(self.ctx, *inputs)
        except ExecutionError as exc:
            if exc.node is not None:
                raise
            raise ExecutionError(str(exc), item.name, item.op) from exc
        except SavedModelError:
            raise
        except Exception as exc:
            raise ExecutionError(f"{type(exc).__name__}: {exc}", item.name, item.op) from exc
        if item.single:
            outputs = [result]
        elif result is None:
            outputs = []
        else:
            outputs = list(result)
        for value in outputs:
            self.ctx.account(value, item.name)
        self._propagate(frame, it, item, outputs)

    def _slot_iteration(self, frame: _Frame, it: int) -> None:
        if it not in frame.iterations:
            self._new_iteration(frame, it)

    def _child(self, frame: _Frame, it: int, name: str) -> _Frame:
        key = (it, name)
        child = frame.children.get(key)
        if child is None:
            child = frame.children[key] = _Frame(name, frame, it)
            self.frames.append(child)
        return child

    def _propagate(
        self, frame: _Frame, it: int, item: Any, outputs: list, within_child: bool = False
    ) -> None:
        """Send `outputs` of `item` to its consumers in (frame, it)."""
        if frame is self.root and item.index in self.fetch_nodes:
            for k, value in enumerate(outputs):
                if (item.index, k) in self.fetch_set:
                    self.fetched[(item.index, k)] = value
        deliver = self.deliver
        count = len(outputs)
        for k, edges in enumerate(item.out_edges):
            if edges:
                value = outputs[k] if k < count else DEAD
                for dst, slot in edges:
                    deliver(frame, it, dst, slot, value)
        if item.control_out:
            control_value = DEAD if outputs and all(v is DEAD for v in outputs) else None
            for dst in item.control_out:
                deliver(frame, it, dst, -1, control_value)

    def flush_dead_exits(self) -> bool:
        """Send dead values out of frames whose Exit never saw a live value. True if anything moved."""
        moved = False
        for frame in self.frames:
            for exit_index, sent in list(frame.dead_exits.items()):
                if sent or exit_index in frame.live_exits:
                    continue
                frame.dead_exits[exit_index] = True
                if frame.parent is not None:
                    self._propagate(
                        frame.parent, frame.parent_iter, self.items[exit_index], [DEAD], within_child=True
                    )
                    moved = True
        return moved


def _bad_pred(item: Any, pred: Any) -> bool:
    raise ExecutionError(
        f"the predicate of a Switch must be a scalar, got shape {np.shape(pred)}", item.name, item.op
    )
