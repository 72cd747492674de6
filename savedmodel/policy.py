"""Safety policy: what a loaded model may touch, and the resource limits a run obeys.

A SavedModel is a program. By default savedmodel refuses ops that reach outside
the model (file-system reads and writes, printing to files) and asset paths
that escape the model directory. Callers opt in with `Policy(allow_file_access=True)`
or the CLI flag `--allow_file_access`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from savedmodel.errors import DeadlineExceededError, LimitExceededError, PolicyError, RefusedOpError
from savedmodel.proto import graph_pb2, meta_graph_pb2

# Ops refused unless file access is allowed. saved_model_cli scan's default
# denylist is ReadFile, WriteFile and PrintV2; we refuse a few more by default.
SCAN_DEFAULT_DENYLIST: tuple[str, ...] = ("ReadFile", "WriteFile", "PrintV2")
FILE_ACCESS_OPS: frozenset[str] = frozenset(
    {"ReadFile", "WriteFile", "MatchingFiles", "PrintV2", "ImmutableConst"}
)
# PrintV2 streams that stay inside the process (TF also accepts "file://<path>", a file op).
PRINT_STREAMS: frozenset[str] = frozenset({"stderr", "stdout", "log(info)", "log(warning)", "log(error)"})
PRINT_FILE_PREFIX = "file://"
# Checkpoint ops (V2 and V1) are needed to restore variables and are part of every
# saver subgraph; they are confined at run time to the model's own checkpoint
# directory (variables/, or a session bundle's export dir) rather than refused at load.
CHECKPOINT_OPS: frozenset[str] = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "Restore", "RestoreSlice", "Save", "SaveSlices"}
)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one call. None means unlimited.

    `max_while_iterations` bounds each while loop (TF1 frame or TF2 While) separately; the
    default stops an endless tight loop within a few seconds while RNNs over thousands of steps
    stay far below it. `max_call_seconds` bounds a whole call's wall-clock time; it is checked
    between loop iterations and at function calls (a single kernel runs to its end). The API
    leaves it unset; `savedmodel run` sets 30 s and `savedmodel serve` its REST timeout.
    `max_function_depth` bounds nested function calls; calls also stop, with the same error,
    before they would exhaust Python's own stack.
    """

    max_bytes_per_tensor: int | None = 4 << 30
    max_bytes_per_call: int | None = None
    max_string_length: int | None = 1 << 30
    max_image_pixels: int | None = 1 << 28
    max_function_depth: int = 100
    max_while_iterations: int | None = 50_000
    max_call_seconds: float | None = None


@dataclass(frozen=True)
class Policy:
    allow_file_access: bool = False
    extra_denied_ops: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)

    def denied_ops(self) -> frozenset[str]:
        base = frozenset() if self.allow_file_access else FILE_ACCESS_OPS
        return base | self.extra_denied_ops


DEFAULT_POLICY = Policy()
DEFAULT_LIMITS = DEFAULT_POLICY.limits

# Limits in force where no call context is at hand (decoding Const attrs while a
# graph is prepared, reading checkpoints). `savedmodel.load` and the fuzz harnesses
# set it with `using_limits`; otherwise the defaults apply.
_ACTIVE_LIMITS: contextvars.ContextVar[Limits | None] = contextvars.ContextVar(
    "savedmodel_limits", default=None
)


def active_limits() -> Limits:
    """The limits set by the innermost `using_limits`, else the default limits."""
    return _ACTIVE_LIMITS.get() or DEFAULT_LIMITS


@contextlib.contextmanager
def using_limits(limits: Limits | None) -> Iterator[Limits]:
    """Make `limits` the active limits inside the block (None keeps the current ones)."""
    if limits is None:
        yield active_limits()
        return
    token = _ACTIVE_LIMITS.set(limits)
    try:
        yield limits
    finally:
        _ACTIVE_LIMITS.reset(token)


def limits_of(ctx: Any) -> Limits:
    """A kernel's limits: its call context's (`ctx.limits`; eager ops get a context too). A kernel
    run while a plan is prepared (a constant folded at load, ctx None) sees the limits the
    preparation made active."""
    if ctx is None:
        return active_limits()
    return ctx.limits


def with_call_limits(run: Any) -> Any:
    """`run(ctx, *inputs)` with its call's limits active around it: for kernels that decode stored
    data (TensorProto, checkpoints, images) through the format layer, whose readers check sizes
    against `active_limits()` because they also serve loading, where no call context exists."""

    def wrapped(ctx: Any, *inputs: Any) -> Any:
        with using_limits(limits_of(ctx)):
            return run(ctx, *inputs)

    return wrapped


def element_count(shape: Sequence[int]) -> int:
    """Number of elements of `shape` as an exact Python int (no int64 overflow)."""
    return math.prod(int(d) for d in shape)


def check_tensor_bytes(shape: Sequence[int], itemsize: int, what: str, limits: Limits | None = None) -> None:
    """Raise LimitExceededError when a tensor of `shape` would exceed max_bytes_per_tensor.

    Call it before allocating, with the declared shape: a tensor of 10^12 elements
    must fail here rather than exhaust memory. Object (string) elements count as
    8 bytes each (the pointer), their payloads are limited by max_string_length.
    """
    limits = limits or active_limits()
    cap = limits.max_bytes_per_tensor
    if cap is None:
        return
    size = element_count(shape) * max(int(itemsize), 1)
    if size > cap:
        dims = ", ".join(str(int(d)) for d in shape)
        raise LimitExceededError(
            f"{what}: a tensor of shape [{dims}] needs {size} bytes, over the limit of {cap} bytes "
            "per tensor (policy limit max_bytes_per_tensor)"
        )


def iteration_limit_error(loop: str, limit: int) -> LimitExceededError:
    """The error for a while loop (`loop` names it: the node, or the TF1 frame and its LoopCond)."""
    return LimitExceededError(
        f"while loop {loop} ran more than {limit:,} iterations (policy limit max_while_iterations)"
    )


def deadline_error(limits: Limits, where: str) -> DeadlineExceededError:
    """The error for a call that ran past its max_call_seconds (`where`: what it was running)."""
    return DeadlineExceededError(
        f"the call ran longer than {limits.max_call_seconds:g} s, stopped in {where} "
        "(policy limit max_call_seconds)"
    )


def check_string_length(length: int, what: str, limits: Limits | None = None) -> None:
    """Raise LimitExceededError for a string longer than max_string_length."""
    cap = (limits or active_limits()).max_string_length
    if cap is not None and length > cap:
        raise LimitExceededError(
            f"{what}: a string of {length} bytes is over the limit of {cap} bytes "
            "(policy limit max_string_length)"
        )


def check_image_pixels(
    height: int, width: int, channels: int, what: str, limits: Limits | None = None
) -> None:
    """Raise LimitExceededError when a decoded image would exceed max_image_pixels (height * width)."""
    cap = (limits or active_limits()).max_image_pixels
    if cap is not None and int(height) * int(width) > cap:
        raise LimitExceededError(
            f"{what}: a decoded image of {height}x{width}x{channels} is over the limit of {cap} pixels "
            "(policy limit max_image_pixels)"
        )


def ops_in_graph(graph_def: graph_pb2.GraphDef) -> dict[str, list[str]]:
    """Op type -> node names, over the graph and every library function ("fn/node")."""
    found: dict[str, list[str]] = {}
    for node in graph_def.node:
        found.setdefault(node.op, []).append(node.name)
    for function in graph_def.library.function:
        for node in function.node_def:
            found.setdefault(node.op, []).append(f"{function.signature.name}/{node.name}")
    return found


def find_denied_ops(graph_def: graph_pb2.GraphDef, denylist: Iterable[str]) -> dict[str, list[str]]:
    denied = frozenset(denylist)
    return {op: nodes for op, nodes in ops_in_graph(graph_def).items() if op in denied}


def print_stream(attrs: Mapping[str, Any]) -> str:
    """A PrintV2 node's output_stream attr (TF's default: stderr)."""
    if "output_stream" not in attrs:
        return "stderr"
    return attrs["output_stream"].s.decode("utf-8", "replace")


def refuses(denied: frozenset[str], op: str, attrs: Mapping[str, Any]) -> bool:
    """Whether a node of `op` with `attrs` is refused under the `denied` op set. PrintV2 is
    refused only when it prints to a file (`output_stream` "file://..."): printing to the
    process's stdout/stderr/log is not a file op."""
    if op not in denied:
        return False
    if op == "PrintV2":
        return print_stream(attrs).startswith(PRINT_FILE_PREFIX)
    return True


def refused_nodes(graph_def: graph_pb2.GraphDef, policy: Policy) -> dict[str, list[str]]:
    """Op type -> the nodes the policy refuses, over the graph and every library function."""
    denied = policy.denied_ops()
    found: dict[str, list[str]] = {}
    if not denied:
        return found
    for node in graph_def.node:
        if refuses(denied, node.op, node.attr):
            found.setdefault(node.op, []).append(node.name)
    for function in graph_def.library.function:
        for node in function.node_def:
            if refuses(denied, node.op, node.attr):
                found.setdefault(node.op, []).append(f"{function.signature.name}/{node.name}")
    return found


def check_meta_graph(meta_graph: meta_graph_pb2.MetaGraphDef, policy: Policy, source: str = "model") -> None:
    """Raise RefusedOpError (a PolicyError) when the graph uses ops the policy refuses."""
    refused = refused_nodes(meta_graph.graph_def, policy)
    if refused:
        raise RefusedOpError(refused, source)


def resolve_inside(root: str | os.PathLike[str], relative: str, what: str = "path") -> Path:
    """`root/relative`, refusing absolute paths, `..` and symlinks that leave `root`."""
    root_path = Path(root).resolve()
    if os.path.isabs(relative):
        raise PolicyError(f"{what} {relative!r} is absolute; it must stay inside {root_path}")
    candidate = (root_path / relative).resolve()
    if candidate != root_path and root_path not in candidate.parents:
        raise PolicyError(f"{what} {relative!r} escapes {root_path}")
    return candidate


def check_call_bytes(values: Iterable[Any], what: str, limits: Limits | None = None) -> None:
    """Raise LimitExceededError when the arrays of one call (inputs or outputs) exceed max_bytes_per_call."""
    cap = (limits or active_limits()).max_bytes_per_call
    if cap is None:
        return
    total = sum(int(getattr(v, "nbytes", 0)) for v in values)
    if total > cap:
        raise LimitExceededError(
            f"{what}: {total} bytes of tensors in one call, over the limit of {cap} bytes "
            "(policy limit max_bytes_per_call)"
        )
