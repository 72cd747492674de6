"""The one runner of prepared plans: a tree of step lists over a flat list of value slots.

A plain step runs a kernel on some slots and writes its outputs to others. A nested step is
a TF1 while loop (`WhileStep`: condition and body step lists) or a v1 cond (`CondStep`: one
step list per branch), built by the structure analysis (savedmodel.runtime.loops). A graph
without TF1 control flow is one step list with no nested steps (`StepPlan`), which is the
hot loop of every call: `run_steps` below.

Everything executors share lives here, in one copy: the per-call limits accounting
(max_bytes_per_tensor, max_bytes_per_call), the while-loop iteration limit and deadline
checks, the Switch predicate rule, and how a kernel's exception becomes an ExecutionError
naming the node (`step_error`). The dataflow interpreter (savedmodel.runtime.dataflow) uses
the same helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, SavedModelError
from savedmodel.ops._resources import deref
from savedmodel.policy import deadline_error, iteration_limit_error
from savedmodel.runtime.prepare import MANY, NESTED, NONE, ONE


@dataclass
class Step:
    run: Callable[..., Any]
    inputs: tuple[int, ...]
    out: int
    mode: int  # ONE, MANY, NONE or NESTED (then `run(ctx, vals, limits)`)
    count: int
    node: str
    op: str
    plain: bool = True  # takes its inputs as they are (no dereferencing wrapper) and is no function call


class Plan:
    """A compiled graph: `run(ctx, feed_values) -> fetch_values` (both in compile order)."""

    name: str
    # Whether TF1 loops or conds run as nested steps (see StepPlan).
    structured = False

    def run(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        """Run the plan. Every entry point (signatures, restored functions, compat.v1
        `Session.run`, nested function calls) goes through here; kernels take the policy's limits
        from `ctx` (policy.limits_of), none from a global."""
        outputs = self._execute(ctx, args)
        # A fetched TF1 reference (VariableV2, Assign, RefExit...) gives the variable's value.
        return [deref(value) for value in outputs]

    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        raise NotImplementedError


# --------------------------------------------------------------------------- shared helpers


def step_error(exc: Exception, node: str | None, op: str | None) -> Exception:
    """What a kernel's exception becomes: an ExecutionError naming the node that raised it
    (`exc` itself when it already names one, or is another SavedModelError)."""
    if isinstance(exc, ExecutionError):
        return exc if exc.node is not None else ExecutionError(str(exc), node, op)
    if isinstance(exc, SavedModelError):
        return exc
    if isinstance(exc, MemoryError):
        return ExecutionError("out of memory", node, op)
    if isinstance(exc, RecursionError):
        return ExecutionError("recursion too deep while running the graph")
    return ExecutionError(f"{type(exc).__name__}: {exc}", node, op)


def wrap_step_error(exc: Exception, step: Step) -> Exception:
    return step_error(exc, step.node, step.op)


def call_limits(ctx: Any) -> tuple[bool, float, bool]:
    """(per-call cap set, per-tensor cap or inf, either set): what `run_steps` checks.
    ctx.account only acts on arrays over the per-tensor cap, or when a per-call cap is set."""
    limits = ctx.runtime.limits
    per_call = limits.max_bytes_per_call is not None
    per_tensor = limits.max_bytes_per_tensor
    if per_tensor is None:
        per_tensor = float("inf")
    return (per_call, per_tensor, per_call or per_tensor != float("inf"))


def loop_label(frame: str, loop_cond: str | None) -> str:
    """How errors name a TF1 while loop: its frame and, when known, its LoopCond node."""
    return f"{frame!r} (LoopCond node {loop_cond!r})" if loop_cond else repr(frame)


def check_iteration(ctx: Any, iteration: int, label: str) -> None:
    """Stop a TF1 while loop entering `iteration` past max_while_iterations or the deadline."""
    max_iterations = ctx.runtime.limits.max_while_iterations
    if max_iterations is not None and iteration > max_iterations:
        raise iteration_limit_error(label, max_iterations)
    deadline = ctx.deadline
    if deadline is not None and monotonic() > deadline:
        raise deadline_error(ctx.runtime.limits, f"while loop {label}")


def predicate(pred: Any, node: str, op: str) -> bool:
    """A Switch's predicate as a bool (it must be a scalar)."""
    if type(pred) is np.ndarray and pred.ndim == 0:
        return bool(pred)
    if np.ndim(pred) == 0:
        return bool(np.asarray(pred).reshape(()))
    raise ExecutionError(f"the predicate of a Switch must be a scalar, got shape {np.shape(pred)}", node, op)


# --------------------------------------------------------------------------- the runner

# A step as the runner reads it: (run, inputs, out, mode, count, release, step).
StepTuple = tuple[Callable[..., Any], tuple[int, ...], int, int, int, tuple[int, ...], Any]


def step_tuples(steps: Sequence[Step], releases: Sequence[tuple[int, ...]] | None = None) -> list[StepTuple]:
    """`steps` as the runner reads them; `releases[i]`: slots to drop once step i has run."""
    if releases is None:
        releases = [()] * len(steps)
    return [(s.run, s.inputs, s.out, s.mode, s.count, r, s) for s, r in zip(steps, releases, strict=True)]


def run_steps(
    ctx: Any, vals: list[Any], steps: list[StepTuple], consts: Sequence[tuple[Any, str]], limits: tuple
) -> None:
    """Run one step list on `vals`. `consts` are the (value, node) constants the list reads,
    counted against the limits as if produced now (as the dataflow interpreter does)."""
    per_call, per_tensor, check = limits
    ndarray = np.ndarray
    account = ctx.account
    if consts and check:
        for value, name in consts:
            if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                account(value, name)
    step = None
    try:
        for run, inputs, out, mode, count, release, step in steps:  # noqa: B007
            if mode == ONE:
                result = run(ctx, *[vals[j] for j in inputs])
                for j in release:  # values no later step reads: their memory goes back now
                    vals[j] = None
                vals[out] = result
                if type(result) is ndarray and (per_call or result.nbytes > per_tensor):
                    account(result, step.node)
            elif mode == MANY:
                result = run(ctx, *[vals[j] for j in inputs])
                for j in release:
                    vals[j] = None
                if len(result) != count:
                    raise ExecutionError(f"kernel returned {len(result)} outputs, expected {count}")
                vals[out : out + count] = result
                for value in result:
                    if type(value) is ndarray and (per_call or value.nbytes > per_tensor):
                        account(value, step.node)
            elif mode == NONE:
                run(ctx, *[vals[j] for j in inputs])
                for j in release:
                    vals[j] = None
            else:
                run(ctx, vals, limits)
    except Exception as exc:
        if step is None or step.mode == NESTED:
            raise  # a nested step's own errors already name their node
        error = step_error(exc, step.node, step.op)
        if error is exc:
            raise
        raise error from exc


class StepPlan(Plan):
    """Runs a tree of step lists over a flat list of value slots (fed first, then constants and
    outputs). A graph without TF1 control flow is one list without nested steps."""

    def __init__(
        self,
        name: str,
        template: list[Any],
        feed_slots: list[int],
        steps: list[Step],
        fetch_slots: list[int],
        consts: Sequence[tuple[Any, str]] = (),
    ) -> None:
        self.name = name
        self.template = template
        self.feed_slots = feed_slots
        self.steps = steps
        self.fetch_slots = fetch_slots
        self.consts = list(consts)
        # Intermediate values are released after their last reader in a flat list; a list with
        # nested steps (whose lists read slots again on every iteration) keeps them to the end.
        nested = any(s.mode == NESTED for s in steps)
        self._steps = step_tuples(steps, None if nested else _releases(steps, fetch_slots))

    @property
    def structured(self) -> bool:
        """Whether the plan holds TF1 loops or conds as nested steps."""
        return any(s.mode == NESTED for s in self.steps)

    def _execute(self, ctx: Any, args: Sequence[Any]) -> list[Any]:
        vals = self.template.copy()
        for slot, value in zip(self.feed_slots, args, strict=True):
            vals[slot] = value
        run_steps(ctx, vals, self._steps, self.consts, call_limits(ctx))
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
        if step.mode == ONE:
            produced.add(step.out)
        elif step.mode == MANY:
            produced.update(range(step.out, step.out + step.count))
    kept = set(fetch_slots)
    releases: list[list[int]] = [[] for _ in steps]
    for slot, index in last_read.items():
        if slot in produced and slot not in kept:
            releases[index].append(slot)
    return [tuple(sorted(r)) for r in releases]


# --------------------------------------------------------------------------- nested steps


class WhileStep:
    """A TF1 while loop: `while cond(vars): vars = body(vars)` over the loop-variable slots."""

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

    def __call__(self, ctx: Any, vals: list[Any], limits: tuple) -> None:
        var_slots = self.var_slots
        for slot, src in zip(var_slots, self.init, strict=True):
            vals[slot] = vals[src]
        cond, body, pred_slot = self.cond, self.body, self.pred_slot
        cond_consts, body_consts, next_slots = self.cond_consts, self.body_consts, self.next_slots
        switch_name, switch_op = self.switch
        count = 0
        while True:
            run_steps(ctx, vals, cond, cond_consts, limits)
            pred = vals[pred_slot]
            go = (
                bool(pred)
                if type(pred) is np.ndarray and pred.ndim == 0
                else predicate(pred, switch_name, switch_op)
            )
            if not go:
                return
            run_steps(ctx, vals, body, body_consts, limits)
            count += 1
            check_iteration(ctx, count, self.label)
            new = [vals[s] for s in next_slots]
            for slot, value in zip(var_slots, new, strict=True):
                vals[slot] = value


class CondStep:
    """A v1 cond: runs the taken branch's steps, then sets each Merge from that branch.

    `outputs`: per Merge (value slot, value_index slot or None, true source slot, false source
    slot, true index, false index)."""

    __slots__ = ("switch", "pred_slot", "true", "true_consts", "false", "false_consts", "outputs")

    def __call__(self, ctx: Any, vals: list[Any], limits: tuple) -> None:
        pred = vals[self.pred_slot]
        if bool(pred) if type(pred) is np.ndarray and pred.ndim == 0 else predicate(pred, *self.switch):
            run_steps(ctx, vals, self.true, self.true_consts, limits)
            for out, index_slot, src, _other, index, _other_index in self.outputs:
                vals[out] = vals[src]
                if index_slot is not None:
                    vals[index_slot] = index
        else:
            run_steps(ctx, vals, self.false, self.false_consts, limits)
            for out, index_slot, _other, src, _other_index, index in self.outputs:
                vals[out] = vals[src]
                if index_slot is not None:
                    vals[index_slot] = index
