"""Keras's default weight initializers, drawn with NumPy (the values differ from TensorFlow's random
ones; the distributions and the configs saved with a layer are Keras's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from savedmodel.errors import InvalidInputError

_RNG = np.random.default_rng()


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    """Keras's fan-in/fan-out: a kernel's receptive field times its input/output channels."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _glorot_uniform(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def _orthogonal(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    cols = shape[-1]
    flat = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q.reshape(shape)


def _random_uniform(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-0.05, 0.05, size=shape)


# name -> (Keras class name, its config, how to draw values)
_INITIALIZERS: dict[str, tuple[str, dict[str, Any], Callable[..., np.ndarray]]] = {
    "glorot_uniform": ("GlorotUniform", {"seed": None}, _glorot_uniform),
    "orthogonal": ("Orthogonal", {"gain": 1.0, "seed": None}, _orthogonal),
    "random_uniform": ("RandomUniform", {"minval": -0.05, "maxval": 0.05, "seed": None}, _random_uniform),
    "zeros": ("Zeros", {}, lambda shape, rng: np.zeros(shape)),
    "ones": ("Ones", {}, lambda shape, rng: np.ones(shape)),
}
_BY_CLASS = {class_name: name for name, (class_name, _, _) in _INITIALIZERS.items()}


def _name_of(initializer: Any) -> str:
    if isinstance(initializer, dict):  # a saved config: {"class_name": "GlorotUniform", ...}
        initializer = _BY_CLASS.get(initializer.get("class_name", ""), "")
    name = str(initializer).lower()
    if name not in _INITIALIZERS:
        raise InvalidInputError(
            f"unsupported initializer {initializer!r} (supported: {sorted(_INITIALIZERS)})"
        )
    return name


def initial_value(initializer: Any, shape: Sequence[int], dtype: Any, seed: int | None = None) -> np.ndarray:
    _, _, draw = _INITIALIZERS[_name_of(initializer)]
    rng = _RNG if seed is None else np.random.default_rng(seed)
    return np.asarray(draw(tuple(int(d) for d in shape), rng), dtype=dtype)


def serialize(initializer: Any) -> dict[str, Any]:
    class_name, config, _ = _INITIALIZERS[_name_of(initializer)]
    return {"class_name": class_name, "config": dict(config)}


def check(initializer: Any) -> str:
    """The initializer's name; raises InvalidInputError for one we cannot draw from."""
    return _name_of(initializer)
