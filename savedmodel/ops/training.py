"""Optimizer update ops (TensorFlow's training ops), in reference and resource forms.

Each optimizer is one update rule: the current values of the variable and its slots (Adam's m
and v, Momentum's accumulator, ...) plus the hyperparameters and the gradient give the new
values. `ApplyX` takes TF1 reference variables, updates them in place and outputs the variable
(a reference); `ResourceApplyX` takes resource handles and outputs nothing. Half-precision
variables are updated in float32 and rounded. `use_locking` is accepted and ignored (the
runtime runs one op at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from savedmodel.ops._common import FLOATS, fail, shape_str, upcast
from savedmodel.ops._resources import RefBuffer, VariableResource, deref
from savedmodel.ops.registry import NodeSpec, kernel_factory

FAMILY_NOTES = (
    "Optimizer updates as TensorFlow's training ops compute them: `ApplyX` updates TF1 "
    "reference variables in place and outputs the reference, `ResourceApplyX` updates resource "
    "variables, `SparseApplyX`/`ResourceSparseApplyX` update the rows `indices` picks (a repeated "
    "index updates one after another). Checked over three train steps of TF1 SavedModels "
    "(tests/fixtures/training), not by kernel goldens."
)

Arrays = list[np.ndarray]
# rule(state, hyper, attrs) -> new state; state = [var, *slots], hyper = {name: array}.
Rule = Callable[[Arrays, dict[str, np.ndarray], dict[str, Any]], Arrays]


@dataclass(frozen=True)
class Optimizer:
    name: str
    slots: tuple[str, ...]  # state inputs after var
    inputs: tuple[str, ...]  # the other inputs, in op order ("grad" included)
    rule: Rule
    attrs: tuple[tuple[str, Any], ...] = ()  # bool attrs the rule reads, with defaults
    ref_form: bool = True


# --------------------------------------------------------------------------- update rules


def _sgd(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    return [s[0] - h["alpha"] * h["delta"]]


def _proximal(var: np.ndarray, lr: np.ndarray, l1: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """The proximal step shared by ProximalGradientDescent and ProximalAdagrad."""
    if l1 > 0:
        shrunk = np.sign(var) * np.maximum(np.abs(var) - lr * l1, 0)
        return shrunk / (1 + lr * l2)
    return var / (1 + lr * l2)


def _proximal_sgd(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    return [_proximal(s[0] - h["alpha"] * h["delta"], h["alpha"], h["l1"], h["l2"])]


def _momentum(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, accum = s
    lr, g, mu = h["lr"], h["grad"], h["momentum"]
    accum = accum * mu + g
    if a["use_nesterov"]:
        return [var - (g * lr + accum * mu * lr), accum]
    return [var - accum * lr, accum]


def _keras_momentum(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, accum = s
    lr, g, mu = h["lr"], h["grad"], h["momentum"]
    accum = accum * mu - g * lr
    if a["use_nesterov"]:
        return [var + (accum * mu - g * lr), accum]
    return [var + accum, accum]


def _adam_moments(s: Arrays, h: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(step size, m, v) after one Adam step."""
    g, b1, b2 = h["grad"], h["beta1"], h["beta2"]
    lr = h["lr"] * np.sqrt(1 - h["beta2_power"]) / (1 - h["beta1_power"])
    m = s[1] + (g - s[1]) * (1 - b1)
    v = s[2] + (np.square(g) - s[2]) * (1 - b2)
    return lr, m, v


def _adam(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    lr, m, v = _adam_moments(s, h)
    if a["use_nesterov"]:
        step = (h["grad"] * (1 - h["beta1"]) + h["beta1"] * m) * lr / (np.sqrt(v) + h["epsilon"])
    else:
        step = (m * lr) / (np.sqrt(v) + h["epsilon"])
    return [s[0] - step, m, v]


def _amsgrad(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    lr, m, v = _adam_moments(s, h)
    vhat = np.maximum(s[3], v)
    return [s[0] - (m * lr) / (np.sqrt(vhat) + h["epsilon"]), m, v, vhat]


def _adamax(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, m, v = s
    g, b1 = h["grad"], h["beta1"]
    m = m + (g - m) * (1 - b1)
    v = np.maximum(h["beta2"] * v, np.abs(g))
    return [var - h["lr"] / (1 - h["beta1_power"]) * (m / (v + h["epsilon"])), m, v]


def _adagrad(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, accum = s
    g = h["grad"]
    if a["update_slots"]:
        accum = accum + np.square(g)
    return [var - g * h["lr"] / np.sqrt(accum), accum]


def _adagrad_v2(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, accum = s
    g = h["grad"]
    if a["update_slots"]:
        accum = accum + np.square(g)
    return [var - g * h["lr"] / (np.sqrt(accum) + h["epsilon"]), accum]


def _adagrad_da(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    """Adagrad dual averaging: the variable is recomputed from the accumulated gradients."""
    var, acc, acc_sq = s
    g, lr, l1, l2 = h["grad"], h["lr"], h["l1"], h["l2"]
    step = h["global_step"].astype(var.dtype)
    acc = acc + g
    acc_sq = acc_sq + np.square(g)
    denom = l2 * step * lr + np.sqrt(acc_sq)
    if l1 > 0:
        var = np.sign(-acc) * np.maximum(np.abs(acc) - l1 * step, 0) * lr / denom
    else:
        var = -acc * lr / denom
    return [var, acc, acc_sq]


def _proximal_adagrad(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, accum = s
    g = h["grad"]
    accum = accum + np.square(g)
    lr = h["lr"] / np.sqrt(accum)
    return [_proximal(var - lr * g, lr, h["l1"], h["l2"]), accum]


def _adadelta(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, accum, accum_update = s
    g, rho, eps = h["grad"], h["rho"], h["epsilon"]
    accum = accum * rho + np.square(g) * (1 - rho)
    update = np.sqrt(accum_update + eps) / np.sqrt(accum + eps) * g
    accum_update = accum_update * rho + np.square(update) * (1 - rho)
    return [var - update * h["lr"], accum, accum_update]


def _rmsprop(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, ms, mom = s
    g = h["grad"]
    ms = ms + (np.square(g) - ms) * (1 - h["rho"])
    mom = mom * h["momentum"] + (g * h["lr"]) / np.sqrt(ms + h["epsilon"])
    return [var - mom, ms, mom]


def _centered_rmsprop(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    var, mg, ms, mom = s
    g, rho = h["grad"], h["rho"]
    mg = mg + (g - mg) * (1 - rho)
    ms = ms + (np.square(g) - ms) * (1 - rho)
    mom = mom * h["momentum"] + (g * h["lr"]) / np.sqrt(ms - np.square(mg) + h["epsilon"])
    return [var - mom, mg, ms, mom]


def _ftrl_step(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any], shrinkage: bool) -> Arrays:
    var, accum, linear = s
    g, lr, l1, l2, power = h["grad"], h["lr"], h["l1"], h["l2"], h["lr_power"]
    g_lin = g + 2 * h["l2_shrinkage"] * var if shrinkage else g
    accum_new = accum + np.square(g)
    if power == -0.5:
        sigma = np.sqrt(accum_new) - np.sqrt(accum)
        quad = np.sqrt(accum_new)
    else:
        sigma = np.power(accum_new, -power) - np.power(accum, -power)
        quad = np.power(accum_new, -power)
    if a["multiply_linear_by_lr"]:
        linear = linear + g_lin * lr - sigma * var
        quad = quad + 2 * l2 * lr
        bound = l1 * lr
    else:
        linear = linear + g_lin - sigma / lr * var
        quad = quad / lr + 2 * l2
        bound = l1
    var = np.where(np.abs(linear) > bound, (np.clip(linear, -bound, bound) - linear) / quad, 0)
    return [var, accum_new, linear]


def _ftrl(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    return _ftrl_step(s, h, a, shrinkage=False)


def _ftrl_v2(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    return _ftrl_step(s, h, a, shrinkage=True)


def _sign_rule(s: Arrays, h: dict[str, np.ndarray], power: bool) -> Arrays:
    var, m = s
    g, beta = h["grad"], h["beta"]
    m = m * beta + g * (1 - beta)
    agree = np.sign(g) * np.sign(m) * h["sign_decay"]
    scale = np.exp(h["logbase"] * agree) if power else h["alpha"] + agree
    return [var - h["lr"] * scale * g, m]


def _add_sign(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    return _sign_rule(s, h, power=False)


def _power_sign(s: Arrays, h: dict[str, np.ndarray], a: dict[str, Any]) -> Arrays:
    return _sign_rule(s, h, power=True)


_NESTEROV = (("use_nesterov", False),)
_SLOTS = (("update_slots", True),)
_BY_LR = (("multiply_linear_by_lr", False),)

OPTIMIZERS = [
    Optimizer("GradientDescent", (), ("alpha", "delta"), _sgd),
    Optimizer("ProximalGradientDescent", (), ("alpha", "l1", "l2", "delta"), _proximal_sgd),
    Optimizer("Momentum", ("accum",), ("lr", "grad", "momentum"), _momentum, _NESTEROV),
    Optimizer(
        "KerasMomentum", ("accum",), ("lr", "grad", "momentum"), _keras_momentum, _NESTEROV, ref_form=False
    ),
    Optimizer(
        "Adam",
        ("m", "v"),
        ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad"),
        _adam,
        _NESTEROV,
    ),
    Optimizer(
        "AdamWithAmsgrad",
        ("m", "v", "vhat"),
        ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad"),
        _amsgrad,
        ref_form=False,
    ),
    Optimizer("AdaMax", ("m", "v"), ("beta1_power", "lr", "beta1", "beta2", "epsilon", "grad"), _adamax),
    Optimizer("Adagrad", ("accum",), ("lr", "grad"), _adagrad, _SLOTS),
    Optimizer("AdagradV2", ("accum",), ("lr", "epsilon", "grad"), _adagrad_v2, _SLOTS),
    Optimizer("ProximalAdagrad", ("accum",), ("lr", "l1", "l2", "grad"), _proximal_adagrad),
    Optimizer(
        "AdagradDA",
        ("gradient_accumulator", "gradient_squared_accumulator"),
        ("grad", "lr", "l1", "l2", "global_step"),
        _adagrad_da,
    ),
    Optimizer("Adadelta", ("accum", "accum_update"), ("lr", "rho", "epsilon", "grad"), _adadelta),
    Optimizer("RMSProp", ("ms", "mom"), ("lr", "rho", "momentum", "epsilon", "grad"), _rmsprop),
    Optimizer(
        "CenteredRMSProp",
        ("mg", "ms", "mom"),
        ("lr", "rho", "momentum", "epsilon", "grad"),
        _centered_rmsprop,
    ),
    Optimizer("Ftrl", ("accum", "linear"), ("grad", "lr", "l1", "l2", "lr_power"), _ftrl, _BY_LR),
    Optimizer(
        "FtrlV2",
        ("accum", "linear"),
        ("grad", "lr", "l1", "l2", "l2_shrinkage", "lr_power"),
        _ftrl_v2,
        _BY_LR,
    ),
    Optimizer("AddSign", ("m",), ("lr", "alpha", "sign_decay", "beta", "grad"), _add_sign),
    Optimizer("PowerSign", ("m",), ("lr", "logbase", "sign_decay", "beta", "grad"), _power_sign),
]

# The gradient-shaped inputs; every other hyperparameter must be a scalar.
_TENSOR_INPUTS = frozenset({"grad", "delta"})
# Optimizers with sparse forms too (SparseApplyX, ResourceSparseApplyX): the gradient's rows
# update the rows of the variable and its slots that `indices` picks (embeddings).
SPARSE = frozenset(
    {
        "ProximalGradientDescent",
        "Momentum",
        "KerasMomentum",
        "Adagrad",
        "AdagradV2",
        "ProximalAdagrad",
        "AdagradDA",
        "Adadelta",
        "RMSProp",
        "CenteredRMSProp",
        "Ftrl",
        "FtrlV2",
    }
)


# --------------------------------------------------------------------------- running a rule


def _hyper(opt: Optimizer, op: str, values: Sequence[Any], var: np.ndarray) -> dict[str, np.ndarray]:
    hyper: dict[str, np.ndarray] = {}
    for name, value in zip(opt.inputs, values, strict=True):
        arr = np.asarray(deref(value))
        if name in _TENSOR_INPUTS:
            if arr.shape != var.shape:
                fail(
                    f"{op}: var and {name} do not have the same shape: "
                    f"{shape_str(var.shape)} {shape_str(arr.shape)}"
                )
        elif arr.ndim != 0:
            fail(f"{op}: {name} is not a scalar: {shape_str(arr.shape)}")
        hyper[name] = upcast(arr)
    return hyper


def _step(opt: Optimizer, op: str, attrs: dict[str, Any], state: Arrays, values: Sequence[Any]) -> Arrays:
    var = state[0]
    for slot, value in zip(opt.slots, state[1:], strict=True):
        if value.shape != var.shape:
            fail(
                f"{op}: var and {slot} do not have the same shape: "
                f"{shape_str(var.shape)} {shape_str(value.shape)}"
            )
    hyper = _hyper(opt, op, values, var)
    with np.errstate(all="ignore"):
        new = opt.rule([upcast(s) for s in state], hyper, attrs)
    return [np.asarray(n).astype(s.dtype, copy=False) for n, s in zip(new, state, strict=True)]


def sparse_inputs(opt: Optimizer) -> tuple[str, ...]:
    """The sparse op's inputs after the state: the gradient is "grad", followed by "indices"."""
    names = ["grad" if n == "delta" else n for n in opt.inputs]
    at = names.index("grad") + 1
    return (*names[:at], "indices", *names[at:])


def _sparse_step(
    opt: Optimizer, op: str, attrs: dict[str, Any], state: Arrays, values: Sequence[Any]
) -> Arrays:
    """The rule on the rows of var and its slots that `indices` picks; when an index repeats, one
    index after another (as TensorFlow's CPU kernels do)."""
    named = dict(zip(sparse_inputs(opt), values, strict=True))
    indices = np.asarray(deref(named["indices"]))
    grad = np.asarray(deref(named["grad"]))
    var = state[0]
    if var.ndim < 1 or indices.ndim != 1:
        fail(
            f"{op}: var must be at least 1-D and indices a vector: "
            f"{shape_str(var.shape)}, {shape_str(indices.shape)}"
        )
    if grad.shape != indices.shape + var.shape[1:]:
        fail(f"{op}: grad {shape_str(grad.shape)} must be the indices' rows of var {shape_str(var.shape)}")
    bad = (indices < 0) | (indices >= var.shape[0])
    if bad.any():
        k = int(np.argmax(bad))
        fail(f"{op}: Index {int(indices[k])} at offset {k} in indices is out of range")
    out = [s.copy() for s in state]
    if np.unique(indices).size == indices.size:
        spans = [(0, indices.size)]
    else:
        spans = [(k, k + 1) for k in range(indices.size)]
    for start, stop in spans:
        rows = indices[start:stop]
        dense = [grad[start:stop] if n in _TENSOR_INPUTS else named[n] for n in opt.inputs]
        for s, value in zip(out, _step(opt, op, attrs, [s[rows] for s in out], dense), strict=True):
            s[rows] = value
    return out


def _attrs(opt: Optimizer, node: NodeSpec) -> dict[str, Any]:
    return {name: bool(node.attrs.get(name, default)) for name, default in opt.attrs}


def _ref_kernel(opt: Optimizer, sparse: bool = False) -> None:
    op = ("SparseApply" if sparse else "Apply") + opt.name
    n_state = 1 + len(opt.slots)
    step = _sparse_step if sparse else _step

    @kernel_factory(op, family="training", side_effects=True, dtypes=FLOATS, doc=_doc(opt, "reference"))
    def prepare(node: NodeSpec) -> Any:
        attrs = _attrs(opt, node)

        def run(ctx: Any, *inputs: Any) -> RefBuffer:
            refs = [_ref(v, op, name) for v, name in zip(inputs[:n_state], ("var", *opt.slots), strict=True)]
            new = step(opt, op, attrs, [r.read() for r in refs], inputs[n_state:])
            for r, value in zip(refs, new, strict=True):
                r.value = value
            return refs[0]

        return run


def _resource_kernel(opt: Optimizer, sparse: bool = False) -> None:
    op = ("ResourceSparseApply" if sparse else "ResourceApply") + opt.name
    n_state = 1 + len(opt.slots)
    step = _sparse_step if sparse else _step

    @kernel_factory(op, family="training", side_effects=True, dtypes=FLOATS, doc=_doc(opt, "resource"))
    def prepare(node: NodeSpec) -> Any:
        attrs = _attrs(opt, node)

        def run(ctx: Any, *inputs: Any) -> None:
            handles = [
                _handle(v, op, name) for v, name in zip(inputs[:n_state], ("var", *opt.slots), strict=True)
            ]
            new = step(opt, op, attrs, [h.read() for h in handles], inputs[n_state:])
            for h, value in zip(handles, new, strict=True):
                h.assign(value)

        return run


def _ref(value: Any, op: str, name: str) -> RefBuffer:
    if not isinstance(value, RefBuffer):
        fail(f"{op}: {name} must be a reference variable, got {type(value).__name__}")
    return value


def _handle(value: Any, op: str, name: str) -> VariableResource:
    if not isinstance(value, VariableResource):
        fail(f"{op}: {name} must be a resource variable handle, got {type(value).__name__}")
    return value


def _doc(opt: Optimizer, form: str) -> str:
    slots = f" and its {', '.join(opt.slots)}" if opt.slots else ""
    return f"{opt.name} update of a {form} variable{slots}"


for _opt in OPTIMIZERS:
    for _sparse in (False, True) if _opt.name in SPARSE else (False,):
        if _opt.ref_form:
            _ref_kernel(_opt, _sparse)
        _resource_kernel(_opt, _sparse)

# Ops whose first inputs are reference variables (the runtime must not read them first).
REF_OPS = frozenset(
    prefix + o.name
    for o in OPTIMIZERS
    if o.ref_form
    for prefix in ("Apply", "SparseApply")
    if prefix == "Apply" or o.name in SPARSE
)
