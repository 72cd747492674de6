"""Variables: resource variables (VarHandleOp & co.) and TF1 reference variables (VariableV2 & co.)."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.errors import ExecutionError
from savedmodel.format import dtypes
from savedmodel.ops._resources import RefBuffer, ResourceHandle, VariableResource
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory


def _handle_key(node: NodeSpec) -> tuple[str, str]:
    container = node.attrs.get("container", b"") or b""
    shared = node.attrs.get("shared_name", b"") or b""
    name = shared.decode() if shared else node.name
    return (container.decode(), name)


def _var_dtype(node: NodeSpec, attr: str) -> np.dtype | None:
    if attr not in node.attrs:
        return None
    return dtypes.as_numpy_dtype(dtypes.base_dtype(node.attrs.dtype_enum(attr)))


@kernel_factory(
    "VarHandleOp", family="resource", doc="a resource variable's handle (by container/shared_name)"
)
def _var_handle(node: NodeSpec) -> Any:
    key = _handle_key(node)
    dtype = _var_dtype(node, "dtype")
    shape = node.attrs.get("shape")

    def run(ctx: Any) -> VariableResource:
        return ctx.resources.get_or_create(key, lambda: VariableResource(key[0], key[1], dtype, shape))

    return run


def _variable(handle: Any, op: str) -> VariableResource:
    if not isinstance(handle, VariableResource):
        raise ExecutionError(f"{op} expects a variable handle, got {type(handle).__name__}")
    return handle


@kernel("ReadVariableOp", family="resource", doc="the variable's value")
def _read(ctx: Any, handle: Any) -> np.ndarray:
    return _variable(handle, "ReadVariableOp").read()


def _dims(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


@kernel_factory("AssignVariableOp", family="resource", side_effects=True, doc="sets the variable's value")
def _assign(node: NodeSpec) -> Any:
    # validate_shape (default false): a value of another shape replaces the variable's, as in TF.
    validate = bool(node.attrs.get("validate_shape", False))

    def run(ctx: Any, handle: Any, value: Any) -> None:
        var = _variable(handle, "AssignVariableOp")
        if validate and var.value is not None and var.value.shape != np.shape(value):
            raise ExecutionError(
                "Trying to assign to variable with tensor with wrong shape. "
                f"Expected {_dims(var.value.shape)} got {_dims(np.shape(value))}"
            )
        var.assign(value)

    return run


def _check_same_shape(
    var: VariableResource | RefBuffer, current: np.ndarray, delta: np.ndarray, op: str
) -> None:
    """AssignAdd/AssignSub(VariableOp) take an update of exactly the variable's shape (no broadcast)."""
    if current.shape == np.shape(delta):
        return
    if isinstance(var, RefBuffer):
        raise ExecutionError(
            f"Parameters and update must be the same size: variable {var.name!r} has shape "
            f"{_dims(current.shape)}, the update {_dims(np.shape(delta))}"
        )
    raise ExecutionError(
        f"Cannot update variable with shape {_dims(current.shape)} using a Tensor with shape "
        f"{_dims(np.shape(delta))}, shapes must be equal."
    )


@kernel("AssignAddVariableOp", family="resource", side_effects=True, doc="adds to the variable")
def _assign_add(ctx: Any, handle: Any, value: Any) -> None:
    var = _variable(handle, "AssignAddVariableOp")
    current = var.read()
    _check_same_shape(var, current, value, "AssignAddVariableOp")
    var.value = np.asarray(current + value).astype(current.dtype, copy=False)


@kernel("AssignSubVariableOp", family="resource", side_effects=True, doc="subtracts from the variable")
def _assign_sub(ctx: Any, handle: Any, value: Any) -> None:
    var = _variable(handle, "AssignSubVariableOp")
    current = var.read()
    _check_same_shape(var, current, value, "AssignSubVariableOp")
    var.value = np.asarray(current - value).astype(current.dtype, copy=False)


@kernel("VarIsInitializedOp", family="resource", doc="whether the variable holds a value")
def _is_initialized(ctx: Any, handle: Any) -> np.ndarray:
    return np.asarray(_variable(handle, "VarIsInitializedOp").value is not None)


@kernel_factory("VariableShape", family="resource", doc="the variable's shape")
def _variable_shape(node: NodeSpec) -> Any:
    out_type = node.attrs.dtype("out_type") if "out_type" in node.attrs else np.dtype(np.int32)

    def run(ctx: Any, handle: Any) -> np.ndarray:
        return np.asarray(_variable(handle, "VariableShape").read().shape, dtype=out_type)

    return run


@kernel_factory("ResourceGather", family="resource", doc="gathers rows of a variable")
def _resource_gather(node: NodeSpec) -> Any:
    batch_dims = int(node.attrs.get("batch_dims", 0) or 0)

    def run(ctx: Any, handle: Any, indices: Any) -> np.ndarray:
        params = _variable(handle, "ResourceGather").read()
        indices = np.asarray(indices)
        limit = params.shape[batch_dims] if params.ndim > batch_dims else 0
        if indices.size and (indices.min() < 0 or indices.max() >= limit):
            bad = indices[(indices < 0) | (indices >= limit)].reshape(-1)[0]
            raise ExecutionError(f"indices = {bad} is not in [0, {limit})")
        if batch_dims == 0:
            return np.take(params, indices, axis=0)
        out = [np.take(p, i, axis=0) for p, i in zip(params, indices, strict=True)]
        return np.stack(out)

    return run


@kernel_factory("DestroyResourceOp", family="resource", side_effects=True, doc="deletes a resource")
def _destroy(node: NodeSpec) -> Any:
    ignore = bool(node.attrs.get("ignore_lookup_error", True))

    def run(ctx: Any, handle: Any) -> None:
        if isinstance(handle, ResourceHandle):
            if ctx.resources.get(handle.key) is None and not ignore:
                raise ExecutionError(f"resource {handle.name!r} does not exist")
            ctx.resources.delete(handle.key)

    return run


# ------------------------------------------------------------------ TF1 reference variables


@kernel_factory("VariableV2", "Variable", "VariableV1", family="resource", doc="a TF1 reference variable")
def _variable_v2(node: NodeSpec) -> Any:
    container, name = _handle_key(node)
    dtype = _var_dtype(node, "dtype")
    shape = node.attrs.get("shape")
    key = (container, "ref:" + name)

    def run(ctx: Any) -> RefBuffer:
        return ctx.resources.get_or_create(key, lambda: RefBuffer(name, dtype, shape))

    return run


def _ref(ref: Any, op: str) -> RefBuffer:
    if not isinstance(ref, RefBuffer):
        raise ExecutionError(f"{op} needs a reference variable as its first input, got {type(ref).__name__}")
    return ref


@kernel_factory("Assign", family="resource", side_effects=True, doc="sets a reference variable")
def _ref_assign(node: NodeSpec) -> Any:
    validate = bool(node.attrs.get("validate_shape", True))

    def run(ctx: Any, ref: Any, value: Any) -> RefBuffer:
        var = _ref(ref, "Assign")
        value = np.asarray(value)
        if validate and var.value is not None and var.value.shape != value.shape:
            raise ExecutionError(
                f"Assign requires shapes of both tensors to match. lhs shape= "
                f"{_dims(var.value.shape)} rhs shape= {_dims(value.shape)}"
            )
        var.value = value
        return var  # TF's output is the reference itself (chains, RefNextIteration)

    return run


@kernel("AssignAdd", family="resource", side_effects=True, doc="adds to a reference variable")
def _ref_assign_add(ctx: Any, ref: Any, value: Any) -> RefBuffer:
    var = _ref(ref, "AssignAdd")
    current = var.read()
    _check_same_shape(var, current, value, "AssignAdd")
    var.value = np.asarray(current + value).astype(current.dtype, copy=False)
    return var


@kernel("AssignSub", family="resource", side_effects=True, doc="subtracts from a reference variable")
def _ref_assign_sub(ctx: Any, ref: Any, value: Any) -> RefBuffer:
    var = _ref(ref, "AssignSub")
    current = var.read()
    _check_same_shape(var, current, value, "AssignSub")
    var.value = np.asarray(current - value).astype(current.dtype, copy=False)
    return var


@kernel("IsVariableInitialized", family="resource", doc="whether a reference variable holds a value")
def _ref_initialized(ctx: Any, ref: Any) -> np.ndarray:
    return np.asarray(_ref(ref, "IsVariableInitialized").value is not None)


@kernel("RefIdentity", family="resource", doc="passes a reference through")
def _ref_identity(ctx: Any, ref: Any) -> Any:
    return ref


@kernel(
    "DisableCopyOnRead",
    family="resource",
    side_effects=True,
    doc="no-op (copy-on-read is a TF memory detail)",
)
def _disable_copy_on_read(ctx: Any, handle: Any) -> None:
    return None


# ------------------------------------------------------------------ scatter updates of variables
# Rows of a variable picked by `indices` (any shape) combined with `updates` (indices.shape +
# var.shape[1:], or a scalar). Repeated indices accumulate for add/sub/mul/div/min/max.

_SCATTER_UFUNCS = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Min": np.minimum,
    "Max": np.maximum,
}


def _scatter(op: str, kind: str, current: np.ndarray, indices: Any, updates: Any) -> np.ndarray:
    indices = np.asarray(indices)
    updates = np.asarray(updates)
    if current.ndim < 1:
        raise ExecutionError(f"{op}: the variable must be at least 1-D, got shape {list(current.shape)}")
    want = indices.shape + current.shape[1:]
    if updates.ndim and updates.shape != want:
        raise ExecutionError(
            f"{op}: updates must have shape indices.shape + var.shape[1:] = {list(want)}, "
            f"got {list(updates.shape)}"
        )
    flat = indices.reshape(-1)
    bad = (flat < 0) | (flat >= current.shape[0])
    if bad.any():
        k = int(np.argmax(bad))
        raise ExecutionError(f"{op}: indices[{k}] = {int(flat[k])} is not in [0, {current.shape[0]})")
    out = current.copy()
    values = np.broadcast_to(updates, want).astype(current.dtype, copy=False)
    if kind == "Update":
        out[indices] = values
    elif kind == "Div" and out.dtype.kind in "iu":  # C division: truncate toward zero
        for i, v in zip(flat, values.reshape(len(flat), -1), strict=True):
            if np.any(v == 0):
                raise ExecutionError(f"{op}: integer division by zero")
            out[i] = np.trunc(out[i] / v.reshape(out[i].shape)).astype(out.dtype)
    elif kind == "Div":
        with np.errstate(all="ignore"):
            np.divide.at(out, indices, values)
    else:
        with np.errstate(all="ignore"):
            _SCATTER_UFUNCS[kind].at(out, indices, values)
    return out


def _scatter_kernels(kind: str) -> None:
    ref_op, resource_op = "Scatter" + kind, "ResourceScatter" + kind

    @kernel(
        ref_op, family="resource", side_effects=True, doc=f"scatter-{kind.lower()} into a reference variable"
    )
    def ref_run(ctx: Any, ref: Any, indices: Any, updates: Any) -> RefBuffer:
        var = _ref(ref, ref_op)
        var.value = _scatter(ref_op, kind, var.read(), indices, updates)
        return var

    @kernel(
        resource_op,
        family="resource",
        side_effects=True,
        doc=f"scatter-{kind.lower()} into a resource variable",
    )
    def resource_run(ctx: Any, handle: Any, indices: Any, updates: Any) -> None:
        var = _variable(handle, resource_op)
        var.assign(_scatter(resource_op, kind, var.read(), indices, updates))


for _kind in ("Update", "Add", "Sub", "Mul", "Div", "Min", "Max"):
    _scatter_kernels(_kind)
