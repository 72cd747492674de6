"""A fast path for TF1 graphs whose control flow is canonical `tf.while_loop` frames and v1 conds.

When every frame of a dataflow graph has the exact shape tf.while_loop builds (Enter ->
Merge(Enter, NextIteration) -> LoopCond -> Switch -> body -> NextIteration, Switch:0 ->
Exit), and every other Switch/Merge forms a v1 cond (Switches on one predicate, two
branches that only meet again at Merges), the graph runs as a flat list of steps over value
slots. Each frame is one "loop step" running `while cond(vars): vars = body(vars)`; a frame
nested in a loop body is one step of that body. Each cond is one "cond step" that runs only
the taken branch (which may hold loops and conds) and sets its Merges from it. No dead
tensor is observable on this path: a fetched tensor or a node outside a cond that reads a
branch other than through its Merge keeps the general dataflow scheduler, as does anything
else unrecognised (`build_loop_program` returns None).
"""

from __future__ import annotations

from collections.abc import Sequence
from time import monotonic
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, SavedModelError
from savedmodel.policy import deadline_error, iteration_limit_error
from savedmodel.runtime.plan import _deref_wrapper

_MODE_ONE, _MODE_MANY, _MODE_LOOP = range(3)
# Frames nested deeper than this keep the dataflow executor: the fast path runs a nested frame
# as a nested Python call.
MAX_FRAME_NESTING = 32


class _Unsupported(Exception):
    """The graph is not in the shape the fast path handles."""


def _require(condition: bool) -> None:
    if not condition:
        raise _Unsupported


def loop_label(frame: str, loop_cond: str | None) -> str:
    """How errors name a TF1 while loop: its frame and, when known, its LoopCond node."""
    return f"{frame!r} (LoopCond node {loop_cond!r})" if loop_cond else repr(frame)


class _Loop:
    """One compiled frame: initial values, condition steps, body steps and the loop-var slots."""

    __slots__ = (
        "name",
        "label",
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
        deadline = ctx.deadline
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
                raise iteration_limit_error(self.label, max_iterations)
            if deadline is not None and monotonic() > deadline:
                raise deadline_error(ctx.runtime.limits, f"while loop {self.label}")
            new = [vals[s] for s in next_slots]
            for slot, value in zip(var_slots, new, strict=True):
                vals[slot] = value


class _Cond:
    """One compiled v1 cond: the predicate, both branches' steps and each Merge's sources."""

    __slots__ = ("switch", "pred_slot", "true", "true_consts", "false", "false_consts", "outputs")

    def run(self, program: LoopProgram, ctx: Any, vals: list[Any], limits: tuple) -> None:
        pred = vals[self.pred_slot]
        if type(pred) is np.ndarray and pred.ndim == 0:
            taken = bool(pred)
        elif np.ndim(pred) == 0:
            taken = bool(np.asarray(pred).reshape(()))
        else:
            raise ExecutionError(
                f"the predicate of a Switch must be a scalar, got shape {np.shape(pred)}",
                self.switch.name,
                self.switch.op,
            )
        if taken:
            program.run_steps(ctx, vals, self.true, self.true_consts, limits)
            for out, index_slot, src, _other, index, _other_index in self.outputs:
                vals[out] = vals[src]
                if index_slot is not None:
                    vals[index_slot] = index
        else:
            program.run_steps(ctx, vals, self.false, self.false_consts, limits)
            for out, index_slot, _other, src, _other_index, index in self.outputs:
                vals[out] = vals[src]
                if index_slot is not None:
                    vals[index_slot] = index


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
            if exc.node is not None or item is None or isinstance(item, (_Loop, _Cond)):
                raise
            raise ExecutionError(str(exc), item.name, item.op) from exc
        except SavedModelError:
            raise
        except Exception as exc:
            if item is None or isinstance(item, (_Loop, _Cond)):
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
        # Nodes inside a taken-or-not branch of a cond (and the cond's Switches): never fetched.
        self.branch_nodes: set[int] = set()

    # -- frames ----------------------------------------------------------------------------------
    def frames(self) -> None:
        """Assign every node inside a while frame to it (`member`) and each frame to its parent."""
        df = self.df
        items = self.items
        enters: dict[str, list[int]] = {}
        for item in items:
            if item.kind == df._ENTER:
                enters.setdefault(item.frame_name, []).append(item.index)
        member: dict[int, str] = {}
        parent: dict[str, str] = {}
        exits_of: dict[str, list[int]] = {}
        active: set[str] = set()

        def claim(name: str) -> None:
            if name in exits_of:
                return
            _require(name not in active)
            active.add(name)
            stack = list(enters[name])
            for e in stack:
                _require(e not in member)
                member[e] = name
            exits: list[int] = []
            expanded: set[int] = set()
            while stack:
                i = stack.pop()
                if items[i].kind == df._EXIT and member.get(i) == name:
                    exits.append(i)
                    continue
                for dst, _k, _slot in self.consumers[i]:
                    target = items[dst]
                    if target.kind == df._ENTER and target.frame_name != name:
                        child = target.frame_name
                        _require(parent.setdefault(child, name) == name)
                        claim(child)
                        for x in exits_of[child]:
                            if x not in expanded:
                                expanded.add(x)
                                stack.append(x)
                        continue
                    if dst in member:
                        _require(member[dst] == name)
                        continue
                    _require(target.kind != df._ENTER)
                    member[dst] = name
                    stack.append(dst)
            exits_of[name] = exits
            active.discard(name)

        for name in enters:
            claim(name)
        for name in enters:
            parent.setdefault(name, "")
        self.member = member
        self.parent = parent
        self.exits_of = exits_of
        self.enters_of = enters

    def level(self, i: int) -> str:
        """The frame whose values `i` produces ("" = root; an Exit produces in its parent)."""
        if i < 0:
            return ""
        name = self.member.get(i)
        if name is None:
            return ""
        if self.items[i].kind == self.df._EXIT:
            return self.parent[name]
        return name

    def build(self) -> LoopProgram:
        df = self.df
        items = self.items
        self.frames()
        for name in self.parent:  # deep nesting runs on the dataflow executor (no recursion there)
            depth, outer = 0, name
            while outer:
                outer = self.parent[outer]
                depth += 1
                _require(depth <= MAX_FRAME_NESTING)
        member = self.member
        for item in items:
            _require(not item.op.startswith("Ref") and item.kind != df._TRIGGER)
            _require(item.deref_mask is None or item.kind in (df._REGULAR, df._PASS))
            # Every value a node reads lives in its own frame (Enter: in the parent frame).
            if item.kind == df._ENTER:
                want = self.parent[item.frame_name]
            else:
                want = member.get(item.index, "")
            for p, _k in self.producers[item.index]:
                _require(self.level(p) == want)
            for p in self.ctrl_in[item.index]:
                _require(self.level(p) == want)
        self.template: list[Any] = [None] * len(self.plan.feeds)
        self.slots: dict[tuple[int, int], int] = {}
        self.frame_info = {name: self.analyse_frame(name) for name in self.enters_of}
        root_nodes = {it.index for it in items if self.level(it.index) == "" and it.kind != df._ENTER}
        steps, root_consts = self.region("", root_nodes)
        for i, _out in self.plan.fetch_refs:
            _require(i < 0 or (self.level(i) == "" and i not in self.branch_nodes))
            _require(i < 0 or i not in member or items[i].kind == df._EXIT)
        feeds = self.plan.feeds
        fetch_slots = [
            feeds.index(ref) if ref in feeds else self.slot(i, out)
            for (i, out), ref in zip(self.plan.fetch_refs, self.plan.fetches, strict=True)
        ]
        feed_slots = list(range(len(self.plan.feeds)))
        return LoopProgram(self.template, feed_slots, steps, root_consts, fetch_slots)

    def analyse_frame(self, name: str) -> dict:
        df = self.df
        items = self.items
        nodes = [i for i, f in self.member.items() if f == name]
        kinds: dict[int, list[int]] = {}
        for i in nodes:
            kinds.setdefault(items[i].kind, []).append(i)
        enters = kinds.get(df._ENTER, [])
        nexts = kinds.get(df._NEXT, [])
        exits = kinds.get(df._EXIT, [])
        conds = [i for i in nodes if items[i].op == "LoopCond"]
        _require(len(conds) == 1)
        loop_cond = conds[0]
        _require(items[loop_cond].n_data == 1 and not self.ctrl_in[loop_cond])
        merges = [
            m
            for m in kinds.get(df._MERGE, [])
            if any(items[p].kind == df._NEXT for p, _k in self.producers[m] if p >= 0)
        ]
        switches = [s for s in kinds.get(df._SWITCH, []) if self.producers[s][1][0] == loop_cond]
        _require(merges and len(merges) == len(switches) == len(nexts))
        for e in enters:
            _require(items[e].deref_mask is None)
        merge_of_switch: dict[int, int] = {}
        init: dict[int, int] = {}
        nxt: dict[int, int] = {}
        for m in merges:
            _require(items[m].n_data == 2 and not self.ctrl_in[m])
            srcs = self.producers[m]
            kinds_in = sorted(items[p].kind for p, _k in srcs if p >= 0)
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
            _require(m in merges and k0 == 0 and c == loop_cond and k1 == 0)
            _require(m not in merge_of_switch.values())
            merge_of_switch[s] = m
            for dst, k, _slot in self.consumers[s]:
                if k == 0:
                    _require(items[dst].kind == df._EXIT)
        for x in exits:
            _require(not self.ctrl_in[x])
            ((s, k),) = self.producers[x]
            _require(s in switches and k == 0)
        for dst, _k, slot in self.consumers[loop_cond]:
            _require(dst in switches and slot == 1)
        const_enters = {e for e in enters if items[e].is_constant}
        _require(len(const_enters) + len(merges) == len(enters))
        # Condition: backward from LoopCond, stopping at Merges and loop constants.
        cond_set = self.walk(name, self.producers[loop_cond], set(merges) | const_enters, set(switches))
        body_starts = [self.producers[n][0] for n in nexts]
        body_set = self.walk(name, body_starts, set(switches) | const_enters, set(merges))
        _require(not (cond_set & body_set))
        known = set(enters) | set(merges) | set(switches) | set(nexts) | set(exits) | {loop_cond}
        own = {i for i in cond_set | body_set if self.member.get(i) == name}
        _require(set(nodes) == known | own)
        self.check_inputs(body_set, lambda p, k: p in const_enters or (p in switches and k == 1))
        self.check_inputs(cond_set, lambda p, k: p in const_enters or p in merges)
        for s in switches:
            for dst, k, _slot in self.consumers[s]:
                if k == 1:
                    _require(dst in body_set or dst in nexts)
        return {
            "enters": enters,
            "merges": merges,
            "switches": switches,
            "loop_cond": loop_cond,
            "init": init,
            "next": nxt,
            "cond_set": cond_set,
            "body_set": body_set,
        }

    def inner_nodes(self, nodes: set[int]) -> set[int]:
        """`nodes` plus the Enters of the child frames whose Exits are among them."""
        out = set(nodes)
        for i in nodes:
            name = self.member.get(i)
            if name is not None and self.items[i].kind == self.df._EXIT and self.level(i) != name:
                out.update(self.enters_of[name])
        return out

    def check_inputs(self, nodes: set[int], allowed: Any) -> None:
        """Every input of `nodes` (and of the child frames they run) comes from `nodes` or is allowed."""
        for i in self.inner_nodes(nodes):
            name = self.member.get(i)
            if name is not None and self.items[i].kind == self.df._EXIT and self.level(i) != name:
                continue  # a child frame's Exit: its inputs are the child's own
            for p, k in self.producers[i]:
                _require(p in nodes or allowed(p, k))
            for p in self.ctrl_in[i]:
                _require(p in nodes or allowed(p, -1))

    def walk(
        self, frame: str, starts: list[tuple[int, int]], stop: set[int], forbidden: set[int]
    ) -> set[int]:
        """Backward from `starts` within `frame`; a child frame's Exit brings in its Enters' inputs."""
        df = self.df
        found: set[int] = set()
        stack = [p for p, _k in starts]
        while stack:
            i = stack.pop()
            if i in stop or i in found:
                continue
            _require(i >= 0 and i not in forbidden)
            item = self.items[i]
            _require(item.op != "LoopCond")
            name = self.member.get(i, "")
            found.add(i)
            if name != frame:
                _require(item.kind == df._EXIT and self.parent[name] == frame)
                for e in self.enters_of[name]:
                    stack.extend(p for p, _k in self.producers[e])
                    stack.extend(self.ctrl_in[e])
                continue
            _require(item.kind in (df._REGULAR, df._CONST, df._PASS, df._SWITCH, df._MERGE))
            stack.extend(p for p, _k in self.producers[i])
            stack.extend(self.ctrl_in[i])
        return found

    # -- regions: the nodes of one level (a frame's body or condition, a cond branch, the root) ----
    def region(self, frame: str, nodes: set[int]) -> tuple[list, list]:
        df = self.df
        items = self.items
        groups: dict[tuple[int, int], list[int]] = {}
        for i in sorted(nodes):
            if items[i].kind == df._SWITCH and self.member.get(i, "") == frame:
                groups.setdefault(self.pred_source(self.producers[i][1]), []).append(i)
        conds = [self.analyse_cond(frame, nodes, switches) for switches in groups.values()]
        inside: set[int] = set()
        for cond in conds:
            inside |= cond["true"] | cond["false"]
        top = [c for c in conds if not (set(c["switches"]) & inside)]
        unit_of: dict[int, Any] = {}
        members: dict[Any, set[int]] = {}
        for g, cond in enumerate(top):
            covered = set(cond["switches"]) | cond["true"] | cond["false"] | set(cond["merges"])
            for i in covered:
                _require(i not in unit_of)
                unit_of[i] = ("c", g)
            members[("c", g)] = self.inner_nodes(covered)
        for i in nodes:
            if i in unit_of:
                continue
            name = self.member.get(i, "")
            if name != frame:
                _require(items[i].kind == df._EXIT)
                unit_of[i] = ("f", name)
                members.setdefault(("f", name), set(self.enters_of[name]))
            else:
                _require(items[i].kind in (df._REGULAR, df._CONST, df._PASS))
                unit_of[i] = i
                members[i] = {i}
        deps: dict[Any, set] = {}
        for unit, inner in members.items():
            found = set()
            for i in inner:
                for p in [p for p, _k in self.producers[i]] + self.ctrl_in[i]:
                    if p >= 0 and p not in inner and p in unit_of:
                        found.add(unit_of[p])
            found.discard(unit)
            deps[unit] = found
        order = _toposort(sorted(members, key=_unit_key), deps)
        steps: list = []
        consts: list = []
        for unit in order:
            if isinstance(unit, tuple) and unit[0] == "f":
                steps.append(self.loop_step(unit[1], self.frame_info[unit[1]]))
            elif isinstance(unit, tuple):
                steps.append(self.cond_step(frame, top[unit[1]]))
            else:
                self.add_node(unit, steps, consts)
        return steps, consts

    def analyse_cond(self, frame: str, nodes: set[int], switches: list[int]) -> dict:
        """The branches (forward from Switch:1 / Switch:0 up to the joining Merges) of one cond."""
        items = self.items
        for s in switches:
            _require(not self.ctrl_in[s])
        true, t_merges = self.forward(frame, nodes, switches, 1)
        false, f_merges = self.forward(frame, nodes, switches, 0)
        _require(not (true & false))
        merges = sorted(t_merges | f_merges)
        side: dict[int, tuple[int, int]] = {}
        for m in merges:
            _require(m in t_merges and m in f_merges)
            _require(items[m].n_data == 2 and not self.ctrl_in[m])
            slots = {}
            for slot, (p, k) in enumerate(self.producers[m]):
                if p in true or (p in switches and k == 1):
                    slots.setdefault(1, slot)
                elif p in false or (p in switches and k == 0):
                    slots.setdefault(0, slot)
            _require(len(slots) == 2)
            side[m] = (slots[1], slots[0])
        allowed = set(merges)
        for branch in (true, false):
            for i in branch:
                for dst, _k, _slot in self.consumers[i]:
                    if dst in branch or dst in allowed:
                        continue
                    _require(self.enters_in(dst, branch))
        for s in switches:
            for dst, k, _slot in self.consumers[s]:
                if k == 1:
                    _require(dst in true or dst in allowed or self.enters_in(dst, true))
                elif k == 0:
                    _require(dst in false or dst in allowed or self.enters_in(dst, false))
        # One step runs the whole cond: nothing in it may read its own outputs.
        for i in true | false | set(switches):
            for p in [p for p, _k in self.producers[i]] + self.ctrl_in[i]:
                _require(p not in allowed)
        for s in switches:
            _require(self.producers[s][0][0] not in true | false)
        self.branch_nodes |= true | false | set(switches)
        return {"switches": switches, "true": true, "false": false, "merges": merges, "side": side}

    def pred_source(self, ref: tuple[int, int]) -> tuple[int, int]:
        """The tensor a predicate is an identity of (conds' Switches read `pred` or `pred_id`)."""
        p, k = ref
        while p >= 0 and self.items[p].kind == self.df._PASS and self.items[p].op == "Identity":
            p, k = self.producers[p][0]
        return (p, k)

    def enters_in(self, dst: int, branch: set[int]) -> bool:
        item = self.items[dst]
        return item.kind == self.df._ENTER and any(x in branch for x in self.exits_of[item.frame_name])

    def forward(
        self, frame: str, nodes: set[int], switches: list[int], out: int
    ) -> tuple[set[int], set[int]]:
        """Nodes of `nodes` fed (transitively) by output `out` of the switches, and the Merges that
        stop the walk (those also fed from elsewhere)."""
        df = self.df
        items = self.items
        found: set[int] = set()
        waiting: set[int] = set()
        stack = [dst for s in switches for dst, k, _slot in self.consumers[s] if k == out]

        def side_of(p: int, k: int) -> bool:
            return p in found or (p in switches and k == out)

        while True:
            while stack:
                i = stack.pop()
                if i in found:
                    continue
                item = items[i]
                if item.kind == df._ENTER and self.parent.get(item.frame_name) == frame:
                    _require(any(x in nodes for x in self.exits_of[item.frame_name]))
                    for x in self.exits_of[item.frame_name]:
                        if x in nodes and x not in found:
                            found.add(x)
                            stack.extend(dst for dst, _k, _slot in self.consumers[x])
                    continue
                _require(i in nodes)
                if item.kind == df._MERGE:
                    waiting.add(i)
                    continue
                found.add(i)
                stack.extend(dst for dst, _k, _slot in self.consumers[i])
            absorbed = [m for m in waiting if all(side_of(p, k) for p, k in self.producers[m])]
            if not absorbed:
                return found, waiting
            for m in absorbed:
                waiting.discard(m)
                found.add(m)
                stack.extend(dst for dst, _k, _slot in self.consumers[m])

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
        _require(slot < len(self.producers[i]))  # a malformed node lacking the input: the general path
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

    def loop_step(self, name: str, info: dict) -> tuple:
        loop = _Loop()
        loop.name = name
        loop.label = loop_label(name, self.items[info["loop_cond"]].name)
        merges = info["merges"]
        loop.var_slots = [self.slot(m, 0) for m in merges]
        loop.init = [self.input_slot(info["init"][m], 0) for m in merges]
        loop.cond, loop.cond_consts = self.region(name, info["cond_set"])
        loop.pred_slot = self.input_slot(info["loop_cond"], 0)
        loop.switch = self.items[info["switches"][0]]
        loop.body, loop.body_consts = self.region(name, info["body_set"])
        loop.next_slots = [self.input_slot(info["next"][m], 0) for m in merges]
        return (loop.run, (), 0, _MODE_LOOP, loop)

    def cond_step(self, frame: str, info: dict) -> tuple:
        cond = _Cond()
        switches = info["switches"]
        cond.switch = self.items[switches[0]]
        cond.pred_slot = self.input_slot(switches[0], 1)
        cond.true, cond.true_consts = self.region(frame, info["true"])
        cond.false, cond.false_consts = self.region(frame, info["false"])
        outputs = []
        for m in info["merges"]:
            t_slot, f_slot = info["side"][m]
            index_used = any(k == 1 for _dst, k, _slot in self.consumers[m]) or (m, 1) in self.plan.fetch_refs
            item = self.items[m]
            outputs.append(
                (
                    self.slot(m, 0),
                    self.slot(m, 1) if index_used else None,
                    self.input_slot(m, t_slot),
                    self.input_slot(m, f_slot),
                    item.value_index[t_slot],
                    item.value_index[f_slot],
                )
            )
        cond.outputs = outputs
        return (cond.run, (), 0, _MODE_LOOP, cond)


def _unit_key(unit: Any) -> tuple:
    return (1, str(unit)) if isinstance(unit, tuple) else (0, unit)


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
