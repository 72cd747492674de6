"""Runtime state: what persists across calls (resources, compiled functions) and the per-call context.

`Runtime` belongs to one loaded model (or Session): it holds the function library,
the resource manager (variables, tables, ...), the safety policy and the model's
directories. `CallContext` is what kernels receive as `ctx`; it knows the runtime,
the function-call depth, and offers `call_function` to functional ops.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from savedmodel.errors import FormatError, LimitExceededError, PolicyError
from savedmodel.graph.model import FunctionLibrary
from savedmodel.policy import DEFAULT_POLICY, Policy, deadline_error
from savedmodel.proto import attr_value_pb2

if TYPE_CHECKING:
    from savedmodel.runtime.plan import Plan

# From this call depth on, each call measures Python's stack (real models nest a few levels).
STACK_CHECK_DEPTH = 16
# Frames a call keeps free below Python's recursion limit: the innermost call's executor and
# kernels (loops, conds, NumPy) and the error handling above them.
STACK_RESERVE = 250


class ResourceManager:
    """Resources by (container, shared_name): variables, lookup tables, ..."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Any] = {}
        self.lock = threading.RLock()

    def get(self, key: tuple[str, str]) -> Any:
        return self._items.get(key)

    def set(self, key: tuple[str, str], value: Any) -> None:
        self._items[key] = value

    def delete(self, key: tuple[str, str]) -> None:
        self._items.pop(key, None)

    def get_or_create(self, key: tuple[str, str], factory: Any) -> Any:
        with self.lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = factory()
            return item

    def items(self) -> list[tuple[tuple[str, str], Any]]:
        return list(self._items.items())


def _attr_key(attrs: Mapping[str, attr_value_pb2.AttrValue] | None) -> tuple:
    if not attrs:
        return ()
    return tuple(sorted((k, v.SerializeToString(deterministic=True)) for k, v in attrs.items()))


class Runtime:
    """Shared state of one loaded graph."""

    def __init__(
        self,
        library: FunctionLibrary,
        policy: Policy | None = None,
        model_dir: str | Path | None = None,
        variables_dir: str | Path | None = None,
    ) -> None:
        self.library = library
        self.policy = policy or DEFAULT_POLICY
        self.limits = self.policy.limits
        self.model_dir = Path(model_dir).resolve() if model_dir else None
        self.variables_dir = Path(variables_dir).resolve() if variables_dir else None
        # Further directories checkpoint ops may use (a checkpoint the caller named explicitly).
        self.checkpoint_dirs: list[Path] = []
        self.resources = ResourceManager()
        self._function_plans: dict[tuple, Plan] = {}
        # Library functions whose ops (and those of every function they call) have kernels and
        # pass the policy (see plan.check_supported).
        self.checked_functions: set[str] = set()
        self._compiling: set[tuple] = set()
        # Function references waiting to be compiled by the running `precompile` (None: none runs).
        self._pending: list[tuple[str, Mapping[str, attr_value_pb2.AttrValue] | None]] | None = None
        self._lock = threading.RLock()
        self.anonymous_counter = 0
        # Callables handed to kernels for the functions their attrs name, by id of the attr
        # value (kept alive in the entry, so the id stays unique).
        self._bound: dict[int, tuple[Any, FunctionRef]] = {}

    def bound_function(self, func: attr_value_pb2.NameAttrList) -> FunctionRef:
        """The callable `(ctx, args, where=None) -> outputs` for the function a kernel attr names."""
        entry = self._bound.get(id(func))
        if entry is None or entry[0] is not func:
            entry = self._bound[id(func)] = (func, FunctionRef(func.name, func.attr))
        return entry[1]

    def function_plan(self, name: str, attrs: Mapping[str, attr_value_pb2.AttrValue] | None = None) -> Plan:
        key = (name, _attr_key(attrs))
        plan = self._function_plans.get(key)
        if plan is None:
            from savedmodel.runtime.plan import compile_function

            with self._lock:
                plan = self._function_plans.get(key)
                if plan is None:
                    self._compiling.add(key)
                    try:
                        plan = compile_function(self, name, attrs)
                    finally:
                        self._compiling.discard(key)
                    self._function_plans[key] = plan
        return plan

    def precompile(self, refs: Iterable[tuple[str, Mapping[str, attr_value_pb2.AttrValue] | None]]) -> None:
        """Compile the functions a plan calls now (at load), so calls only execute.

        One work list compiles them all, the functions those call included: compiling a
        function queues its callees instead of compiling them inside it, so a chain of nested
        calls of any length compiles without Python recursion. Recursive functions are left to
        compile on first call; so are functions whose attrs can only be resolved by a call
        (generic bodies).
        """
        with self._lock:
            if self._pending is not None:  # inside a running precompile: queue them for it
                self._pending.extend(refs)
                return
            pending = self._pending = list(refs)
            pending.reverse()
            try:
                while pending:
                    name, attrs = pending.pop()
                    key = (name, _attr_key(attrs))
                    if key in self._function_plans or key in self._compiling:
                        continue
                    try:
                        self.function_plan(name, attrs)
                    except FormatError:
                        pass
            finally:
                self._pending = None

    def check_path(self, prefix: str, what: str) -> str:
        """Confine checkpoint prefixes to the model's variables directory unless file access is allowed."""
        if self.policy.allow_file_access:
            return prefix
        roots = ([self.variables_dir] if self.variables_dir else []) + self.checkpoint_dirs
        resolved = Path(prefix).resolve()
        for root in roots:
            if resolved == root or root in resolved.parents:
                return prefix
        where = f"the model's variables directory {roots[0]}" if roots else "the model"
        raise PolicyError(
            f"{what}: checkpoint path {prefix!r} is outside {where} (pass allow_file_access=True to allow it)"
        )

    def new_context(self) -> CallContext:
        """The context of one top-level call; its deadline starts now (policy max_call_seconds)."""
        seconds = self.limits.max_call_seconds
        deadline = time.monotonic() + seconds if seconds is not None else None
        return CallContext(self, 0, None, deadline)


def _stack_depth() -> int:
    """Python frames on the current thread's stack."""
    frame = sys._getframe(1)
    depth = 1
    while frame.f_back is not None:
        frame = frame.f_back
        depth += 1
    return depth


class CallContext:
    """What kernels receive as `ctx` during one call."""

    __slots__ = ("runtime", "depth", "budget", "deadline")

    def __init__(
        self,
        runtime: Runtime,
        depth: int = 0,
        budget: list[int] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.depth = depth
        # Bytes of tensors produced so far in this call (shared with nested function calls).
        self.budget = budget if budget is not None else [0]
        # time.monotonic() past which the call stops (shared with nested function calls).
        self.deadline = deadline

    def check_deadline(self, where: str) -> None:
        """Raise DeadlineExceededError once the call has run past its max_call_seconds."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise deadline_error(self.runtime.limits, where)

    def account(self, value: Any, node: str) -> None:
        """Enforce max_bytes_per_tensor / max_bytes_per_call on a value a kernel produced."""
        if type(value) is not np.ndarray:
            return
        size = value.nbytes
        limits = self.runtime.limits
        if limits.max_bytes_per_tensor is not None and size > limits.max_bytes_per_tensor:
            raise LimitExceededError(
                f"node {node!r} produced a tensor of {size} bytes, over the limit of "
                f"{limits.max_bytes_per_tensor} bytes per tensor (policy limit max_bytes_per_tensor)"
            )
        if limits.max_bytes_per_call is not None:
            self.budget[0] += size
            if self.budget[0] > limits.max_bytes_per_call:
                raise LimitExceededError(
                    f"the call produced more than {limits.max_bytes_per_call} bytes of tensors "
                    f"(at node {node!r}; policy limit max_bytes_per_call)"
                )

    def function(self, func: attr_value_pb2.NameAttrList) -> FunctionRef:
        """The callable `fn(ctx, args, where=None) -> outputs` running the function `func` names
        (a kernel's func attr): how functional and control-flow kernels call functions without
        importing the runtime."""
        return self.runtime.bound_function(func)

    @property
    def resources(self) -> ResourceManager:
        return self.runtime.resources

    @property
    def limits(self) -> Any:
        return self.runtime.limits

    def call_function(
        self, name: str, args: Sequence[Any], attrs: Mapping[str, attr_value_pb2.AttrValue] | None = None
    ) -> list[Any]:
        """Run library function `name` on `args`; returns its outputs as a list."""
        plan = self.runtime.function_plan(name, attrs)
        return self.call_plan(plan, args)

    def call_plan(self, plan: Plan, args: Sequence[Any], where: str | None = None) -> list[Any]:
        """Run `plan` one call level deeper; `where` names the caller in a deadline error."""
        depth = self.depth + 1
        limit = self.runtime.limits.max_function_depth
        if depth > limit:
            raise LimitExceededError(
                f"function call depth exceeds the limit of {limit} (calling {plan.name!r}; "
                "policy limit max_function_depth)"
            )
        if depth >= STACK_CHECK_DEPTH and _stack_depth() > sys.getrecursionlimit() - STACK_RESERVE:
            raise LimitExceededError(
                f"function calls nested {depth} deep (calling {plan.name!r}) would exhaust Python's "
                f"stack (recursion limit {sys.getrecursionlimit()}; policy limit max_function_depth)"
            )
        if self.deadline is not None:
            self.check_deadline(where or f"a call of function {plan.name!r}")
        return plan.run(CallContext(self.runtime, depth, self.budget, self.deadline), args)


class FunctionRef:
    """A call site's reference to a library function: resolves and caches the compiled plan per runtime."""

    __slots__ = ("name", "attrs", "_cache")

    def __init__(self, name: str, attrs: Mapping[str, attr_value_pb2.AttrValue] | None = None) -> None:
        self.name = name
        self.attrs = dict(attrs) if attrs else None
        self._cache: tuple[Runtime, Plan] | None = None

    def plan(self, ctx: CallContext) -> Plan:
        cache = self._cache
        if cache is None or cache[0] is not ctx.runtime:
            cache = (ctx.runtime, ctx.runtime.function_plan(self.name, self.attrs))
            self._cache = cache
        return cache[1]

    def __call__(self, ctx: CallContext, args: Sequence[Any], where: str | None = None) -> list[Any]:
        return ctx.call_plan(self.plan(ctx), args, where)
