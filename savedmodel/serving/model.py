"""The one place the server touches a model: `Servable`, a loaded SavedModel version.

The HTTP layer only sees `Servable.signature_defs` (SignatureDef protos read
straight from saved_model.pb, used for metadata and input dtypes) and
`Servable.run(signature_key, inputs)`. Tests substitute a fake loader that returns
Servables backed by plain Python functions.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.errors import (
    DeadlineExceededError,
    ExecutionError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    PolicyError,
    SavedModelError,
    UnsupportedOpError,
)
from savedmodel.format.saved_model import find_meta_graph, read_saved_model
from savedmodel.policy import Limits
from savedmodel.proto import meta_graph_pb2
from savedmodel.serving.errors import ServingError

SERVE_TAGS = ("serve",)
DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

Runner = Callable[[str, Mapping[str, np.ndarray]], Mapping[str, Any]]


def error_from_exception(exc: BaseException) -> ServingError:
    """Map an error raised while running a model to a TF status code."""
    if isinstance(exc, ServingError):
        return exc
    if isinstance(exc, DeadlineExceededError):
        return ServingError("DEADLINE_EXCEEDED", f"Deadline Exceeded: {exc}")
    if isinstance(exc, LimitExceededError):
        return ServingError("RESOURCE_EXHAUSTED", str(exc))
    if isinstance(exc, PolicyError):
        return ServingError("PERMISSION_DENIED", str(exc))
    if isinstance(exc, UnsupportedOpError):
        return ServingError("UNIMPLEMENTED", str(exc))
    if isinstance(exc, (InvalidInputError, ExecutionError, NotFoundError)):
        return ServingError("INVALID_ARGUMENT", str(exc))
    if isinstance(exc, SavedModelError):
        return ServingError("INTERNAL", str(exc))
    if isinstance(exc, MemoryError):
        return ServingError("RESOURCE_EXHAUSTED", "out of memory while running the model")
    return ServingError("INTERNAL", f"internal error: {type(exc).__name__}: {exc}")


class Servable:
    """One loaded version of a model."""

    def __init__(
        self,
        path: Path,
        signature_defs: Mapping[str, meta_graph_pb2.SignatureDef],
        runner: Runner,
        close: Callable[[], None] | None = None,
        thread_safe: bool = True,
    ) -> None:
        self.path = Path(path)
        self.signature_defs = dict(signature_defs)
        self._runner = runner
        self._close = close
        self._lock = None if thread_safe else threading.Lock()

    def signature(self, key: str) -> meta_graph_pb2.SignatureDef:
        return self.signature_defs[key]

    def input_dtypes(self, key: str) -> dict[str, int]:
        return {name: info.dtype for name, info in self.signature_defs[key].inputs.items()}

    def run(self, signature_key: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a signature; every failure becomes a ServingError."""
        try:
            if self._lock is None:
                outputs = self._runner(signature_key, inputs)
            else:
                with self._lock:
                    outputs = self._runner(signature_key, inputs)
            return {name: np.asarray(value) for name, value in outputs.items()}
        except Exception as exc:  # noqa: BLE001 - the model boundary: nothing escapes untyped
            raise error_from_exception(exc) from None

    def close(self) -> None:
        if self._close is not None:
            self._close()


def accept_any_feed_shape(signatures: Mapping[str, Any]) -> None:
    """Let each signature take inputs of any shape (dtypes are still checked, by the signature-call
    rule of savedmodel.graph.feed_values, once json_tensor or the gRPC TensorProto decoding made
    arrays of the request).

    TF Serving feeds a session, which does not check a feed against the shape recorded in
    the SignatureDef: its REST handler test sends [[1,2],[3,4]] to `x: [-1,1]` of
    half_plus_two and gets [[2.5,3],[3.5,4]]. Kernels still reject shapes they cannot use."""
    for function in signatures.values():
        specs = getattr(function, "input_specs", None)
        if not isinstance(specs, dict):
            continue
        relaxed = {
            key: dataclasses.replace(spec, shape=None) if dataclasses.is_dataclass(spec) else spec
            for key, spec in specs.items()
        }
        function.input_specs = relaxed
        if isinstance(getattr(function, "inputs", None), list):
            function.inputs = list(relaxed.values())


def read_signature_defs(
    path: Path, tags: tuple[str, ...] = SERVE_TAGS
) -> dict[str, meta_graph_pb2.SignatureDef]:
    meta_graph = find_meta_graph(read_saved_model(path), list(tags), source=str(path))
    return dict(meta_graph.signature_def)


def load_servable(
    path: Path,
    allow_file_access: bool = False,
    tags: tuple[str, ...] | list[str] = SERVE_TAGS,
    limits: Limits | None = None,
) -> Servable:
    """Load a SavedModel version with savedmodel's runtime (raises SavedModelError on failure).

    `limits` bound each call (the server passes its REST timeout as max_call_seconds, so a
    call that runs too long stops in its worker thread too)."""
    from savedmodel import policy as policy_module

    saved_model = read_saved_model(path)
    tags = tuple(tags)
    meta_graph = find_meta_graph(saved_model, list(tags), source=str(path))
    model_policy = policy_module.Policy(
        allow_file_access=allow_file_access, limits=limits or policy_module.DEFAULT_LIMITS
    )
    # savedmodel.load applies the policy: ops it refuses fail the load, or only the signatures
    # that reach them (those answer PERMISSION_DENIED).

    import savedmodel

    load = getattr(savedmodel, "load", None)
    if load is None:
        raise SavedModelError("this savedmodel build has no runtime (savedmodel.load is missing)")
    kwargs: dict[str, Any] = {"tags": list(tags)}
    try:
        parameters = inspect.signature(load).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "policy" in parameters:
        kwargs["policy"] = model_policy
    elif "allow_file_access" in parameters:
        kwargs["allow_file_access"] = allow_file_access
    loaded = load(str(path), **kwargs)
    signatures = loaded.signatures
    accept_any_feed_shape(signatures)

    def run(key: str, inputs: Mapping[str, np.ndarray]) -> Mapping[str, Any]:
        try:
            function = signatures[key]
        except KeyError:
            raise ServingError(
                "INVALID_ARGUMENT", f'Serving signature name: "{key}" not found in signature def'
            ) from None
        try:
            return function(**inputs)
        except UnsupportedOpError as exc:
            # A signature needing an op without a kernel: TensorFlow reports a missing kernel as
            # INVALID_ARGUMENT ("No OpKernel was registered to support Op ..."); the model's
            # other signatures keep working.
            raise ServingError("INVALID_ARGUMENT", f"No OpKernel was registered: {exc}") from None

    return Servable(Path(path), dict(meta_graph.signature_def), run)
