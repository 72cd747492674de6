"""Function calls: PartitionedCall and StatefulPartitionedCall.

A node whose op is the name of a library function is called the same way (the
executor resolves that case itself, with the node's attrs as the call's attrs).
"""

from __future__ import annotations

from typing import Any

from savedmodel.ops.registry import NodeSpec, kernel_factory
from savedmodel.runtime.context import FunctionRef


@kernel_factory(
    "PartitionedCall",
    "StatefulPartitionedCall",
    family="functional",
    side_effects=True,
    doc="calls the function in attr f",
)
def _partitioned_call(node: NodeSpec) -> Any:
    func = node.attrs.raw("f").func
    ref = FunctionRef(func.name, func.attr)
    return lambda ctx, *args: ref(ctx, args)
