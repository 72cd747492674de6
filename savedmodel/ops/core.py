"""Structural ops every graph uses: constants, placeholders, identities, no-ops.

Const values are decoded once when the graph is prepared and handed out read-only.
A Placeholder only runs when it is not fed, which is an error, as in TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.graph.model import ARG_OP
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory


@kernel_factory("Const", "HostConst", family="core", constant=True, doc="a constant, decoded once at load")
def _prepare_const(node: NodeSpec) -> Callable[..., Any]:
    value = node.attrs["value"]
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value.flags.writeable = False
    return lambda ctx, *control: value


@kernel_factory("Placeholder", "PlaceholderV2", ARG_OP, family="core", doc="a value fed by the caller")
def _prepare_placeholder(node: NodeSpec) -> Callable[..., Any]:
    name = node.name

    def run(ctx: Any) -> Any:
        raise ExecutionError(f"you must feed a value for placeholder tensor '{name}:0'", name, node.op)

    return run


@kernel("PlaceholderWithDefault", family="core", doc="returns its input (or default) unchanged")
@kernel("Identity", family="core", forwards_input=True, aliases_input=True, doc="returns its input unchanged")
def _identity(ctx: Any, x: Any) -> Any:
    return x


@kernel("IdentityN", family="core", doc="returns its inputs unchanged")
def _identity_n(ctx: Any, *xs: Any) -> list[Any]:
    return list(xs)


@kernel("NoOp", family="core", doc="does nothing; used for control dependencies")
def _no_op(ctx: Any, *args: Any) -> None:
    return None
