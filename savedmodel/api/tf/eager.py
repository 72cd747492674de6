"""Eager tensors (a NumPy value with TensorFlow's printing) and running one op eagerly
with the shared kernel registry."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.api.tf.dtypes import DType, as_dtype
from savedmodel.api.tf.graph import TensorShape
from savedmodel.errors import ExecutionError, SavedModelError, UnsupportedOpError
from savedmodel.graph.model import FunctionLibrary
from savedmodel.ops.registry import Attrs, NodeSpec
from savedmodel.policy import Policy, active_limits
from savedmodel.proto import attr_value_pb2
from savedmodel.runtime.context import CallContext, Runtime

# The runtime eager ops run in (no function library; resources shared by name, as in TF).
_eager_runtime: Runtime | None = None


def eager_context() -> CallContext:
    """A call context for one eager op: the eager runtime's, under the active limits."""
    global _eager_runtime
    limits = active_limits()
    runtime = _eager_runtime
    if runtime is None or runtime.limits is not limits:
        resources = runtime.resources if runtime is not None else None
        runtime = _eager_runtime = Runtime(FunctionLibrary(), Policy(limits=limits))
        if resources is not None:
            runtime.resources = resources
    return runtime.new_context()


def run_op(
    op_type: str, attrs: dict[str, attr_value_pb2.AttrValue], inputs: list[np.ndarray], name: str = ""
) -> Any:
    """Run one op on NumPy values with its registered kernel: its output (or list of outputs)."""
    from savedmodel.ops import registry

    where = name or op_type
    kernel = registry.lookup(op_type)
    if kernel is None:
        raise UnsupportedOpError({op_type: [where]})
    spec = NodeSpec(name=where, op=op_type, attrs=Attrs(attrs, where), num_inputs=len(inputs))
    try:
        return kernel.prepare(spec)(eager_context(), *inputs)
    except SavedModelError:
        raise
    except Exception as exc:  # a kernel rejecting its inputs, as TF's InvalidArgumentError
        raise ExecutionError(f"{type(exc).__name__}: {exc}", where, op_type) from exc


def numpy_text(value: np.ndarray, is_repr: bool) -> str:
    """How TensorFlow prints a value inside an EagerTensor's str/repr."""
    if value.ndim == 0:
        return repr(value.item()) if is_repr or value.dtype == object else str(value.item())
    return repr(value) if is_repr else str(value)


class EagerTensor:
    """A concrete tensor (TF2 eager execution)."""

    def __init__(self, value: Any, dtype: DType | None = None) -> None:
        if dtype is None:
            from savedmodel.api.tf.dtypes import infer_dtype

            dtype = infer_dtype(value)
        self.dtype = as_dtype(dtype)
        np_dtype = np.dtype(self.dtype.as_numpy_dtype)
        if np_dtype.kind == "O":
            arr = np.asarray(value, dtype=object)
            arr = (
                np.vectorize(lambda v: v.encode() if isinstance(v, str) else v, otypes=[object])(arr)
                if arr.size
                else arr
            )
            self._value = np.asarray(arr, dtype=object)
        else:
            self._value = np.asarray(value).astype(np_dtype, copy=False)

    def numpy(self) -> Any:
        v = self._value
        return v[()] if v.ndim == 0 and v.dtype != object else (v.item() if v.ndim == 0 else v)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._value if dtype is None else self._value.astype(dtype)

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._value.shape)

    def get_shape(self) -> TensorShape:
        return self.shape

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def device(self) -> str:
        return "/job:localhost/replica:0/task:0/device:CPU:0"

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return len(self._value)

    def __iter__(self):  # noqa: ANN204
        for item in self._value:
            yield EagerTensor(item, self.dtype)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __float__(self) -> float:
        return float(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __index__(self) -> int:
        return int(self._value)

    def __hash__(self) -> int:
        return id(self)

    def __getitem__(self, key: Any) -> EagerTensor:
        return EagerTensor(self._value[key], self.dtype)

    def __repr__(self) -> str:
        shape = tuple(self._value.shape)
        text = numpy_text(self._value, True)
        if "\n" in text:
            text = "\n" + text
        return f"<tf.Tensor: shape={shape}, dtype={self.dtype.name}, numpy={text}>"

    def __str__(self) -> str:
        shape = tuple(self._value.shape)
        text = numpy_text(self._value, False)
        if "\n" in text:
            text = "\n" + text
        return f"tf.Tensor({text}, shape={shape}, dtype={self.dtype.name})"
