"""The executor: prepared plans over graphs and functions, TF1 dataflow control flow, sessions.

- `GraphSession(graph_def)`: `run(fetches, feed_dict)` with tensor names; plans cached per signature.
- `plan.compile_plan`: prepare (`prepare.py`: prune, check kernels, prepare, order) -> a Plan: a
  `runner.StepPlan` (a tree of step lists: TF1 loops and conds structured by `loops.py` are nested
  steps) or, for TF1 control flow the analysis cannot structure, a `dataflow.DataflowPlan`.
- `context.Runtime` / `CallContext`: resources, function library and policy limits kernels see as `ctx`.
"""

from savedmodel.runtime.session import GraphSession

__all__ = ["GraphSession"]
