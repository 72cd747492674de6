"""Structure analysis: TF1 while loops and v1 conds as nested steps of one step list.

When every frame of a TF1 graph has the exact shape tf.while_loop builds (Enter ->
Merge(Enter, NextIteration) -> LoopCond -> Switch -> body -> NextIteration, Switch:0 ->
Exit), and every other Switch/Merge forms a v1 cond (Switches on one predicate, two
branches that only meet again at Merges), the graph becomes a tree of step lists for the
runner (savedmodel.runtime.runner): each frame is one `WhileStep` running
`while cond(vars): vars = body(vars)`, a frame nested in a loop body is one step of that
body, and each cond is one `CondStep` that runs only the taken branch (which may hold loops
and conds) and sets its Merges from it. No dead tensor is observable on this path: a fetched
tensor or a node outside a cond that reads a branch other than through its Merge keeps the
dataflow interpreter (savedmodel.runtime.dataflow), as does anything else unrecognised
(`structure_plan` returns None).

The analysis reads only the neutral description of the prepared graph
(savedmodel.runtime.prepare.GraphFacts: node kinds, producers, consumers, frames).
"""

from __future__ import annotations

from typing import Any

from savedmodel.graph.order import stack_order
from savedmodel.runtime.prepare import (
    CONST,
    ENTER,
    EXIT,
    LOOP_COND_OPS,
    MERGE,
    NESTED,
    NEXT,
    PASS,
    REGULAR,
    SWITCH,
    TRIGGER,
    GraphFacts,
    deref_wrapper,
    readonly_index,
)
from savedmodel.runtime.runner import (
    CondStep,
    Step,
    StepPlan,
    WhileStep,
    loop_label,
    step_tuples,
)

# Frames nested deeper than this keep the dataflow interpreter: the runner runs a nested
# frame as a nested Python call.
MAX_FRAME_NESTING = 32


class _Unsupported(Exception):
    """The graph is not in the shape the structure analysis handles."""


def _require(condition: bool) -> None:
    if not condition:
        raise _Unsupported


def structure_plan(facts: GraphFacts, name: str) -> StepPlan | None:
    """The graph as a tree of step lists, or None when it needs the dataflow interpreter."""
    try:
        return _Builder(facts).build(name)
    except (_Unsupported, RecursionError):
        return None


class _Builder:
    def __init__(self, facts: GraphFacts) -> None:
        self.facts = facts
        self.items = facts.nodes
        # producers[i] = [(producer index or -2 - feed, output)] per data input; ctrl_in[i] = [indices];
        # consumers[i] = [(dst, output or -1, input slot or -1)]
        self.producers = [item.producers for item in self.items]
        self.ctrl_in = [item.control for item in self.items]
        self.consumers = [item.consumers for item in self.items]
        # Nodes inside a taken-or-not branch of a cond (and the cond's Switches): never fetched.
        self.branch_nodes: set[int] = set()

    # -- frames ----------------------------------------------------------------------------------
    def frames(self) -> None:
        """Assign every node inside a while frame to it (`member`) and each frame to its parent."""
        items = self.items
        enters: dict[str, list[int]] = {}
        for item in items:
            if item.kind == ENTER:
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
                if items[i].kind == EXIT and member.get(i) == name:
                    exits.append(i)
                    continue
                for dst, _k, _slot in self.consumers[i]:
                    target = items[dst]
                    if target.kind == ENTER and target.frame_name != name:
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
                    _require(target.kind != ENTER)
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
        if self.items[i].kind == EXIT:
            return self.parent[name]
        return name

    def build(self, plan_name: str) -> StepPlan:
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
            _require(not item.op.startswith("Ref") and item.kind != TRIGGER)
            _require(item.deref_mask is None or item.kind in (REGULAR, PASS))
            # Every value a node reads lives in its own frame (Enter: in the parent frame).
            if item.kind == ENTER:
                want = self.parent[item.frame_name]
            else:
                want = member.get(item.index, "")
            for p, _k in self.producers[item.index]:
                _require(self.level(p) == want)
            for p in self.ctrl_in[item.index]:
                _require(self.level(p) == want)
        self.template: list[Any] = [None] * len(self.facts.feeds)
        self.slots: dict[tuple[int, int], int] = {}
        self.frame_info = {name: self.analyse_frame(name) for name in self.enters_of}
        root_nodes = {it.index for it in items if self.level(it.index) == "" and it.kind != ENTER}
        steps, root_consts = self.region("", root_nodes)
        for i, _out in self.facts.fetch_refs:
            _require(i < 0 or (self.level(i) == "" and i not in self.branch_nodes))
            _require(i < 0 or i not in member or items[i].kind == EXIT)
        feeds = self.facts.feeds
        fetch_slots = [
            feeds.index(ref) if ref in feeds else self.slot(i, out)
            for (i, out), ref in zip(self.facts.fetch_refs, self.facts.fetches, strict=True)
        ]
        feed_slots = list(range(len(self.facts.feeds)))
        return StepPlan(plan_name, self.template, feed_slots, steps, fetch_slots, root_consts)

    def analyse_frame(self, name: str) -> dict:
        items = self.items
        nodes = [i for i, f in self.member.items() if f == name]
        kinds: dict[int, list[int]] = {}
        for i in nodes:
            kinds.setdefault(items[i].kind, []).append(i)
        enters = kinds.get(ENTER, [])
        nexts = kinds.get(NEXT, [])
        exits = kinds.get(EXIT, [])
        conds = [i for i in nodes if items[i].op in LOOP_COND_OPS]
        _require(len(conds) == 1)
        loop_cond = conds[0]
        _require(items[loop_cond].n_data == 1 and not self.ctrl_in[loop_cond])
        merges = [
            m
            for m in kinds.get(MERGE, [])
            if any(items[p].kind == NEXT for p, _k in self.producers[m] if p >= 0)
        ]
        switches = [s for s in kinds.get(SWITCH, []) if self.producers[s][1][0] == loop_cond]
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
            _require(kinds_in == sorted((ENTER, NEXT)))
            for p, _k in srcs:
                if items[p].kind == ENTER:
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
                    _require(items[dst].kind == EXIT)
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
            if name is not None and self.items[i].kind == EXIT and self.level(i) != name:
                out.update(self.enters_of[name])
        return out

    def check_inputs(self, nodes: set[int], allowed: Any) -> None:
        """Every input of `nodes` (and of the child frames they run) comes from `nodes` or is allowed."""
        for i in self.inner_nodes(nodes):
            name = self.member.get(i)
            if name is not None and self.items[i].kind == EXIT and self.level(i) != name:
                continue  # a child frame's Exit: its inputs are the child's own
            for p, k in self.producers[i]:
                _require(p in nodes or allowed(p, k))
            for p in self.ctrl_in[i]:
                _require(p in nodes or allowed(p, -1))

    def walk(
        self, frame: str, starts: list[tuple[int, int]], stop: set[int], forbidden: set[int]
    ) -> set[int]:
        """Backward from `starts` within `frame`; a child frame's Exit brings in its Enters' inputs."""
        found: set[int] = set()
        stack = [p for p, _k in starts]
        while stack:
            i = stack.pop()
            if i in stop or i in found:
                continue
            _require(i >= 0 and i not in forbidden)
            item = self.items[i]
            _require(item.op not in LOOP_COND_OPS)
            name = self.member.get(i, "")
            found.add(i)
            if name != frame:
                _require(item.kind == EXIT and self.parent[name] == frame)
                for e in self.enters_of[name]:
                    stack.extend(p for p, _k in self.producers[e])
                    stack.extend(self.ctrl_in[e])
                continue
            _require(item.kind in (REGULAR, CONST, PASS, SWITCH, MERGE))
            stack.extend(p for p, _k in self.producers[i])
            stack.extend(self.ctrl_in[i])
        return found

    # -- regions: the nodes of one level (a frame's body or condition, a cond branch, the root) ----
    def region(self, frame: str, nodes: set[int]) -> tuple[list, list]:
        items = self.items
        groups: dict[tuple[int, int], list[int]] = {}
        for i in sorted(nodes):
            if items[i].kind == SWITCH and self.member.get(i, "") == frame:
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
                _require(items[i].kind == EXIT)
                unit_of[i] = ("f", name)
                members.setdefault(("f", name), set(self.enters_of[name]))
            else:
                _require(items[i].kind in (REGULAR, CONST, PASS))
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
        while p >= 0 and self.items[p].kind == PASS and self.items[p].op == "Identity":
            p, k = self.producers[p][0]
        return (p, k)

    def enters_in(self, dst: int, branch: set[int]) -> bool:
        item = self.items[dst]
        return item.kind == ENTER and any(x in branch for x in self.exits_of[item.frame_name])

    def forward(
        self, frame: str, nodes: set[int], switches: list[int], out: int
    ) -> tuple[set[int], set[int]]:
        """Nodes of `nodes` fed (transitively) by output `out` of the switches, and the Merges that
        stop the walk (those also fed from elsewhere)."""
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
                if item.kind == ENTER and self.parent.get(item.frame_name) == frame:
                    _require(any(x in nodes for x in self.exits_of[item.frame_name]))
                    for x in self.exits_of[item.frame_name]:
                        if x in nodes and x not in found:
                            found.add(x)
                            stack.extend(dst for dst, _k, _slot in self.consumers[x])
                    continue
                _require(i in nodes)
                if item.kind == MERGE:
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
        item = self.items[i]
        kind = item.kind
        if kind == ENTER or item.op in LOOP_COND_OPS:
            slot = self.input_slot(i, 0)
        elif kind == SWITCH or kind == EXIT:
            slot = self.input_slot(i, 0)
        elif kind == CONST:
            slot = len(self.template)
            self.template.append(item.const_value)
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
        if item.kind == CONST:
            self.slot(i, 0)
            consts.append((item.const_value, item.name))
            return
        inputs = tuple(self.input_slot(i, s) for s in range(item.n_data))
        run = item.run
        if item.deref_mask is not None:
            run = deref_wrapper(run, item.deref_mask)
        steps.append(Step(run, inputs, self.slot(i, 0), item.mode, item.outputs, item.name, item.op))

    def nested_region(self, frame: str, nodes: set[int]) -> tuple[list, list]:
        steps, consts = self.region(frame, nodes)
        return step_tuples(steps), consts

    def loop_step(self, name: str, info: dict) -> Step:
        loop = WhileStep()
        loop.name = name
        loop.label = loop_label(name, self.items[info["loop_cond"]].name)
        merges = info["merges"]
        loop.var_slots = [self.slot(m, 0) for m in merges]
        loop.init = [self.input_slot(info["init"][m], 0) for m in merges]
        loop.cond, loop.cond_consts = self.nested_region(name, info["cond_set"])
        loop.pred_slot = self.input_slot(info["loop_cond"], 0)
        switch = self.items[info["switches"][0]]
        loop.switch = (switch.name, switch.op)
        loop.body, loop.body_consts = self.nested_region(name, info["body_set"])
        loop.next_slots = [self.input_slot(info["next"][m], 0) for m in merges]
        return Step(loop, (), 0, NESTED, 0, loop.label, "while loop", plain=False)

    def cond_step(self, frame: str, info: dict) -> Step:
        cond = CondStep()
        switches = info["switches"]
        switch = self.items[switches[0]]
        cond.switch = (switch.name, switch.op)
        cond.pred_slot = self.input_slot(switches[0], 1)
        cond.true, cond.true_consts = self.nested_region(frame, info["true"])
        cond.false, cond.false_consts = self.nested_region(frame, info["false"])
        outputs = []
        for m in info["merges"]:
            t_slot, f_slot = info["side"][m]
            index_used = (
                any(k == 1 for _dst, k, _slot in self.consumers[m]) or (m, 1) in self.facts.fetch_refs
            )
            outputs.append(
                (
                    self.slot(m, 0),
                    self.slot(m, 1) if index_used else None,
                    self.input_slot(m, t_slot),
                    self.input_slot(m, f_slot),
                    readonly_index(t_slot),
                    readonly_index(f_slot),
                )
            )
        cond.outputs = outputs
        return Step(cond, (), 0, NESTED, 0, switch.name, "cond", plain=False)


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
    order = stack_order([u for u in reversed(units) if remaining[u] == 0], users, remaining)
    _require(len(order) == len(units))
    return order
