"""TensorList (TF2 variant lists), TensorArrayV3 and StackV2 (TF1 resources), Optional.

A TensorList is an immutable Python object: every op that "modifies" one returns
a new list sharing the element arrays. A TensorArray (TF1) is a mutable object
behind a handle; the float `flow` outputs only order the ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.format import dtypes
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.policy import check_tensor_bytes, limits_of

_FLOW = np.asarray(0.0, dtype=np.float32)


def _element_shape(value: Any) -> tuple[int, ...] | None:
    """An element_shape input: -1 (unknown rank) or a vector with -1 for unknown dims."""
    shape = np.asarray(value)
    if shape.ndim == 0:
        return None if int(shape) == -1 else (int(shape),)
    return tuple(int(d) for d in shape.reshape(-1))


def _fully_defined(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and all(d >= 0 for d in shape)


def _merge_shapes(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if a is None:
        return b
    if b is None or len(a) != len(b):
        return a
    return tuple(x if x >= 0 else y for x, y in zip(a, b, strict=True))


class TensorList:
    """An immutable list of tensors (a DT_VARIANT TensorList)."""

    __slots__ = ("items", "dtype", "element_shape")

    def __init__(self, items: list[Any], dtype: np.dtype, element_shape: tuple[int, ...] | None) -> None:
        self.items = items
        self.dtype = dtype
        self.element_shape = element_shape

    def replace(self, items: list[Any]) -> TensorList:
        return TensorList(items, self.dtype, self.element_shape)

    def filled(self, shape_hint: tuple[int, ...] | None = None) -> list[np.ndarray]:
        """Items with unset entries replaced by zeros of the (inferred) element shape."""
        if all(item is not None for item in self.items):
            return self.items
        shape = _merge_shapes(shape_hint, self.element_shape)
        known = next((item for item in self.items if item is not None), None)
        if known is not None:
            shape = known.shape
        if not _fully_defined(shape):
            raise ExecutionError(
                "Trying to read an uninitialized TensorList element whose shape is not fully defined"
            )
        return [np.zeros(shape, self.dtype) if item is None else item for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"<TensorList {self.dtype} x{len(self.items)}>"


def _as_list(handle: Any, op: str) -> TensorList:
    if isinstance(handle, np.ndarray) and handle.dtype == object and handle.ndim == 0:
        handle = handle.item()
    if not isinstance(handle, TensorList):
        raise ExecutionError(f"{op} expects a TensorList, got {type(handle).__name__}")
    return handle


def _dtype(node: NodeSpec, name: str = "element_dtype") -> np.dtype:
    return dtypes.as_numpy_dtype(node.attrs.dtype_enum(name))


def _index(value: Any, size: int, op: str) -> int:
    index = int(value)
    if index < 0 or index >= size:
        raise ExecutionError(f"{op}: index {index} out of range for a list of {size} elements")
    return index


def _stack(items: Sequence[np.ndarray], dtype: np.dtype, shape: tuple[int, ...] | None) -> np.ndarray:
    if not items:
        if not _fully_defined(shape):
            raise ExecutionError("cannot stack an empty TensorList whose element shape is not fully defined")
        return np.zeros((0, *shape), dtype)
    first = items[0].shape
    for item in items:
        if item.shape != first:
            raise ExecutionError(
                f"TensorList elements have different shapes: {list(first)} and {list(item.shape)}"
            )
    return np.stack(items).astype(dtype, copy=False)


@kernel_factory("TensorListReserve", family="tensor_list", doc="a list of num_elements unset elements")
def _reserve(node: NodeSpec) -> Any:
    dtype = _dtype(node)

    def run(ctx: Any, element_shape: Any, num_elements: Any) -> TensorList:
        count = int(num_elements)
        if count < 0:
            raise ExecutionError(f"TensorListReserve: num_elements must be >= 0, got {count}")
        check_tensor_bytes([count], 8, "TensorListReserve", limits_of(ctx))
        return TensorList([None] * count, dtype, _element_shape(element_shape))

    return run


@kernel_factory("EmptyTensorList", family="tensor_list", doc="an empty list")
def _empty(node: NodeSpec) -> Any:
    dtype = _dtype(node)
    return lambda ctx, element_shape, max_num_elements: TensorList([], dtype, _element_shape(element_shape))


@kernel_factory("TensorListFromTensor", family="tensor_list", doc="a list of the tensor's rows")
def _from_tensor(node: NodeSpec) -> Any:
    def run(ctx: Any, tensor: Any, element_shape: Any) -> TensorList:
        tensor = np.asarray(tensor)
        if tensor.ndim == 0:
            raise ExecutionError("TensorListFromTensor needs a tensor of rank >= 1")
        return TensorList(list(tensor), tensor.dtype, tensor.shape[1:])

    return run


@kernel_factory("TensorListSetItem", family="tensor_list", doc="sets element index")
def _set_item(node: NodeSpec) -> Any:
    resize = bool(node.attrs.get("resize_if_index_out_of_bounds", False))

    def run(ctx: Any, handle: Any, index: Any, item: Any) -> TensorList:
        lst = _as_list(handle, "TensorListSetItem")
        items = list(lst.items)
        i = int(index)
        if resize and i >= len(items):
            items.extend([None] * (i + 1 - len(items)))
        i = _index(i, len(items), "TensorListSetItem")
        items[i] = np.asarray(item)
        return lst.replace(items)

    return run


@kernel_factory("TensorListGetItem", family="tensor_list", doc="element index")
def _get_item(node: NodeSpec) -> Any:
    def run(ctx: Any, handle: Any, index: Any, element_shape: Any) -> np.ndarray:
        lst = _as_list(handle, "TensorListGetItem")
        i = _index(index, len(lst), "TensorListGetItem")
        item = lst.items[i]
        if item is None:
            shape = _merge_shapes(_element_shape(element_shape), lst.element_shape)
            return lst.filled(shape)[i]
        return item

    return run


@kernel("TensorListPushBack", family="tensor_list", doc="appends an element")
def _push_back(ctx: Any, handle: Any, item: Any) -> TensorList:
    lst = _as_list(handle, "TensorListPushBack")
    return lst.replace([*lst.items, np.asarray(item)])


@kernel_factory("TensorListPopBack", family="tensor_list", doc="removes the last element")
def _pop_back(node: NodeSpec) -> Any:
    def run(ctx: Any, handle: Any, element_shape: Any) -> list[Any]:
        lst = _as_list(handle, "TensorListPopBack")
        if not lst.items:
            raise ExecutionError("Trying to pop from an empty list.")
        item = lst.items[-1]
        if item is None:
            item = lst.filled(_element_shape(element_shape))[-1]
        return [lst.replace(lst.items[:-1]), item]

    return run


@kernel("TensorListLength", family="tensor_list", doc="number of elements")
def _length(ctx: Any, handle: Any) -> np.ndarray:
    return np.asarray(len(_as_list(handle, "TensorListLength")), dtype=np.int32)


@kernel_factory("TensorListElementShape", family="tensor_list", doc="the list's element shape")
def _list_element_shape(node: NodeSpec) -> Any:
    shape_type = dtypes.as_numpy_dtype(node.attrs.dtype_enum("shape_type", 3))

    def run(ctx: Any, handle: Any) -> np.ndarray:
        shape = _as_list(handle, "TensorListElementShape").element_shape
        if shape is None:
            return np.asarray(-1, dtype=shape_type)
        return np.asarray(shape, dtype=shape_type)

    return run


@kernel_factory("TensorListStack", family="tensor_list", doc="stacks all elements")
def _list_stack(node: NodeSpec) -> Any:
    dtype = _dtype(node)

    def run(ctx: Any, handle: Any, element_shape: Any) -> np.ndarray:
        lst = _as_list(handle, "TensorListStack")
        shape = _merge_shapes(_element_shape(element_shape), lst.element_shape)
        return _stack(lst.filled(shape), dtype, shape)

    return run


@kernel_factory("TensorListGather", family="tensor_list", doc="stacks the elements at indices")
def _list_gather(node: NodeSpec) -> Any:
    dtype = _dtype(node)

    def run(ctx: Any, handle: Any, indices: Any, element_shape: Any) -> np.ndarray:
        lst = _as_list(handle, "TensorListGather")
        shape = _merge_shapes(_element_shape(element_shape), lst.element_shape)
        items = lst.filled(shape)
        picked = [items[_index(i, len(items), "TensorListGather")] for i in np.asarray(indices).reshape(-1)]
        return _stack(picked, dtype, shape)

    return run


@kernel_factory("TensorListScatterV2", family="tensor_list", doc="a list from rows of a tensor at indices")
def _list_scatter(node: NodeSpec) -> Any:
    def run(ctx: Any, tensor: Any, indices: Any, element_shape: Any, num_elements: Any) -> TensorList:
        tensor = np.asarray(tensor)
        idx = np.asarray(indices).reshape(-1)
        size = max(int(num_elements), int(idx.max()) + 1 if idx.size else 0)
        items: list[Any] = [None] * size
        for row, i in zip(tensor, idx, strict=True):
            items[int(i)] = row
        # TF keeps the element_shape input as the list's shape (not the rows' shape).
        return TensorList(items, tensor.dtype, _element_shape(element_shape))

    return run


@kernel("TensorListScatterIntoExistingList", family="tensor_list", doc="sets rows of a tensor at indices")
def _list_scatter_existing(ctx: Any, handle: Any, tensor: Any, indices: Any) -> TensorList:
    lst = _as_list(handle, "TensorListScatterIntoExistingList")
    items = list(lst.items)
    for row, i in zip(np.asarray(tensor), np.asarray(indices).reshape(-1), strict=True):
        i = int(i)
        if i >= len(items):
            items.extend([None] * (i + 1 - len(items)))
        items[i] = row
    return lst.replace(items)


@kernel("TensorListResize", family="tensor_list", doc="truncates or pads with unset elements")
def _list_resize(ctx: Any, handle: Any, size: Any) -> TensorList:
    lst = _as_list(handle, "TensorListResize")
    n = int(size)
    items = lst.items[:n] + [None] * max(0, n - len(lst.items))
    return lst.replace(items)


@kernel_factory("TensorListConcatV2", family="tensor_list", doc="concatenates elements along axis 0")
def _list_concat(node: NodeSpec) -> Any:
    dtype = _dtype(node)

    def run(ctx: Any, handle: Any, element_shape: Any, leading_dims: Any) -> list[np.ndarray]:
        lst = _as_list(handle, "TensorListConcatV2")
        items = lst.filled(_element_shape(element_shape))
        lengths = np.asarray([item.shape[0] for item in items], dtype=np.int64)
        if not items:
            shape = _element_shape(element_shape)
            rest = shape[1:] if shape else ()
            return [np.zeros((0, *rest), dtype), lengths]
        return [np.concatenate(items).astype(dtype, copy=False), lengths]

    return run


@kernel("TensorListSplit", family="tensor_list", doc="a list of consecutive slices of a tensor")
def _list_split(ctx: Any, tensor: Any, element_shape: Any, lengths: Any) -> TensorList:
    tensor = np.asarray(tensor)
    bounds = np.cumsum(np.asarray(lengths, dtype=np.int64))[:-1]
    return TensorList(list(np.split(tensor, bounds)), tensor.dtype, _element_shape(element_shape))


# ------------------------------------------------------------------ TensorArrayV3 (TF1)


class TensorArray:
    """A TF1 TensorArray: a mutable, sized array of tensors behind a handle."""

    def __init__(
        self, size: int, dtype: np.dtype, dynamic: bool, element_shape: tuple[int, ...] | None, name: str
    ) -> None:
        self.items: list[Any] = [None] * size
        self.dtype = dtype
        self.dynamic = dynamic
        self.element_shape = element_shape
        self.name = name
        # A gradient array (TensorArrayGradV3) adds repeated writes to one index; it is made once
        # per source and array.
        self.aggregate = False
        self.grads: dict[str, TensorArray] = {}

    def write(self, index: int, value: np.ndarray) -> None:
        if index < 0:
            raise ExecutionError(f"TensorArray {self.name}: negative index {index}")
        if index >= len(self.items):
            if not self.dynamic:
                raise ExecutionError(
                    f"TensorArray {self.name}: index {index} out of range (size {len(self.items)})"
                )
            self.items.extend([None] * (index + 1 - len(self.items)))
        if self.aggregate and self.items[index] is not None:
            value = self.items[index] + value
        self.items[index] = value

    def gradient(self, source: str) -> TensorArray:
        """The gradient array for `source`: as many elements, shaped like this array's."""
        grad = self.grads.get(source)
        if grad is None:
            shape = self.element_shape
            if not _fully_defined(shape):
                shape = next((np.shape(item) for item in self.items if item is not None), shape)
            grad = TensorArray(len(self.items), self.dtype, self.dynamic, shape, f"{self.name}@{source}")
            grad.aggregate = True
            self.grads[source] = grad
        return grad

    def read(self, index: int) -> np.ndarray:
        if index < 0 or index >= len(self.items):
            raise ExecutionError(
                f"TensorArray {self.name}: index {index} out of range (size {len(self.items)})"
            )
        item = self.items[index]
        if item is None:
            if _fully_defined(self.element_shape):
                return np.zeros(self.element_shape, self.dtype)
            raise ExecutionError(
                f"TensorArray {self.name}: could not read from index {index}: it was never written"
            )
        return item

    def __repr__(self) -> str:
        return f"<TensorArray {self.name} {self.dtype} x{len(self.items)}>"


def _array(handle: Any, op: str) -> TensorArray:
    if not isinstance(handle, TensorArray):
        raise ExecutionError(f"{op} expects a TensorArray handle, got {type(handle).__name__}")
    return handle


def _attr_shape(node: NodeSpec, name: str) -> tuple[int, ...] | None:
    shape = node.attrs.get(name)
    if shape is None:
        return None
    return tuple(-1 if d is None else int(d) for d in shape)


@kernel_factory("TensorArrayV3", family="tensor_list", side_effects=True, doc="a new TensorArray")
def _tensor_array(node: NodeSpec) -> Any:
    dtype = _dtype(node, "dtype")
    dynamic = bool(node.attrs.get("dynamic_size", False))
    element_shape = _attr_shape(node, "element_shape")
    name = (node.attrs.get("tensor_array_name", b"") or b"").decode() or node.name

    def run(ctx: Any, size: Any) -> list[Any]:
        return [TensorArray(int(size), dtype, dynamic, element_shape, name), _FLOW]

    return run


@kernel_factory(
    "TensorArrayGradV3",
    family="tensor_list",
    side_effects=True,
    doc="the array's gradient array (one per source)",
)
def _ta_grad(node: NodeSpec) -> Any:
    source = (node.attrs.get("source", b"") or b"").decode()

    def run(ctx: Any, handle: Any, flow: Any) -> list[Any]:
        return [_array(handle, "TensorArrayGradV3").gradient(source), _FLOW]

    return run


@kernel("TensorArrayWriteV3", family="tensor_list", side_effects=True, doc="writes one element")
def _ta_write(ctx: Any, handle: Any, index: Any, value: Any, flow: Any) -> np.ndarray:
    _array(handle, "TensorArrayWriteV3").write(int(index), np.asarray(value))
    return _FLOW


@kernel("TensorArrayReadV3", family="tensor_list", doc="reads one element")
def _ta_read(ctx: Any, handle: Any, index: Any, flow: Any) -> np.ndarray:
    return _array(handle, "TensorArrayReadV3").read(int(index))


@kernel_factory("TensorArrayGatherV3", family="tensor_list", doc="stacks the elements at indices")
def _ta_gather(node: NodeSpec) -> Any:
    dtype = _dtype(node, "dtype")
    element_shape = _attr_shape(node, "element_shape")

    def run(ctx: Any, handle: Any, indices: Any, flow: Any) -> np.ndarray:
        array = _array(handle, "TensorArrayGatherV3")
        items = [array.read(int(i)) for i in np.asarray(indices).reshape(-1)]
        return _stack(items, dtype, _merge_shapes(element_shape, array.element_shape))

    return run


@kernel(
    "TensorArrayScatterV3", family="tensor_list", side_effects=True, doc="writes rows of a tensor at indices"
)
def _ta_scatter(ctx: Any, handle: Any, indices: Any, value: Any, flow: Any) -> np.ndarray:
    array = _array(handle, "TensorArrayScatterV3")
    value = np.asarray(value)
    idx = np.asarray(indices).reshape(-1)
    if len(idx) != (value.shape[0] if value.ndim else 0):
        raise ExecutionError(f"TensorArrayScatterV3: {len(idx)} indices for {value.shape[0]} rows")
    for row, i in zip(value, idx, strict=True):
        array.write(int(i), row)
    return _FLOW


@kernel("TensorArraySizeV3", family="tensor_list", doc="number of elements")
def _ta_size(ctx: Any, handle: Any, flow: Any) -> np.ndarray:
    return np.asarray(len(_array(handle, "TensorArraySizeV3").items), dtype=np.int32)


@kernel_factory("TensorArrayConcatV3", family="tensor_list", doc="concatenates the elements along axis 0")
def _ta_concat(node: NodeSpec) -> Any:
    dtype = _dtype(node, "dtype")

    def run(ctx: Any, handle: Any, flow: Any) -> list[np.ndarray]:
        array = _array(handle, "TensorArrayConcatV3")
        items = [array.read(i) for i in range(len(array.items))]
        lengths = np.asarray([item.shape[0] for item in items], dtype=np.int64)
        if not items:
            rest = _attr_shape(node, "element_shape_except0") or ()
            return [np.zeros((0, *[max(d, 0) for d in rest]), dtype), lengths]
        return [np.concatenate(items).astype(dtype, copy=False), lengths]

    return run


@kernel(
    "TensorArraySplitV3", family="tensor_list", side_effects=True, doc="writes consecutive slices of a tensor"
)
def _ta_split(ctx: Any, handle: Any, value: Any, lengths: Any, flow: Any) -> np.ndarray:
    array = _array(handle, "TensorArraySplitV3")
    value = np.asarray(value)
    bounds = np.cumsum(np.asarray(lengths, dtype=np.int64))[:-1]
    for i, part in enumerate(np.split(value, bounds)):
        array.write(i, part)
    return _FLOW


@kernel("TensorArrayCloseV3", family="tensor_list", side_effects=True, doc="releases the array")
def _ta_close(ctx: Any, handle: Any) -> None:
    return None


# ------------------------------------------------------------------ StackV2 (TF1 while-loop gradients)
# tf.gradients of a TF1 while loop pushes each iteration's intermediates on a stack in the forward
# loop and pops them, last first, in the gradient loop.


class Stack:
    """A TF1 stack of tensors behind a handle (StackV2)."""

    def __init__(self, max_size: int, dtype: np.dtype, name: str) -> None:
        self.items: list[np.ndarray] = []
        self.max_size = max_size
        self.dtype = dtype
        self.name = name


def _stack_resource(handle: Any, op: str) -> Stack:
    if not isinstance(handle, Stack):
        raise ExecutionError(f"{op} expects a stack handle, got {type(handle).__name__}")
    return handle


@kernel_factory("StackV2", family="tensor_list", side_effects=True, doc="a new stack")
def _stack_v2(node: NodeSpec) -> Any:
    dtype = node.attrs.dtype("elem_type")
    name = (node.attrs.get("stack_name", b"") or b"").decode() or node.name

    def run(ctx: Any, max_size: Any) -> Stack:
        return Stack(int(np.asarray(max_size).reshape(-1)[0]), dtype, name)

    return run


@kernel("StackPushV2", family="tensor_list", side_effects=True, doc="pushes a tensor; outputs it")
def _stack_push(ctx: Any, handle: Any, elem: Any) -> Any:
    stack = _stack_resource(handle, "StackPushV2")
    if 0 <= stack.max_size <= len(stack.items):
        raise ExecutionError(f"Stack[{stack.name}] overflowed its max_size ({stack.max_size})")
    stack.items.append(elem)
    return elem


@kernel("StackPopV2", family="tensor_list", side_effects=True, doc="pops the last pushed tensor")
def _stack_pop(ctx: Any, handle: Any) -> Any:
    stack = _stack_resource(handle, "StackPopV2")
    if not stack.items:
        raise ExecutionError("Calling Pop() when the stack is empty.")
    return stack.items.pop()


# ------------------------------------------------------------------ Optional (TF2 cond gradients)


class Optional:
    """An optional tuple of tensors (a DT_VARIANT value): cond_v2 gradients keep intermediates in them."""

    def __init__(self, components: tuple[Any, ...] | None) -> None:
        self.components = components


@kernel("OptionalFromValue", family="tensor_list", doc="an optional holding its inputs")
def _optional_from_value(ctx: Any, *components: Any) -> Optional:
    return Optional(tuple(components))


@kernel("OptionalNone", family="tensor_list", doc="an empty optional")
def _optional_none(ctx: Any) -> Optional:
    return Optional(None)


def _optional(value: Any, op: str) -> Optional:
    if not isinstance(value, Optional):
        raise ExecutionError(f"{op} expects an optional, got {type(value).__name__}")
    return value


@kernel("OptionalGetValue", family="tensor_list", doc="the optional's tensors")
def _optional_get_value(ctx: Any, optional: Any) -> list[Any]:
    components = _optional(optional, "OptionalGetValue").components
    if components is None:
        raise ExecutionError("The optional variant does not have a value.")
    return list(components)
