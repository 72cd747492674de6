"""A Keras subset (`tf.keras` as tf-keras 2.x has it): `Input`, functional `Model`, `Sequential`,
the layers in `layers`, `model.save(dir)` in TF's SavedModel format with tf-keras's
keras_metadata.pb (so `tf.keras.models.load_model` rebuilds the real layers), `models.load_model`,
`predict`."""

from __future__ import annotations

from savedmodel.api.tf.keras import backend, initializers, layers, models
from savedmodel.api.tf.keras.engine import Input, KerasTensor, Layer, Model, Sequential
from savedmodel.api.tf.keras.models import load_model

__all__ = [
    "Input",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "backend",
    "initializers",
    "layers",
    "load_model",
    "models",
]
