"""Function calls: PartitionedCall and StatefulPartitionedCall.

The call context hands the kernel a callable for the function (`ctx.function(attr)`), so
kernels never import the runtime. A node whose op is the name of a library function is
called the same way (the executor resolves that case itself, with the node's attrs as the
call's attrs).
"""

from __future__ import annotations

from typing import Any

from savedmodel.ops.registry import NodeSpec, kernel_factory


@kernel_factory(
    "PartitionedCall",
    "StatefulPartitionedCall",
    family="functional",
    side_effects=True,
    doc="calls the function in attr f",
)
def _partitioned_call(node: NodeSpec) -> Any:
    func = node.attrs.raw("f").func
    return lambda ctx, *args: ctx.function(func)(ctx, args)
