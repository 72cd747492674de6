"""The executor: prepared plans over graphs and functions, TF1 dataflow control flow, sessions.

- `GraphSession(graph_def)`: `run(fetches, feed_dict)` with tensor names; plans cached per signature.
- `plan.compile_plan`: prune, check kernels, prepare, order -> a Plan (`StraightPlan` or `DataflowPlan`).
- `context.Runtime` / `CallContext`: resources, function library and policy limits kernels see as `ctx`.
"""

from savedmodel.runtime.session import GraphSession

__all__ = ["GraphSession"]
