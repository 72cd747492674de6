"""`tf1.Session` for graphs built or imported with savedmodel.api.tf.

A session runs its graph through the shared runtime (`savedmodel.runtime.session`):
the graph's current GraphDef and function library are compiled into plans, cached
per (feeds, fetches, targets), and recompiled when the graph changes (its `version`
moves). Variables and other resources live in the runtime's resource manager and
persist across runs and recompiles for the lifetime of the session.

Policy: graphs the user builds may run anything (checkpoint paths are not
confined). Once a model is brought in with `tf1.saved_model.load` or
`tf1.train.import_meta_graph` under a policy without file access, the graph is
marked confined: checkpoint ops may then only touch the model's variables
directory and the checkpoints the user names to `Saver.save` / `Saver.restore`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.api.tf import graph as g
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.graph import Operation, Tensor
from savedmodel.errors import ExecutionError, InvalidInputError
from savedmodel.format import dtypes as dt
from savedmodel.graph.feed_values import FeedRule, FeedShapeError, convert_feed
from savedmodel.ops._resources import RefBuffer
from savedmodel.policy import DEFAULT_POLICY, Policy

# What graphs the user builds may do: anything, including checkpoints anywhere.
USER_GRAPH_POLICY = Policy(allow_file_access=True)
_HANDLE_DTYPES = frozenset({dt.DT.DT_RESOURCE, dt.DT.DT_VARIANT})
_NUMPY_DTYPES: dict[int, np.dtype] = {}


class _Default(threading.local):
    def __init__(self) -> None:
        self.sessions: list[Session] = []


_DEFAULT = _Default()


def get_default_session() -> Session:
    if not _DEFAULT.sessions:
        raise ValueError("Cannot evaluate tensor using `eval()`: No default session is registered.")
    return _DEFAULT.sessions[-1]


class Session:
    """A TF1 session over a savedmodel.api.tf Graph, executed by the shared runtime.

    `policy`: the policy for models loaded into this session (`tf1.saved_model.load`)
    and, when given, for running the graph; None means DEFAULT_POLICY for loading
    and no confinement for graphs the user builds.
    """

    def __init__(
        self,
        target: str = "",
        graph: g.Graph | None = None,
        config: Any = None,
        *,
        policy: Policy | None = None,
    ) -> None:
        self.graph = graph or g.get_default_graph() or g.global_graph()
        self.policy = policy
        self._closed = False
        self._graph_cm: Any = None
        self._runtime_session: Any = None
        self._graph_version: Any = None
        self._model_dir: Path | None = None
        self._variables_dir: Path | None = None
        self._checkpoint_dirs: list[Path] = []
        # (targets, fed names) -> (runtime session, its plan): skips rebuilding name lists per call.
        self._call_plans: dict[tuple, tuple[Any, Any]] = {}

    # ------------------------------------------------------------------ runtime
    @property
    def runtime_session(self) -> Any:
        """The runtime GraphSession for the graph as it is now (recompiled when the graph changed)."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        version = self.graph.version
        if self._runtime_session is None or version != self._graph_version:
            self._rebuild(version)
        return self._runtime_session

    def _rebuild(self, version: Any) -> None:
        from savedmodel.runtime.session import GraphSession

        previous = self._runtime_session
        session = GraphSession(
            self.graph.as_graph_def(),
            op_defs=known_op_defs(self.graph),
            policy=self.runtime_policy(),
            model_dir=self._model_dir,
            variables_dir=self._variables_dir,
        )
        session.runtime.checkpoint_dirs.extend(self._checkpoint_dirs)
        if previous is not None:
            session.runtime.resources = previous.runtime.resources
            session.runtime.anonymous_counter = previous.runtime.anonymous_counter
        self._runtime_session = session
        self._graph_version = version
        self._call_plans.clear()

    def runtime_policy(self) -> Policy:
        if self.policy is not None:
            return self.policy
        return DEFAULT_POLICY if getattr(self.graph, "confined", False) else USER_GRAPH_POLICY

    def set_model_dirs(self, model_dir: Path | None, variables_dir: Path | None) -> None:
        """The loaded model's directories (checkpoint ops may use its variables directory)."""
        self._model_dir = model_dir
        self._variables_dir = variables_dir
        if self._runtime_session is not None:
            runtime = self._runtime_session.runtime
            runtime.model_dir = model_dir.resolve() if model_dir else None
            runtime.variables_dir = variables_dir.resolve() if variables_dir else None
            runtime.policy = self.runtime_policy()
            runtime.limits = runtime.policy.limits

    def allow_checkpoint_dir(self, directory: str | Path) -> None:
        """Let checkpoint ops use `directory` (a checkpoint the user named to a Saver)."""
        resolved = Path(directory).resolve()
        if resolved in self._checkpoint_dirs:
            return
        self._checkpoint_dirs.append(resolved)
        if self._runtime_session is not None:
            self._runtime_session.runtime.checkpoint_dirs.append(resolved)

    @property
    def resources(self) -> Any:
        """The runtime's resource manager (variables, tables) of this session."""
        return self.runtime_session.runtime.resources

    # ------------------------------------------------------------------ context management
    def __enter__(self) -> Session:
        _DEFAULT.sessions.append(self)
        if g.get_default_graph() is not self.graph:
            self._graph_cm = self.graph.as_default()
            self._graph_cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._graph_cm is not None:
            self._graph_cm.__exit__(*exc)
            self._graph_cm = None
        _DEFAULT.sessions.remove(self)
        self.close()

    def as_default(self) -> Session:
        return self

    def close(self) -> None:
        self._closed = True

    # ------------------------------------------------------------------ running
    def run(
        self, fetches: Any, feed_dict: Mapping | None = None, options: Any = None, run_metadata: Any = None
    ) -> Any:
        """Evaluate `fetches` (a tensor, op, name, or nested list/tuple/dict of them)."""
        feeds: dict[str, Any] = {}
        for key, value in (feed_dict or {}).items():
            tensor = self._element(key)
            if not isinstance(tensor, Tensor):
                raise TypeError(f"Cannot interpret feed_dict key as Tensor: {key!r}")
            feeds[tensor.name] = _feed_value(tensor, value)
        targets: list[Tensor | Operation] = []
        structure = _flatten(self, fetches, targets)
        values = self._execute(targets, feeds)
        return _rebuild(structure, values)

    def _element(self, key: Any) -> Tensor | Operation:
        if type(key) is Tensor or type(key) is Operation:
            return key
        if hasattr(key, "_as_graph_element"):
            return key._as_graph_element()
        return self.graph.as_graph_element(key)

    def _execute(self, targets: list[Tensor | Operation], feeds: dict[str, Any]) -> list[Any]:
        """Values of `targets` (None for operations) with tensors named in `feeds` fed as given."""
        runtime_session = self.runtime_session
        key = (tuple(targets), tuple(feeds))
        cached = self._call_plans.get(key)
        if cached is not None and cached[0] is runtime_session:
            plan = cached[1]
        else:
            fetch_names = [t.name for t in targets if isinstance(t, Tensor)]
            op_names = [t.name for t in targets if isinstance(t, Operation)]
            plan = runtime_session.prepare(list(feeds), fetch_names, op_names)
            self._call_plans[key] = (runtime_session, plan)
        try:
            results = plan.run(runtime_session.runtime.new_context(), list(feeds.values()))
        except ExecutionError as exc:
            if exc.op in ("Placeholder", "PlaceholderV2") and exc.node:
                raise _unfed_placeholder(self.graph, exc.node) from None
            raise
        values = iter(results)
        return [None if isinstance(t, Operation) else _fetched(next(values)) for t in targets]


def _feed_value(tensor: Tensor, value: Any) -> Any:
    """A feed_dict value for `tensor`, by tf.compat.v1.Session.run's rule (savedmodel.graph.feed_values)."""
    if isinstance(value, EagerTensor):
        value = value._value
    enum = tensor.dtype.as_datatype_enum
    if enum in _HANDLE_DTYPES:
        return value
    np_dtype = _NUMPY_DTYPES.get(enum) or _NUMPY_DTYPES.setdefault(
        enum, np.dtype(tensor.dtype.as_numpy_dtype)
    )
    try:
        return convert_feed(value, np_dtype, FeedRule.SESSION_RUN, tensor._shape.dims)
    except FeedShapeError as exc:
        raise InvalidInputError(
            f"Cannot feed value of shape {exc.shape} for Tensor {tensor.name}, "
            f"which has shape {tensor.shape}"
        ) from None


def _fetched(value: Any) -> Any:
    if isinstance(value, RefBuffer):
        value = value.read()
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _flatten(session: Session, fetches: Any, targets: list[Tensor | Operation]) -> Any:
    if type(fetches) is Tensor or type(fetches) is Operation:
        targets.append(fetches)
        return len(targets) - 1
    if fetches is None:
        raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
    if isinstance(fetches, Mapping):
        return (type(fetches), [(k, _flatten(session, v, targets)) for k, v in fetches.items()])
    if isinstance(fetches, list | tuple):
        return (type(fetches), [_flatten(session, v, targets) for v in fetches])
    targets.append(session._element(fetches))
    return len(targets) - 1


def _rebuild(structure: Any, values: list[Any]) -> Any:
    if isinstance(structure, int):
        return values[structure]
    kind, items = structure
    if issubclass(kind, Mapping):
        packed = {k: _rebuild(v, values) for k, v in items}
        return packed if kind is dict else kind(packed)
    packed_items = [_rebuild(v, values) for v in items]
    if kind is list:
        return packed_items
    if hasattr(kind, "_fields"):  # namedtuple
        return kind(*packed_items)
    return kind(packed_items)


def _unfed_placeholder(graph: g.Graph, node: str) -> InvalidInputError:
    try:
        op = graph.get_operation_by_name(node)
    except KeyError:
        return InvalidInputError(f"You must feed a value for placeholder tensor '{node}'")
    dtype = dt.dtype_name(op.attrs["dtype"].type) if "dtype" in op.attrs else "unknown"
    shape = op.outputs[0].shape if op.outputs else g.TensorShape(None)
    return InvalidInputError(
        f"You must feed a value for placeholder tensor '{op.name}' with dtype {dtype}"
        + (f" and shape {list(shape.dims)}" if shape.dims is not None and shape.dims else "")
    )


def known_op_defs(graph: g.Graph) -> dict[str, Any]:
    """The OpDefs imported with a model (its stripped_op_list); every other op's output layout
    comes from TensorFlow's OpDefs shipped with savedmodel (savedmodel.graph.outputs)."""
    return dict(getattr(graph, "extra_op_defs", None) or {})
