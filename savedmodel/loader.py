"""`savedmodel.load`: a SavedModel as callable signatures and restored objects, like `tf.saved_model.load`.

Loading follows TensorFlow:
1. choose the MetaGraphDef by tag set and check it against the safety policy;
2. restore variables by running the graph's own saver restore op with the
   variables prefix fed to its filename tensor (TF1 and TF2 SavedModels both
   carry one); TF2 variables the restore op did not fill are read through the
   checkpoint's object graph;
3. run the init op: the `__saved_model_init_op` signature's output, else the
   `saved_model_main_op` collection, else `legacy_init_op`, with asset paths fed;
4. compile every signature into a prepared plan (a missing kernel fails here,
   listing every unsupported op).

The result: `.signatures[key](**inputs) -> dict[str, np.ndarray]`; for TF2
models the root object's functions (`loaded(5.)`), variables (`.numpy()`) and
children are attributes, as after `tf.saved_model.load`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import (
    ExecutionError,
    FormatError,
    InvalidInputError,
    NotFoundError,
    RefusedOpError,
    SavedModelError,
    UnsupportedOpError,
)
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format import session_bundle
from savedmodel.format import tensor as tensor_format
from savedmodel.graph.names import parse_tensor_name
from savedmodel.ops import registry
from savedmodel.ops._resources import VariableResource
from savedmodel.policy import (
    DEFAULT_POLICY,
    Policy,
    check_call_bytes,
    refused_nodes,
    resolve_inside,
    using_limits,
)
from savedmodel.proto import meta_graph_pb2, saved_object_graph_pb2, trackable_object_graph_pb2
from savedmodel.runtime.context import FunctionRef
from savedmodel.runtime.session import GraphSession
from savedmodel.runtime.structure import (
    SignatureTensorSpec,
    decode,
    flatten,
    pack_tensors,
    spec_from_tensor_info,
)

INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
MAIN_OP_COLLECTION = "saved_model_main_op"
LEGACY_INIT_OP_COLLECTION = "legacy_init_op"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
ASSETS_COLLECTION = "saved_model_assets"
_NO_DEFAULT = object()


def _string_tensor(text: str) -> np.ndarray:
    return np.asarray(text.encode("utf-8"), dtype=object)


class UnknownSignatureError(NotFoundError, KeyError):
    """`signatures[key]` for a key the model does not have (also a KeyError, as dict lookups raise)."""

    __str__ = Exception.__str__


class SignatureFunctions(dict):
    """Signature key -> SignatureFunction; unknown keys raise UnknownSignatureError listing the known ones."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def __missing__(self, key: str) -> SignatureFunction:
        known = ", ".join(sorted(self)) or "none"
        raise UnknownSignatureError(f"{self.source}: no signature named {key!r} (available: {known})")


class SignatureFunction:
    """One SignatureDef as a function: `fn(**inputs) -> {output key: array}`.

    Compiling raises UnsupportedOpError / RefusedOpError when the part of the graph the signature
    runs has ops without kernels or ops the policy refuses. `load` keeps such a signature as a
    failed one (`SignatureFunction.failed`): calling it raises that error, naming the ops and nodes,
    while the model's other signatures work.
    """

    error: UnsupportedOpError | RefusedOpError | None = None

    def __init__(self, session: GraphSession, key: str, signature_def: meta_graph_pb2.SignatureDef) -> None:
        self._describe(session, key, signature_def)
        self.plan = session.prepare(
            [s.tensor_name for s in self.inputs], [s.tensor_name for s in self.outputs]
        )

    @classmethod
    def failed(
        cls,
        session: GraphSession,
        key: str,
        signature_def: meta_graph_pb2.SignatureDef,
        error: UnsupportedOpError | RefusedOpError,
    ) -> SignatureFunction:
        """A signature whose plan could not be prepared: calls raise `error` again."""
        function = cls.__new__(cls)
        function._describe(session, key, signature_def)
        function.plan = None
        function.error = error
        return function

    def _raise_error(self) -> None:
        error = self.error
        where = f"{self._session.graph.where}, signature {self.name!r}"
        if isinstance(error, RefusedOpError):
            raise RefusedOpError(error.refused, where)
        assert isinstance(error, UnsupportedOpError)
        raise UnsupportedOpError(error.missing, where)

    def _describe(self, session: GraphSession, key: str, signature_def: meta_graph_pb2.SignatureDef) -> None:
        self.name = key
        self.signature_def = signature_def
        self._session = session
        nodes = session.graph.nodes
        producer = session.graph_def.versions.producer
        self.input_specs = {
            k: spec_from_tensor_info(k, v, nodes, producer) for k, v in sorted(signature_def.inputs.items())
        }
        self.output_specs = {k: spec_from_tensor_info(k, v) for k, v in sorted(signature_def.outputs.items())}
        self.inputs: list[SignatureTensorSpec] = list(self.input_specs.values())
        self.outputs: list[SignatureTensorSpec] = list(self.output_specs.values())
        self._input_keys = list(self.input_specs)
        self._output_keys = list(self.output_specs)

    def _expected(self) -> str:
        return "; ".join(s.describe() for s in self.inputs) or "no inputs"

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        if self.plan is None:
            self._raise_error()
        if args:
            if len(args) > len(self._input_keys):
                raise InvalidInputError(
                    f"signature {self.name!r} takes {len(self._input_keys)} inputs, got "
                    f"{len(args)} positional values (expected {self._expected()})"
                )
            for key, value in zip(self._input_keys, args, strict=False):
                if key in kwargs:
                    raise InvalidInputError(f"signature {self.name!r}: input {key!r} given twice")
                kwargs[key] = value
        specs = self.input_specs
        unknown = [k for k in kwargs if k not in specs]
        if unknown:
            raise InvalidInputError(
                f"signature {self.name!r} has no input named {', '.join(map(repr, unknown))} "
                f"(expected inputs: {self._expected()})"
            )
        if len(kwargs) != len(specs):
            missing = [k for k in specs if k not in kwargs]
            raise InvalidInputError(
                f"signature {self.name!r} is missing input {', '.join(map(repr, missing))} "
                f"(expected inputs: {self._expected()})"
            )
        values = [
            specs[k].convert(kwargs[k], f"signature {self.name!r}, input {k!r}") for k in self._input_keys
        ]
        limits = self._session.runtime.limits
        check_call_bytes(values, f"signature {self.name!r} inputs", limits)
        # Plan.run makes the policy's limits the active ones for kernels without a ctx.
        try:
            results = self.plan.run(self._session.runtime.new_context(), values)
        except MemoryError as exc:  # an executor's own bookkeeping, outside any one kernel
            raise ExecutionError(f"signature {self.name!r}: out of memory") from exc
        check_call_bytes(results, f"signature {self.name!r} outputs", limits)
        return dict(zip(self._output_keys, results, strict=True))

    def __repr__(self) -> str:
        outs = "; ".join(s.describe() for s in self.outputs)
        state = "" if self.error is None else f" unavailable: {self.error}"
        return f"<SignatureFunction {self.name!r} ({self._expected()}) -> ({outs}){state}>"


class RestoredVariable:
    """A variable of a TF2 SavedModel's object graph."""

    def __init__(self, handle: VariableResource, saved: saved_object_graph_pb2.SavedVariable) -> None:
        self.handle = handle
        self.name = saved.name
        self.trainable = saved.trainable
        self.shape = tensor_format.shape_from_proto(saved.shape)

    def numpy(self) -> np.ndarray:
        return self.handle.read()

    @property
    def dtype(self) -> np.dtype:
        return self.numpy().dtype

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self.numpy()
        return value.astype(dtype) if dtype is not None else value

    def __repr__(self) -> str:
        return f"<RestoredVariable {self.name!r} value={self.numpy()!r}>"


class RestoredObject:
    """A user object of the object graph; its children are attributes."""

    def __init__(self, identifier: str = "") -> None:
        self._identifier = identifier

    def __repr__(self) -> str:
        names = ", ".join(k for k in vars(self) if not k.startswith("_"))
        return f"<RestoredObject {self._identifier or 'object'} ({names})>"


class RestoredConcreteFunction:
    """One concrete function of a loaded model's object graph: structured inputs -> structured
    outputs. It prints as TensorFlow's `<ConcreteFunction ...>`; `tf.ConcreteFunction`
    (savedmodel.api.tf.function) is the traced kind users build."""

    def __init__(
        self,
        loaded: LoadedModel,
        name: str,
        saved: saved_object_graph_pb2.SavedConcreteFunction,
        argument_keywords: Sequence[str] = (),
        positional: int | None = None,
        fullargspec: Any = None,
    ) -> None:
        self.name = name
        self._loaded = loaded
        self._ref = FunctionRef(name)
        signature = (
            decode(saved.canonicalized_input_signature)
            if saved.HasField("canonicalized_input_signature")
            else ((), {})
        )
        self.args_spec, self.kwargs_spec = (
            (tuple(signature[0]), dict(signature[1])) if signature else ((), {})
        )
        self.output_structure = decode(saved.output_signature) if saved.HasField("output_signature") else None
        self._returns_none = saved.output_signature.WhichOneof("kind") == "none_value"
        self.bound_inputs = list(saved.bound_inputs)
        self.arg_names = _fullargspec_args(fullargspec)
        self.arg_defaults = _fullargspec_defaults(fullargspec, self.arg_names)
        self.argument_keywords = list(argument_keywords)
        self.positional = positional

    def _bind(self, args: Sequence[Any], kwargs: Mapping[str, Any], convert: bool) -> list[np.ndarray]:
        """Flat tensor inputs for the given arguments; InvalidInputError when they do not fit."""
        names = self.arg_names or [f"arg{i}" for i in range(len(self.args_spec))]
        if len(args) > len(self.args_spec) and self.argument_keywords:
            # Signature wrappers take keyword-only inputs, positionally in argument_keywords order.
            kwargs = {**dict(zip(self.argument_keywords, args, strict=False)), **kwargs}
            args = ()
        if len(args) > len(self.args_spec):
            raise InvalidInputError(
                f"{self.name}: takes {len(self.args_spec)} positional arguments, got {len(args)}"
            )
        bound_args = list(args)
        remaining = dict(kwargs)
        for i in range(len(args), len(self.args_spec)):
            name = names[i] if i < len(names) else f"arg{i}"
            if name not in remaining and name in self.arg_defaults:
                bound_args.append(self.arg_defaults[name])  # a parameter left to its default
                continue
            if name not in remaining:
                raise InvalidInputError(
                    f"{self.name}: missing argument {name!r} (expected {self.describe_inputs()})"
                )
            bound_args.append(remaining.pop(name))
        unknown = [k for k in remaining if k not in self.kwargs_spec]
        if unknown:
            raise InvalidInputError(
                f"{self.name}: unexpected argument {', '.join(map(repr, unknown))} "
                f"(expected {self.describe_inputs()})"
            )
        missing = [k for k in self.kwargs_spec if k not in remaining]
        if missing:
            raise InvalidInputError(
                f"{self.name}: missing argument {', '.join(map(repr, missing))} "
                f"(expected {self.describe_inputs()})"
            )
        flat: list[np.ndarray] = []
        _match(self.args_spec, tuple(bound_args), flat, convert, self.name)
        _match(self.kwargs_spec, remaining, flat, convert, self.name)
        return flat

    def describe_inputs(self) -> str:
        specs = [s for s in flatten((self.args_spec, self.kwargs_spec)) if isinstance(s, SignatureTensorSpec)]
        return "; ".join(s.describe() for s in specs) or "no inputs"

    def accepts(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], convert: bool
    ) -> list[np.ndarray] | None:
        try:
            return self._bind(args, kwargs, convert)
        except InvalidInputError:
            return None

    def call_flat(self, flat: list[Any]) -> Any:
        captures = [self._loaded._capture(node_id) for node_id in self.bound_inputs]
        session = self._loaded.session
        ctx = session.runtime.new_context()
        outputs = self._ref(ctx, [*flat, *captures])
        if self.output_structure is None:
            if self._returns_none:
                return None  # the function returned None (its output signature says so)
            return outputs[0] if len(outputs) == 1 else outputs
        return pack_tensors(self.output_structure, iter(outputs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat = self._bind(args, kwargs, convert=True)
        return self.call_flat(flat)

    def __repr__(self) -> str:
        return f"<ConcreteFunction {self.name} ({self.describe_inputs()})>"


def _fullargspec_args(fullargspec: Any) -> list[str]:
    if fullargspec is None:
        return []
    spec = decode(fullargspec)
    if hasattr(spec, "fields"):
        args = spec.fields.get("args") or []
        return [a for a in args if a != "self"]
    return []


def _fullargspec_defaults(fullargspec: Any, names: list[str]) -> dict[str, Any]:
    """The defaults of the trailing parameters, by name (FullArgSpec.defaults)."""
    if fullargspec is None:
        return {}
    spec = decode(fullargspec)
    defaults = list(spec.fields.get("defaults") or []) if hasattr(spec, "fields") else []
    if not defaults or len(defaults) > len(names):
        return {}
    return dict(zip(names[len(names) - len(defaults) :], defaults, strict=True))


def _match(spec: Any, value: Any, flat: list[np.ndarray], convert: bool, where: str) -> None:
    """Walk `spec` and `value` together, appending converted tensors for SignatureTensorSpec leaves."""
    if isinstance(spec, SignatureTensorSpec):
        if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
            value = value.numpy()
        if not convert:
            if not isinstance(value, np.ndarray) or value.dtype != spec.dtype:
                raise InvalidInputError(f"{where}: expected a {spec.dtype_name} tensor")
        flat.append(spec.convert(value, f"{where}, argument {spec.name!r}"))
        return
    if isinstance(spec, dict):
        if not isinstance(value, Mapping) or set(value) != set(spec):
            raise InvalidInputError(f"{where}: expected a dict with keys {sorted(spec)}")
        for key in sorted(spec):
            _match(spec[key], value[key], flat, convert, where)
        return
    if isinstance(spec, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(spec):
            raise InvalidInputError(f"{where}: expected a sequence of {len(spec)} values")
        for s, v in zip(spec, value, strict=True):
            _match(s, v, flat, convert, where)
        return
    if spec != value and not (spec is None and value is None):
        raise InvalidInputError(f"{where}: expected the Python value {spec!r}, got {value!r}")


class RestoredFunction:
    """A tf.function of the object graph: dispatches to the first concrete function that accepts the call."""

    def __init__(self, name: str, concrete: list[RestoredConcreteFunction]) -> None:
        self.name = name
        self.concrete_functions = concrete

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for convert in (False, True):
            for function in self.concrete_functions:
                flat = function.accepts(args, kwargs, convert)
                if flat is not None:
                    return function.call_flat(flat)
        options = "; ".join(f"({c.describe_inputs()})" for c in self.concrete_functions) or "none saved"
        raise InvalidInputError(
            f"function {self.name!r} has no concrete function for these arguments "
            f"(saved input signatures: {options})"
        )

    def __repr__(self) -> str:
        return f"<RestoredFunction {self.name} with {len(self.concrete_functions)} concrete function(s)>"


class LoadedModel:
    """What `load` returns."""

    def __init__(self, path: Path, meta_graph: meta_graph_pb2.MetaGraphDef, session: GraphSession) -> None:
        self.path = path
        self.meta_graph = meta_graph
        self.session = session
        self.tags = list(meta_graph.meta_info_def.tags)
        self.signatures: SignatureFunctions = SignatureFunctions(str(path))
        self._objects: list[Any] = []
        self._root: Any = None
        self._bundle_cache: Any = None
        # The execution backend of the signatures (savedmodel.backends): "numpy" or "onnxruntime".
        self.backend = "numpy"

    # -- object graph ----------------------------------------------------------------------------
    def _capture(self, node_id: int) -> Any:
        obj = self._objects[node_id]
        if isinstance(obj, RestoredVariable):
            return obj.handle
        if isinstance(obj, _RestoredResource):
            return obj.handle()
        return obj

    def __getattr__(self, name: str) -> Any:
        root = self.__dict__.get("_root")
        if root is None or name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(root, name)
        except AttributeError:
            raise AttributeError(f"the loaded model has no attribute {name!r}") from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        root = self._root
        fn = vars(root).get("__call__") if isinstance(root, RestoredObject) else None
        if fn is None or not isinstance(fn, (RestoredFunction, RestoredConcreteFunction)):
            raise NotFoundError(f"{self.path}: the loaded model has no __call__ function")
        return fn(*args, **kwargs)

    @property
    def root(self) -> Any:
        return self._root

    def variables(self) -> list[RestoredVariable]:
        return [o for o in self._objects if isinstance(o, RestoredVariable)]

    def __repr__(self) -> str:
        return f"<LoadedModel {self.path} tags={self.tags} signatures={sorted(self.signatures)}>"


class _RestoredResource:
    def __init__(self, loaded: LoadedModel) -> None:
        self._loaded = loaded
        self.creator: RestoredConcreteFunction | None = None
        self._handle: Any = None

    def handle(self) -> Any:
        if self._handle is None:
            if self.creator is None:
                raise FormatError("a restored resource has no _create_resource function")
            self._handle = self.creator.call_flat([])
        return self._handle


# ---------------------------------------------------------------------------------------- loading


def load(
    path: str | os.PathLike[str],
    tags: str | Sequence[str] | None = None,
    *,
    policy: Policy | None = None,
    backend: str | None = None,
) -> LoadedModel:
    """Load the SavedModel at `path` (see the module docstring). `backend`: "numpy" or
    "onnxruntime" (savedmodel.backends; default: $SAVEDMODEL_BACKEND, else numpy).

    `savedmodel.load`: NumPy arrays in and out. The same model through TensorFlow's namespaces:
    `tf.saved_model.load(path)` (savedmodel.api.tf.saving: this object, with EagerTensors and
    tf.TensorSpecs) and `tf.compat.v1.saved_model.load(sess, tags, path)`
    (savedmodel.api.tf.loader: the MetaGraphDef imported into a v1 Session's graph)."""
    from savedmodel.backends import resolve

    policy = policy or DEFAULT_POLICY
    chosen = resolve(backend)
    if chosen == "onnxruntime":
        from savedmodel.backends.onnx import require

        require(str(path))
    # Constants are decoded while plans are prepared, outside any call context:
    # make the policy's limits the active ones for that.
    with using_limits(policy.limits):
        loaded = _load(path, tags, policy)
        if chosen == "onnxruntime":
            from savedmodel.backends.onnx.backend import accelerate

            accelerate(loaded)
        loaded.backend = chosen
        return loaded


def _load(path: str | os.PathLike[str], tags: str | Sequence[str] | None, policy: Policy) -> LoadedModel:
    root = Path(path)
    proto = saved_model_format.read_saved_model(root)
    meta_graph = saved_model_format.find_meta_graph(proto, tags, str(root))
    refused = refused_nodes(meta_graph.graph_def, policy)
    registry.check_extras(meta_graph.graph_def, str(root))
    variables_dir = checkpoint_dir(root)
    session = GraphSession(
        meta_graph.graph_def,
        op_list=meta_graph.meta_info_def.stripped_op_list,
        policy=policy,
        model_dir=root,
        variables_dir=variables_dir,
        where=str(root),
    )
    loaded = LoadedModel(root, meta_graph, session)
    # Ops the policy refuses fail loading when restoring or initialising runs them (compile_plan
    # refuses them there); elsewhere, see _add_signatures.
    restore_variables(session, meta_graph, root)
    run_init_op(session, meta_graph, root)
    _add_signatures(loaded, meta_graph, refused, str(root))
    if len(meta_graph.object_graph_def.nodes):
        _build_object_graph(loaded, meta_graph, root)
    return loaded


def _add_signatures(
    loaded: LoadedModel, meta_graph: meta_graph_pb2.MetaGraphDef, refused: dict[str, list[str]], where: str
) -> None:
    """Compile every signature. One that reaches an op without a kernel, or an op the policy
    refuses, fails alone (calling it raises that error) and the others work. Loading itself fails
    when no signature works, or when a refused op is reached by no signature (a graph with a
    file op is refused unless the op sits behind the signatures that use it: a model whose
    `train` signature writes summaries still serves)."""
    session = loaded.session
    failures: dict[str, UnsupportedOpError | RefusedOpError] = {}
    for key, signature_def in sorted(meta_graph.signature_def.items()):
        if key == INIT_OP_SIGNATURE_KEY:
            continue
        try:
            loaded.signatures[key] = SignatureFunction(session, key, signature_def)
        except (UnsupportedOpError, RefusedOpError) as exc:
            failures[key] = exc
            loaded.signatures[key] = SignatureFunction.failed(session, key, signature_def, exc)
    reached = _merge(e.refused for e in failures.values() if isinstance(e, RefusedOpError))
    unreached = {op: [n for n in nodes if n not in reached.get(op, ())] for op, nodes in refused.items()}
    unreached = {op: nodes for op, nodes in unreached.items() if nodes}
    if unreached:
        raise RefusedOpError(unreached, where)
    if failures and len(failures) == len(loaded.signatures):
        if reached:
            raise RefusedOpError(reached, where)
        raise UnsupportedOpError(
            _merge(e.missing for e in failures.values() if isinstance(e, UnsupportedOpError)), where
        )


def _merge(tables: Iterable[Mapping[str, list[str]]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for table in tables:
        for op, nodes in table.items():
            known = merged.setdefault(op, [])
            known.extend(n for n in nodes if n not in known)
    return merged


def variables_prefix(root: Path) -> Path:
    return root / saved_model_format.VARIABLES_DIR / saved_model_format.VARIABLES_PREFIX


# TF Serving session bundles (export.meta + export*) keep their checkpoint in the model
# directory itself; savedmodel.format.session_bundle up-converts them.
def checkpoint_dir(root: Path) -> Path:
    """Where the model's own checkpoint ops may read and write."""
    if session_bundle.is_session_bundle(root):
        return root
    return root / saved_model_format.VARIABLES_DIR


def restore_prefix(root: Path) -> Path | None:
    """What the restore op's filename tensor is fed, or None when nothing was saved."""
    if session_bundle.is_session_bundle(root):
        return session_bundle.variables_filename(root) if session_bundle.has_variables(root) else None
    prefix = variables_prefix(root)
    return prefix if Path(f"{prefix}.index").exists() else None


def restore_variables(session: GraphSession, meta_graph: meta_graph_pb2.MetaGraphDef, root: Path) -> None:
    """Run the saver's restore op with the variables prefix fed (no-op when nothing was saved)."""
    saver = meta_graph.saver_def
    prefix = restore_prefix(root)
    if not saver.restore_op_name or prefix is None:
        return
    filename_tensor = saver.filename_tensor_name
    feeds = {filename_tensor: _string_tensor(str(prefix))} if filename_tensor else {}
    session.run([], feeds, targets=[saver.restore_op_name.split(":")[0]])


def asset_feeds(meta_graph: meta_graph_pb2.MetaGraphDef, root: Path) -> dict[str, np.ndarray]:
    """Asset tensor name -> path inside the model's assets dir (asset_file_def, else the TF1
    `saved_model_assets` collection)."""
    feeds = {}
    assets_dir = root / saved_model_format.ASSETS_DIR
    assets = list(meta_graph.asset_file_def)
    if not assets and ASSETS_COLLECTION in meta_graph.collection_def:
        for item in meta_graph.collection_def[ASSETS_COLLECTION].any_list.value:
            asset = meta_graph_pb2.AssetFileDef()
            if not item.type_url.endswith(".AssetFileDef"):
                raise FormatError(
                    f"{root}: collection {ASSETS_COLLECTION!r} holds a {item.type_url}, not an AssetFileDef"
                )
            asset.ParseFromString(item.value)
            assets.append(asset)
    for asset in assets:
        path = resolve_inside(assets_dir, asset.filename, "asset file")
        feeds[asset.tensor_info.name] = _string_tensor(str(path))
    return feeds


def init_op_name(meta_graph: meta_graph_pb2.MetaGraphDef) -> str | None:
    """TF's order: the init-op signature, else the main_op collection, else legacy_init_op."""
    signature = meta_graph.signature_def.get(INIT_OP_SIGNATURE_KEY)
    if signature is not None and INIT_OP_SIGNATURE_KEY in signature.outputs:
        return signature.outputs[INIT_OP_SIGNATURE_KEY].name.split(":")[0]
    for collection in (MAIN_OP_COLLECTION, LEGACY_INIT_OP_COLLECTION):
        if collection in meta_graph.collection_def:
            values = meta_graph.collection_def[collection].node_list.value
            if len(values) > 1:
                raise FormatError(f"collection {collection!r} holds {len(values)} ops; expected one")
            if values:
                return values[0].split(":")[0]
    return None


def run_init_op(session: GraphSession, meta_graph: meta_graph_pb2.MetaGraphDef, root: Path) -> None:
    name = init_op_name(meta_graph)
    if name is None:
        return
    feeds = {
        k: v
        for k, v in asset_feeds(meta_graph, root).items()
        if parse_tensor_name(k)[0] in session.graph.nodes
    }
    session.run([], feeds, targets=[name])


def _build_object_graph(loaded: LoadedModel, meta_graph: meta_graph_pb2.MetaGraphDef, root: Path) -> None:
    graph = meta_graph.object_graph_def
    session = loaded.session
    concrete_protos = graph.concrete_functions
    objects: list[Any] = []
    checkpoint_keys: dict[int, str] | None = None
    for node_id, node in enumerate(graph.nodes):
        kind = node.WhichOneof("kind")
        if kind == "user_object":
            objects.append(RestoredObject(node.user_object.identifier))
        elif kind == "variable":
            saved = node.variable
            handle = session.runtime.resources.get(("", saved.name))
            if not isinstance(handle, VariableResource):
                handle = VariableResource("", f"{saved.name}#object{node_id}")
            if handle.value is None:
                if checkpoint_keys is None:
                    checkpoint_keys = _checkpoint_keys(root)
                key = checkpoint_keys.get(node_id)
                if key is not None:
                    handle.value = _read_checkpoint(loaded, root, key)
            objects.append(RestoredVariable(handle, saved))
        elif kind == "function":
            concrete = [
                RestoredConcreteFunction(
                    loaded, name, concrete_protos[name], fullargspec=node.function.function_spec.fullargspec
                )
                for name in node.function.concrete_functions
                if name in concrete_protos
            ]
            objects.append(RestoredFunction(_local_name(graph, node_id), concrete))
        elif kind == "bare_concrete_function":
            bare = node.bare_concrete_function
            saved = concrete_protos.get(bare.concrete_function_name)
            if saved is None:
                raise FormatError(
                    f"{root}: object graph names unknown function {bare.concrete_function_name!r}"
                )
            objects.append(
                RestoredConcreteFunction(
                    loaded,
                    bare.concrete_function_name,
                    saved,
                    bare.argument_keywords,
                    bare.allowed_positional_arguments,
                    bare.function_spec.fullargspec,
                )
            )
        elif kind == "constant":
            op = node.constant.operation
            graph_node = session.graph.nodes.get(op)
            if graph_node is None or "value" not in graph_node.attr:
                raise FormatError(f"{root}: object graph constant names unknown node {op!r}")
            objects.append(tensor_format.to_numpy(graph_node.attr["value"].tensor))
        elif kind == "resource":
            objects.append(_RestoredResource(loaded))
        elif kind == "asset":
            index = node.asset.asset_file_def_index
            if not 0 <= index < len(meta_graph.asset_file_def):
                raise FormatError(
                    f"{root}: object graph asset names asset_file_def {index}, "
                    f"of {len(meta_graph.asset_file_def)}"
                )
            asset = meta_graph.asset_file_def[index]
            path = resolve_inside(root / saved_model_format.ASSETS_DIR, asset.filename, "asset file")
            objects.append(_string_tensor(str(path)))
        else:
            objects.append(RestoredObject(kind or ""))
    loaded._objects = objects
    for node_id, node in enumerate(graph.nodes):
        obj = objects[node_id]
        for child in node.children:
            if not 0 <= child.node_id < len(objects):
                raise FormatError(
                    f"{root}: object graph node {node_id} has child {child.local_name!r} "
                    f"naming node {child.node_id}, of {len(objects)}"
                )
            target = objects[child.node_id]
            if isinstance(obj, _RestoredResource):
                if child.local_name == "_create_resource":
                    function = target
                    if isinstance(function, RestoredFunction) and function.concrete_functions:
                        obj.creator = function.concrete_functions[0]
                continue
            if isinstance(obj, (RestoredObject,)):
                try:
                    setattr(obj, child.local_name, target)
                except (AttributeError, TypeError):
                    pass
    loaded._root = objects[0] if objects else None


def _local_name(graph: saved_object_graph_pb2.SavedObjectGraph, node_id: int) -> str:
    for node in graph.nodes:
        for child in node.children:
            if child.node_id == node_id:
                return child.local_name
    return f"function{node_id}"


def _checkpoint_keys(root: Path) -> dict[int, str]:
    """Object-graph node id -> checkpoint key of its VARIABLE_VALUE, from the checkpoint's object graph."""
    from savedmodel.format.bundle import BundleReader

    prefix = variables_prefix(root)
    if not Path(f"{prefix}.index").exists():
        return {}
    try:
        with BundleReader(prefix) as reader:
            if OBJECT_GRAPH_KEY not in reader:
                return {}
            data = reader.read(OBJECT_GRAPH_KEY).reshape(()).item()
    except SavedModelError:
        return {}
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(data)
    keys = {}
    for node_id, node in enumerate(graph.nodes):
        for attribute in node.attributes:
            if attribute.name == "VARIABLE_VALUE":
                keys[node_id] = attribute.checkpoint_key
    return keys


def _read_checkpoint(loaded: LoadedModel, root: Path, key: str) -> np.ndarray:
    from savedmodel.format.bundle import BundleReader

    with BundleReader(variables_prefix(root)) as reader:
        return reader.read(key)
