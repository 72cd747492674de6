"""Resource objects held by the runtime: resource variables, TF1 reference variables, tables.

A resource handle (what VarHandleOp, HashTableV2, ... output) is the Python object
that holds the resource's state, so reading a variable is one attribute access.
Handles are created once per (container, shared_name) in the runtime's
ResourceManager, which is what makes two VarHandleOp nodes with the same
shared_name refer to one variable, as in TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError


class ResourceHandle:
    """Base of resource handles: a named, typed container of state."""

    kind = "resource"

    def __init__(self, container: str, name: str) -> None:
        self.container = container
        self.name = name

    @property
    def key(self) -> tuple[str, str]:
        return (self.container, self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.container}/{self.name}>"


class VariableResource(ResourceHandle):
    """A resource variable (VarHandleOp). `value` is None until assigned."""

    kind = "variable"

    def __init__(
        self, container: str, name: str, dtype: np.dtype | None = None, shape: tuple[int, ...] | None = None
    ) -> None:
        super().__init__(container, name)
        self.dtype = dtype
        self.shape = shape
        self.value: np.ndarray | None = None

    def read(self) -> np.ndarray:
        value = self.value
        if value is None:
            raise ExecutionError(
                f"Could not find variable {self.name}. This could mean that the variable has been deleted "
                "or was never initialized (restore the checkpoint or run the initializer first)"
            )
        return value

    def assign(self, value: Any) -> None:
        value = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if self.dtype is not None and value.dtype != self.dtype:
            raise ExecutionError(
                f"trying to assign a {value.dtype} value to variable {self.name!r} of dtype {self.dtype}"
            )
        self.value = value

    def numpy(self) -> np.ndarray:
        return self.read()


class RefVariable:
    """A TF1 reference variable (VariableV2): consumers read `.read()`, Assign writes."""

    def __init__(
        self, name: str, dtype: np.dtype | None = None, shape: tuple[int, ...] | None = None
    ) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.value: np.ndarray | None = None

    def read(self) -> np.ndarray:
        if self.value is None:
            raise ExecutionError(f"Attempting to use uninitialized value {self.name}")
        return self.value

    def numpy(self) -> np.ndarray:
        return self.read()

    def __repr__(self) -> str:
        return f"<RefVariable {self.name}>"


def deref(value: Any) -> Any:
    """The value behind a TF1 reference (anything else is returned as is)."""
    if isinstance(value, RefVariable):
        return value.read()
    return value
