"""`tf.keras.models`: Model, Sequential, load_model, save_model."""

from __future__ import annotations

from typing import Any

from savedmodel.api.tf.keras.engine import Model, Sequential, load_model


def save_model(model: Model, filepath: Any, **kwargs: Any) -> None:
    model.save(filepath, **kwargs)


__all__ = ["Model", "Sequential", "load_model", "save_model"]
