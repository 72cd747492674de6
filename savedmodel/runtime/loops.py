"""A fast path for TF1 graphs whose only control flow is canonical `tf.while_loop` frames.

When every frame of a dataflow graph has the exact shape tf.while_loop builds (Enter ->
Merge(Enter, NextIteration) -> LoopCond -> Switch -> body -> NextIteration, Switch:0 ->
Exit), is not nested, and the root frame holds no Switch/Merge, no tensor can ever be
dead: the graph runs as a flat list of steps over value slots, where each frame is one
"loop step" running `while cond(vars): vars = body(vars)`. Anything else returns None
from `build_loop_program` and keeps the general dataflow scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, LimitExceededError, SavedModelError
from savedmodel.runtime.plan import _deref_wrapper

_MODE_ONE, _MODE_MANY, _MODE_LOOP = range(3)


class _Unsupported(Exception):
    """The graph is not in the shape the fast path handles."""


def _require(condition: bool) -> None:
    if not condition:
        raise _Unsupported


class _Loop:
    """One compiled frame: initial values, condition steps, body steps and the loop-var slots."""

    __slots__ = (
        "name",
        "init",
        "var_slots",
        "cond",
        "cond_consts",
        "pred_slot",
        "switch",
        "body",
        "body_consts",
        "next_slots",
    )

    def run(self, program: LoopProgram, ctx: Any, vals: list[Any], limits: tuple) -> None:
        var_slots = self.var_slots
        for slot, src in zip(var_slots, self.init, strict=True):
            vals[slot] = vals[src]
        max_iterations = ctx.runtime.limits.max_while_iterations
        run_steps = program.run_steps
        cond, body, pred_slot = self.cond, self.body, self.pred_slot
        cond_consts, body_consts, next_slots = self.cond_consts, self.body_consts, self.next_slots
        count = 0
        while True:
            run_steps(ctx, vals, cond, cond_consts, limits)
            pred = vals[pred_slot]
            if type(pred) is np.ndarray and pred.ndim == 0:
                go = bool(pred)
            elif np.ndim(pred) == 0:
                go = bool(np.asarray(pred).reshape(()))
            else:
                raise ExecutionError(
                    f"the predicate of a Switch must be a scalar, got shape {np.shape(pred)}",
                    self.switch.name,
                    self.switch.op,
                )
            if not go:
                return
            run_steps(ctx, vals, body, body_consts, limits)
            count += 1
            if max_iterations is not None and count > max_iterations:
                raise LimitExceededError(
                    f"while loop {self.name!r} ran more than {max_iterations} "
                    "iterations (policy limit max_while_iterations)"
                )
            new = [vals[s] for s in next_slots]
            for slot, value in zip(var_slots, new, strict=True):
                vals[slot] = value


class LoopProgram:
    """The whole graph as steps over slots: `execute(ctx, args) -> fetched values`."""

    def __init__(
        self, template: list[Any], feed_slots: list[int], steps: list, consts: list, fetch_slots: list[int]
    ) -> None:
        self.template = template
        self.feed_slots = feed_slots
        self.steps = steps
        self.consts = consts
        self.fetch_slots = fetch_slots

    def execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        vals = self.template.copy()
        for slot, value in zip(self.feed_slots, args, strict=True):
            vals[slot] = value
        limits = ctx.runtime.limits
        per_call = limits.max_bytes_per_call is not None
        per_tensor = limits.max_bytes_per_tensor
        if per_tensor is None:
            per_tensor = float("inf")
        limits = (per_call, per_tensor, per_call or per_tensor != float("inf"))
        self.run_steps(ctx, vals, self.steps, self.consts, limits)
        return [vals[j] for j in self.fetch_slots]

    def run_steps(self, ctx: Any, vals: list[Any], steps: list, consts: list, limits: tuple) -> None:
        """Run one step list; errors name the node, as the dataflow executor's do."""
        per_call, per_tensor, check_consts = limits
        ndarray = np.ndarray
        account = ctx.account
        if check_consts:
            for value, name in consts:
                if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                    account(value, name)
        item = None
        try:
            for run, inputs, out, mode, item in steps:
                if mode == _MODE_ONE:
                    result = run(ctx, *[vals[j] for j in inputs])
                    vals[out] = result
                    if type(result) is ndarray and (per_call or result.nbytes > per_tensor):
                        account(result, item.name)
                elif mode == _MODE_MANY:
                    result = run(ctx, *[vals[j] for j in inputs])
                    if result is not None:
                        for k, value in enumerate(result):
                            vals[out + k] = value
                            if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                                account(value, item.name)
                else:
                    run(self, ctx, vals, limits)
        except ExecutionError as exc:
            if exc.node is not None or item is None or isinstance(item, _Loop):
                raise
            raise ExecutionError(str(exc), item.name, item.op) from exc
        except SavedModelError:
            raise
        except Exception as exc:
            if item is None or isinstance(item, _Loop):
                raise
            raise ExecutionError(f"{type(exc).__name__}: {exc}", item.name, item.op) from exc


def build_loop_program(plan: Any) -> LoopProgram | None:
    """The fast program for a DataflowPlan, or None when the graph needs the general executor."""
    try:
        return _Builder(plan).build()
    except (_Unsupported, RecursionError):
        return None


class _Builder:
    def __init__(self, plan: Any) -> None:
        from savedmodel.runtime import dataflow as df

        self.df = df
        self.plan = plan
        self.items = plan.items
        # producers[i] = [(producer index or -1 - feed, output)] per data input; ctrl_in[i] = [indices]
        n = len(self.items)
        self.producers: list[list[tuple[int, int]]] = [[(-1, 0)] * it.n_data for it in self.items]
        self.ctrl_in: list[list[int]] = [[] for _ in range(n)]
        self.consumers: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]  # (dst, out, slot)
        for item in self.items:
            for k, edges in enumerate(item.out_edges):
                for dst, slot in edges:
                    self.producers[dst][slot] = (item.index, k)
                    self.consumers[item.index].append((dst, k, slot))
            for dst in item.control_out:
                self.ctrl_in[dst].append(item.index)
                self.consumers[item.index].append((dst, -1, -1))
        for f, feed in enumerate(plan.feed_items):
            for _k, edges in feed.sends:
                for target, slot in edges:
                    self.producers[target.index][slot] = (-2 - f, 0)

    # -- frames ----------------------------------------------------------------------------------
    def membership(self) -> dict[int, str]:
        df = self.df
        member: dict[int, str] = {}
        for item in self.items:
            if item.kind != df._ENTER or item.index in member:
                continue
            name = item.frame_name
            stack = [it.index for it in self.items if it.kind == df._ENTER and it.frame_name == name]
            for i in stack:
                _require(i not in member)
                member[i] = name
            while stack:
                i = stack.pop()
                if self.items[i].kind == df._EXIT:
                    continue
                for dst, _k, _slot in self.consumers[i]:
                    if dst in member:
                        _require(member[dst] == name)
                        continue
                    _require(self.items[dst].kind != df._ENTER)
                    member[dst] = name
                    stack.append(dst)
        return member

    def build(self) -> LoopProgram:
        df = self.df
        items = self.items
        member = self.membership()
        self.member = member
        frames: dict[str, list[int]] = {}
        for i, name in member.items():
            frames.setdefault(name, []).append(i)
        for item in items:
            if item.index not in member:
                _require(item.kind in (df._REGULAR, df._CONST, df._PASS))
            _require(not item.op.startswith("Ref"))
        for i, _out in self.plan.fetch_refs:
            _require(i < 0 or i not in member or items[i].kind == df._EXIT)
        self.template: list[Any] = [None] * len(self.plan.feeds)
        self.slots: dict[tuple[int, int], int] = {}
        frame_info = {name: self.analyse_frame(name, nodes) for name, nodes in frames.items()}
        # Root units: regular nodes and frames (key: ("f", name)), ordered by their dependencies.
        unit_of: dict[int, Any] = {}
        for item in items:
            unit_of[item.index] = ("f", member[item.index]) if item.index in member else item.index
        deps: dict[Any, set] = {}
        for item in items:
            if item.index in member:
                continue
            deps[item.index] = self.unit_deps(item.index, unit_of)
        for name, info in frame_info.items():
            unit_deps: set = set()
            for e in info["enters"]:
                unit_deps |= self.unit_deps(e, unit_of)
            unit_deps.discard(("f", name))
            deps[("f", name)] = unit_deps
        order = _toposort(list(deps), deps)
        steps = []
        root_consts: list = []
        for unit in order:
            if isinstance(unit, tuple):
                steps.append(self.loop_step(unit[1], frame_info[unit[1]]))
            else:
                self.add_node(unit, steps, root_consts)
        feeds = self.plan.feeds
        fetch_slots = [
            feeds.index(ref) if ref in feeds else self.slot(i, out)
            for (i, out), ref in zip(self.plan.fetch_refs, self.plan.fetches, strict=True)
        ]
        feed_slots = list(range(len(self.plan.feeds)))
        return LoopProgram(self.template, feed_slots, steps, root_consts, fetch_slots)

    def unit_deps(self, i: int, unit_of: dict[int, Any]) -> set:
        member = self.member
        out = set()
        for p, _k in self.producers[i]:
            if p >= 0:
                _require(p not in member or self.items[p].kind == self.df._EXIT)
                out.add(unit_of[p])
        for p in self.ctrl_in[i]:
            _require(p not in member or self.items[p].kind == self.df._EXIT)
            out.add(unit_of[p])
        return out

    def analyse_frame(self, name: str, nodes: list[int]) -> dict:
        df = self.df
        items = self.items
        kinds: dict[int, list[int]] = {}
        for i in nodes:
            kinds.setdefault(items[i].kind, []).append(i)
        enters = kinds.get(df._ENTER, [])
        merges = kinds.get(df._MERGE, [])
        switches = kinds.get(df._SWITCH, [])
        nexts = kinds.get(df._NEXT, [])
        exits = kinds.get(df._EXIT, [])
        conds = [i for i in nodes if items[i].op == "LoopCond"]
        _require(len(conds) == 1 and merges and len(merges) == len(switches) == len(nexts))
        _require(df._TRIGGER not in kinds)
        loop_cond = conds[0]
        _require(items[loop_cond].n_data == 1 and not self.ctrl_in[loop_cond])
        for i in nodes:
            if items[i].kind not in (df._ENTER,):
                for p, _k in self.producers[i]:
                    _require(p >= 0 and p in self.member and self.member[p] == name)
                for p in self.ctrl_in[i]:
                    _require(p in self.member and self.member[p] == name)
            _require(items[i].deref_mask is None or items[i].kind in (df._REGULAR, df._PASS))
        for e in enters:
            _require(items[e].deref_mask is None)
            for p, _k in self.producers[e]:
                if p >= 0 and p in self.member:
                    _require(items[p].kind == df._EXIT and self.member[p] != name)
        merge_of_switch: dict[int, int] = {}
        init: dict[int, int] = {}
        nxt: dict[int, int] = {}
        for m in merges:
            _require(items[m].n_data == 2 and not self.ctrl_in[m])
            srcs = self.producers[m]
            kinds_in = sorted(items[p].kind for p, _k in srcs)
            _require(kinds_in == sorted((df._ENTER, df._NEXT)))
            for p, _k in srcs:
                if items[p].kind == df._ENTER:
                    _require(not items[p].is_constant)
                    _require(self.consumers[p] == [(m, 0, self.producers[m].index((p, 0)))])
                    init[m] = p
                else:
                    _require(self.consumers[p] == [(m, 0, self.producers[m].index((p, 0)))])
                    nxt[m] = p
            for _dst, k, _slot in self.consumers[m]:
                _require(k != 1)
        for s in switches:
            _require(not self.ctrl_in[s])
            (m, k0), (c, k1) = self.producers[s]
            _require(items[m].kind == df._MERGE and k0 == 0 and c == loop_cond and k1 == 0)
            _require(m not in merge_of_switch.values())
            merge_of_switch[s] = m
            for dst, k, _slot in self.consumers[s]:
                if k == 0:
                    _require(items[dst].kind == df._EXIT)
        for x in exits:
            _require(not self.ctrl_in[x])
            ((s, k),) = self.producers[x]
            _require(items[s].kind == df._SWITCH and k == 0)
        for dst, _k, slot in self.consumers[loop_cond]:
            _require(items[dst].kind == df._SWITCH and slot == 1)
        const_enters = {e for e in enters if items[e].is_constant}
        # Condition: backward from LoopCond, stopping at Merges and loop constants.
        cond_set = self.walk(self.producers[loop_cond], set(merges) | const_enters, set(switches))
        body_starts = [self.producers[n][0] for n in nexts]
        body_set = self.walk(body_starts, set(switches) | const_enters, set(merges))
        _require(not (cond_set & body_set))
        known = set(enters) | set(merges) | set(switches) | set(nexts) | set(exits) | {loop_cond}
        _require(set(nodes) == known | cond_set | body_set)
        for i in body_set:
            for p, k in self.producers[i]:
                _require(p in body_set or p in const_enters or (items[p].kind == df._SWITCH and k == 1))
        for s in switches:
            for dst, k, _slot in self.consumers[s]:
                if k == 1:
                    _require(dst in body_set or dst in nexts)
        return {
            "enters": enters,
            "merges": merges,
            "switches": switches,
            "exits": exits,
            "loop_cond": loop_cond,
            "init": init,
            "next": nxt,
            "cond_set": cond_set,
            "body_set": body_set,
            "merge_of_switch": merge_of_switch,
        }

    def walk(self, starts: list[tuple[int, int]], stop: set[int], forbidden: set[int]) -> set[int]:
        df = self.df
        found: set[int] = set()
        stack = [p for p, _k in starts]
        while stack:
            i = stack.pop()
            if i in stop or i in found:
                continue
            _require(i >= 0 and i not in forbidden)
            _require(self.items[i].kind in (df._REGULAR, df._CONST, df._PASS))
            _require(self.items[i].op != "LoopCond")
            found.add(i)
            stack.extend(p for p, _k in self.producers[i])
            stack.extend(self.ctrl_in[i])
        return found

    # -- slots and steps -------------------------------------------------------------------------
    def slot(self, i: int, out: int) -> int:
        """The value slot holding output `out` of item `i` (control-flow outputs are aliases)."""
        key = (i, out)
        found = self.slots.get(key)
        if found is not None:
            return found
        df = self.df
        item = self.items[i]
        kind = item.kind
        if kind == df._ENTER or item.op == "LoopCond":
            slot = self.input_slot(i, 0)
        elif kind == df._SWITCH or kind == df._EXIT:
            slot = self.input_slot(i, 0)
        elif kind == df._CONST:
            slot = len(self.template)
            self.template.append(item.const_outputs[0])
        else:  # regular nodes and Merges get fresh slots (all outputs at once)
            base = len(self.template)
            self.template.extend([None] * max(item.count, 1))
            for k in range(max(item.count, 1)):
                self.slots[(i, k)] = base + k
            return base + out
        self.slots[key] = slot
        return slot

    def input_slot(self, i: int, slot: int) -> int:
        p, k = self.producers[i][slot]
        if p <= -2:
            return -2 - p
        _require(p >= 0)
        return self.slot(p, k)

    def add_node(self, i: int, steps: list, consts: list) -> None:
        item = self.items[i]
        if item.kind == self.df._CONST:
            self.slot(i, 0)
            consts.append((item.const_outputs[0], item.name))
            return
        inputs = tuple(self.input_slot(i, s) for s in range(item.n_data))
        run = item.run
        if item.deref_mask is not None:
            run = _deref_wrapper(run, item.deref_mask)
        mode = _MODE_ONE if item.single else _MODE_MANY
        steps.append((run, inputs, self.slot(i, 0), mode, item))

    def step_list(self, nodes: set[int]) -> tuple[list, list]:
        order = _toposort(
            sorted(nodes),
            {
                i: {p for p, _k in self.producers[i] if p in nodes}
                | {p for p in self.ctrl_in[i] if p in nodes}
                for i in nodes
            },
        )
        steps: list = []
        consts: list = []
        for i in order:
            self.add_node(i, steps, consts)
        return steps, consts

    def loop_step(self, name: str, info: dict) -> tuple:
        loop = _Loop()
        loop.name = name
        merges = info["merges"]
        loop.var_slots = [self.slot(m, 0) for m in merges]
        loop.init = [self.input_slot(info["init"][m], 0) for m in merges]
        loop.cond, loop.cond_consts = self.step_list(info["cond_set"])
        loop.pred_slot = self.input_slot(info["loop_cond"], 0)
        loop.switch = self.items[info["switches"][0]]
        loop.body, loop.body_consts = self.step_list(info["body_set"])
        loop.next_slots = [self.input_slot(info["next"][m], 0) for m in merges]
        return (loop.run, (), 0, _MODE_LOOP, loop)


def _toposort(units: list, deps: dict) -> list:
    """Kahn's order (ties by the given order); raises _Unsupported on a cycle."""
    remaining = {u: len(deps[u]) for u in units}
    users: dict[Any, list] = {u: [] for u in units}
    for u in units:
        for d in deps[u]:
            _require(d in users)
            users[d].append(u)
    ready = [u for u in reversed(units) if remaining[u] == 0]
    order = []
    while ready:
        u = ready.pop()
        order.append(u)
        for v in users[u]:
            remaining[v] -= 1
            if remaining[v] == 0:
                ready.append(v)
    _require(len(order) == len(units))
    return order
