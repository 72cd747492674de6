"""`tf.keras.layers`: the layers savedmodel can build, save in TF's SavedModel format (tf-keras
metadata included) and rebuild from a saved config."""

from __future__ import annotations

from savedmodel.api.tf.keras.engine import InputLayer, Layer, TFOpLambda
from savedmodel.api.tf.keras.layers.attention import EinsumDense, MultiHeadAttention
from savedmodel.api.tf.keras.layers.convolutional import Conv1D, Conv2D, DepthwiseConv2D
from savedmodel.api.tf.keras.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Masking,
    Reshape,
)
from savedmodel.api.tf.keras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from savedmodel.api.tf.keras.layers.normalization import BatchNormalization, LayerNormalization
from savedmodel.api.tf.keras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from savedmodel.api.tf.keras.layers.preprocessing import Normalization, Rescaling
from savedmodel.api.tf.keras.layers.recurrent import GRU, LSTM, GRUCell, LSTMCell

Convolution1D, Convolution2D = Conv1D, Conv2D

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNormalization",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "Convolution1D",
    "Convolution2D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "EinsumDense",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "InputLayer",
    "LSTMCell",
    "Layer",
    "LayerNormalization",
    "Masking",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "MultiHeadAttention",
    "Multiply",
    "Normalization",
    "Rescaling",
    "Reshape",
    "Subtract",
    "TFOpLambda",
]
