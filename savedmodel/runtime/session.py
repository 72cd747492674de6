"""A TF1-style session over a GraphDef: `run(fetches, feed_dict)` with tensor names.

Plans are compiled once per (feeds, fetches, targets) combination and cached, so
repeated calls with the same names only execute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError, InvalidInputError, NotFoundError
from savedmodel.format import dtypes
from savedmodel.graph import feeds
from savedmodel.graph.feed_values import FeedRule, FeedValueError, convert_feed
from savedmodel.graph.model import FunctionLibrary, GraphModel
from savedmodel.graph.names import parse_tensor_name
from savedmodel.policy import Policy
from savedmodel.proto import graph_pb2, op_def_pb2
from savedmodel.runtime.context import Runtime
from savedmodel.runtime.plan import Plan, compile_plan


class GraphSession:
    """Runs fetches of one GraphDef by tensor name; variables and other resources persist across runs.

    savedmodel's own executor entry point (loader, converter, CLI); `tf.compat.v1.Session`
    (savedmodel.api.tf.session) is TensorFlow's public class and runs on top of this one."""

    def __init__(
        self,
        graph_def: graph_pb2.GraphDef,
        *,
        op_list: op_def_pb2.OpList | None = None,
        op_defs: Mapping[str, op_def_pb2.OpDef] | None = None,
        policy: Policy | None = None,
        model_dir: str | Path | None = None,
        variables_dir: str | Path | None = None,
        where: str = "graph",
    ) -> None:
        """`op_list` / `op_defs`: OpDefs for the output layouts of ops (a MetaGraphDef's
        stripped_op_list, or a name -> OpDef table)."""
        self.graph_def = graph_def
        library = FunctionLibrary.from_graph_def(graph_def, op_list)
        if op_defs:
            library.op_defs = {**op_defs, **library.op_defs}
        self.graph = GraphModel.from_graph_def(graph_def, library, where)
        self.runtime = Runtime(library, policy, model_dir, variables_dir)
        self._plans: dict[tuple, Plan] = {}

    # ------------------------------------------------------------------ plans
    def prepare(self, feeds: Sequence[str], fetches: Sequence[str], targets: Sequence[str] = ()) -> Plan:
        """The compiled plan computing tensor names `fetches` from `feeds` and running op names `targets`."""
        key = (tuple(feeds), tuple(fetches), tuple(targets))
        plan = self._plans.get(key)
        if plan is None:
            feed_refs = [parse_tensor_name(f) for f in feeds]
            fetch_refs = [parse_tensor_name(f) for f in fetches]
            for target in targets:
                if target.split(":")[0] not in self.graph.nodes:
                    raise NotFoundError(f"{self.graph.where}: no operation named {target!r}")
            plan = compile_plan(
                self.runtime,
                self.graph,
                feed_refs,
                fetch_refs,
                [t.split(":")[0] for t in targets],
                name=self.graph.where,
            )
            self._plans[key] = plan
        return plan

    def feed_dtype(self, name: str) -> np.dtype | None:
        """The dtype a feed of tensor `name` is converted to: its placeholder's (None: not a placeholder)."""
        node_name, _ = parse_tensor_name(name)
        node = self.graph.nodes.get(node_name)
        if node is None:
            raise NotFoundError(f"{self.graph.where}: fed tensor {name!r} names no node")
        if node.op in feeds.DTYPE_PLACEHOLDERS and "dtype" in node.attr:
            return dtypes.as_numpy_dtype(dtypes.base_dtype(node.attr["dtype"].type))
        return None

    # ------------------------------------------------------------------ running
    def run(
        self,
        fetches: str | Sequence[str] | None,
        feed_dict: Mapping[str, Any] | None = None,
        targets: Sequence[str] = (),
    ) -> Any:
        """Values of `fetches` (a tensor name, or a list of them). A name without ':' is an
        operation to run (its result is None), as in TensorFlow."""
        feed_dict = dict(feed_dict or {})
        single = isinstance(fetches, str)
        names = [fetches] if single else list(fetches or [])
        tensor_fetches = [n for n in names if ":" in n]
        op_targets = [n for n in names if ":" not in n] + list(targets)
        feed_names = list(feed_dict)
        normalized = [self._normalize(n) for n in feed_names]
        values = [self._convert(n, feed_dict[n]) for n in feed_names]
        plan = self.prepare(normalized, tensor_fetches, op_targets)
        try:
            results = plan.run(self.runtime.new_context(), values)
        except MemoryError as exc:  # an executor's own bookkeeping, outside any one kernel
            raise ExecutionError("out of memory while running the graph") from exc
        by_name = dict(zip(tensor_fetches, results, strict=True))
        out = [by_name[n] if ":" in n else None for n in names]
        return out[0] if single else out

    def _convert(self, name: str, value: Any) -> Any:
        """A fed value by the signature-call rule (savedmodel.graph.feed_values)."""
        try:
            return convert_feed(value, self.feed_dtype(name), FeedRule.SIGNATURE)
        except FeedValueError as exc:
            raise InvalidInputError(f"feed {name!r}: {exc.detail}") from None

    @staticmethod
    def _normalize(name: str) -> str:
        return name if ":" in name else name + ":0"
