"""Control flow: TF1 dataflow primitives and TF2 functional If/While/Case.

Switch, Merge, Enter, Exit, NextIteration (and their Ref forms), LoopCond and ControlTrigger
are registered here with their `dataflow` role, which the executor reads (savedmodel.runtime.prepare);
it runs them as nested loop and cond steps, or with dead tensors, frames and iterations in its
dataflow interpreter. The run functions below are what a straight-line executor would do with them
(identity), used only for LoopCond. If/While/Case call their functions through the callables the
call context hands them (`ctx.function(attr)`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.ops.registry import NodeSpec, Run, kernel, kernel_factory
from savedmodel.policy import deadline_error, iteration_limit_error


@kernel(
    "LoopCond",
    family="control_flow",
    forwards_input=True,
    dataflow="loop_cond",
    doc="passes the loop predicate through",
)
def _loop_cond(ctx: Any, pred: Any) -> Any:
    return pred


def _primitive(*ops: str, role: str) -> Callable[[Run], Run]:
    """Registers a TF1 dataflow primitive with its role in the dataflow executor."""
    return kernel(
        *ops,
        family="control_flow",
        dataflow=role,
        doc="TF1 control-flow primitive (routed by the dataflow executor)",
    )


@_primitive("Switch", "RefSwitch", role="switch")
@_primitive("Merge", "RefMerge", role="merge")
@_primitive("Enter", "RefEnter", role="enter")
@_primitive("Exit", "RefExit", role="exit")
@_primitive("NextIteration", "RefNextIteration", role="next_iteration")
def _dataflow_primitive(ctx: Any, *inputs: Any) -> Any:
    raise ExecutionError("TF1 control-flow primitives run only in the dataflow executor")


@kernel(
    "ControlTrigger", family="control_flow", dataflow="trigger", doc="does nothing; its output is never dead"
)
def _control_trigger(ctx: Any, *inputs: Any) -> None:
    return None


def truthy(value: Any) -> bool:
    """TensorFlow's rule for If/While predicates: scalars by value, other tensors by non-emptiness."""
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if array.ndim == 0:
        item = array.item()
        if isinstance(item, bytes):
            return len(item) > 0
        return bool(item)
    return array.size > 0


def _func(node: NodeSpec, name: str) -> Any:
    """The function attr `name` (a NameAttrList); `ctx.function(it)` is the callable running it."""
    return node.attrs.raw(name).func


@kernel_factory("If", family="control_flow", side_effects=True, doc="calls then_branch or else_branch")
@kernel_factory("StatelessIf", family="control_flow", doc="If whose branches have no side effects")
def _if(node: NodeSpec) -> Any:
    then_fn = _func(node, "then_branch")
    else_fn = _func(node, "else_branch")

    def run(ctx: Any, cond: Any, *args: Any) -> list[Any]:
        return ctx.function(then_fn if truthy(cond) else else_fn)(ctx, args)

    return run


@kernel_factory(
    "Case",
    family="control_flow",
    side_effects=True,
    doc="calls branches[index]; out-of-range indices run the last branch",
)
@kernel_factory("StatelessCase", family="control_flow", doc="Case whose branches have no side effects")
def _case(node: NodeSpec) -> Any:
    branches = list(node.attrs.raw("branches").list.func)
    if not branches:
        raise ExecutionError("Case has no branches", node.name, node.op)

    def run(ctx: Any, index: Any, *args: Any) -> list[Any]:
        i = int(np.asarray(index))
        fn = branches[i] if 0 <= i < len(branches) else branches[-1]
        return ctx.function(fn)(ctx, args)

    return run


@kernel_factory("While", family="control_flow", side_effects=True, doc="repeats body while cond holds")
@kernel_factory("StatelessWhile", family="control_flow", doc="While whose cond and body have no side effects")
def _while(node: NodeSpec) -> Any:
    cond_fn = _func(node, "cond")
    body_fn = _func(node, "body")
    name = node.name

    def run(ctx: Any, *args: Any) -> list[Any]:
        limit = ctx.runtime.limits.max_while_iterations
        deadline = ctx.deadline
        values = list(args)
        cond = ctx.function(cond_fn)
        body = ctx.function(body_fn)
        where = f"while loop {name!r}"
        iterations = 0
        while truthy(cond(ctx, values, where)[0]):
            iterations += 1
            if limit is not None and iterations > limit:
                raise iteration_limit_error(repr(name), limit)
            if deadline is not None and time.monotonic() > deadline:
                raise deadline_error(ctx.runtime.limits, where)
            values = body(ctx, values, where)
            if len(values) != len(args):
                raise ExecutionError(
                    f"loop body returned {len(values)} values for {len(args)} loop variables", name, "While"
                )
        return values

    return run
