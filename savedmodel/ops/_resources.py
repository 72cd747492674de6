"""Resource values kernels create and the runtime holds: resource variables, TF1 reference buffers.

They live with the kernels (below the runtime) so that kernels need not import the executor.

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


class _Storage:
    """The buffer behind a TF1 reference variable: what aliasing reads share."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


class RefBuffer:
    """The state of a TF1 reference variable (VariableV2): consumers read `.read()`, Assign writes.

    (The user-facing variable object is api/tf/variables.py's RefVariable.)

    As in TensorFlow, an update that keeps the number of elements (Assign of the same size,
    AssignAdd, AssignSub, scatter and Apply* updates) writes into the variable's existing buffer,
    so a `RefAlias` taken earlier in the run (what `Variable/read`, an Identity, yields) sees it;
    an update of another size gives the variable a new buffer and earlier aliases keep the old.
    Arrays are never written in place: the buffer's array is replaced, so values handed out
    stay as they were.
    """

    def __init__(
        self, name: str, dtype: np.dtype | None = None, shape: tuple[int, ...] | None = None
    ) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self._storage: _Storage | None = None

    @property
    def value(self) -> np.ndarray | None:
        storage = self._storage
        return None if storage is None else storage.array

    @value.setter
    def value(self, array: np.ndarray | None) -> None:
        storage = self._storage
        if array is None:
            self._storage = None
        elif storage is not None and np.size(storage.array) == np.size(array):
            storage.array = array
        else:
            self._storage = _Storage(array)

    def read(self) -> np.ndarray:
        storage = self._storage
        if storage is None:
            raise ExecutionError(f"Attempting to use uninitialized value {self.name}")
        return storage.array

    def alias(self) -> RefAlias:
        """A read that shares the variable's buffer (TF's Identity of a ref input)."""
        array = self.read()
        assert self._storage is not None
        return RefAlias(self._storage, array.shape)

    def numpy(self) -> np.ndarray:
        return self.read()

    def __repr__(self) -> str:
        return f"<RefBuffer {self.name}>"


class RefAlias:
    """A tensor sharing a reference variable's buffer: its value is the buffer's when read."""

    __slots__ = ("storage", "shape")

    def __init__(self, storage: _Storage, shape: tuple[int, ...]) -> None:
        self.storage = storage
        self.shape = shape

    def read(self) -> np.ndarray:
        array = self.storage.array
        return array if array.shape == self.shape else array.reshape(self.shape)

    def __repr__(self) -> str:
        return f"<RefAlias {list(self.shape)}>"


def deref(value: Any) -> Any:
    """The value behind a TF1 reference or alias (anything else is returned as is)."""
    if isinstance(value, (RefBuffer, RefAlias)):
        return value.read()
    return value


def alias(value: Any) -> Any:
    """A reference as an alias of its current buffer (aliases and values are returned as is)."""
    if isinstance(value, RefBuffer):
        return value.alias()
    return value
