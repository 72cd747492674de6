"""tf-keras (Keras 2) layer configs -> Keras 3 layer configs.

Every supported class has the set of arguments its Keras 3 constructor takes (Keras 3.x
layers refuse unknown keyword arguments). A tf-keras argument Keras 3 lacks is dropped when
it only tuned speed or recorded a shape (`fused`, `implementation`, `input_length`...) or holds
its neutral value (`time_major=False`); with any other value the layer is blocked, as it is when
an initializer, regularizer, constraint or activation has no identical Keras 3 counterpart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Arguments every Keras 3 layer takes (keras.layers.Layer.__init__).
_BASE = frozenset({"name", "trainable", "dtype", "autocast", "activity_regularizer"})
_INIT = ("kernel_initializer", "bias_initializer")
_REG = ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint")
_DENSE = {"units", "activation", "use_bias", *_INIT, *_REG}
_CONV = {
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "groups",
    "activation",
    "use_bias",
    *_INIT,
    *_REG,
}
_DEPTHWISE = {
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "depth_multiplier",
    "activation",
    "use_bias",
    "depthwise_initializer",
    "bias_initializer",
    "depthwise_regularizer",
    "bias_regularizer",
    "depthwise_constraint",
    "bias_constraint",
}
_SEPARABLE = _DEPTHWISE | {
    "filters",
    "pointwise_initializer",
    "pointwise_regularizer",
    "pointwise_constraint",
}
_POOL = {"pool_size", "strides", "padding", "data_format"}
_GLOBAL_POOL = {"data_format", "keepdims"}
_SHIFT_ZOOM = {"height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value"}
_NORM_PARAMS = {
    "axis",
    "epsilon",
    "center",
    "scale",
    "beta_initializer",
    "gamma_initializer",
    "beta_regularizer",
    "gamma_regularizer",
    "beta_constraint",
    "gamma_constraint",
}
_RNN_CELL = {
    "units",
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
}
_RNN = _RNN_CELL | {
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
}

# class name -> the Keras 3 constructor arguments beyond _BASE (checked against Keras 3.15).
ARGUMENTS: dict[str, set[str]] = {
    "InputLayer": {"batch_shape", "dtype", "sparse", "ragged", "name", "optional"},
    "Dense": _DENSE,
    "EinsumDense": {"equation", "output_shape", "activation", "bias_axes", *_INIT, *_REG},
    "Conv1D": _CONV,
    "Conv2D": _CONV,
    "Conv3D": _CONV,
    "Conv1DTranspose": (_CONV - {"groups"}) | {"output_padding"},
    "Conv2DTranspose": (_CONV - {"groups"}) | {"output_padding"},
    "DepthwiseConv1D": _DEPTHWISE,
    "DepthwiseConv2D": _DEPTHWISE,
    "SeparableConv1D": _SEPARABLE,
    "SeparableConv2D": _SEPARABLE,
    **{f"{kind}Pooling{d}D": _POOL for kind in ("Max", "Average") for d in (1, 2, 3)},
    **{f"Global{kind}Pooling{d}D": _GLOBAL_POOL for kind in ("Max", "Average") for d in (1, 2, 3)},
    "BatchNormalization": _NORM_PARAMS
    | {
        "momentum",
        "moving_mean_initializer",
        "moving_variance_initializer",
        "renorm",
        "renorm_clipping",
        "renorm_momentum",
        "synchronized",
    },
    "LayerNormalization": _NORM_PARAMS,
    "UnitNormalization": {"axis"},
    "GroupNormalization": _NORM_PARAMS | {"groups"},
    "Dropout": {"rate", "noise_shape", "seed"},
    "SpatialDropout1D": {"rate", "seed", "name", "dtype"},
    "SpatialDropout2D": {"rate", "seed", "name", "dtype", "data_format"},
    "SpatialDropout3D": {"rate", "seed", "name", "dtype", "data_format"},
    "GaussianNoise": {"stddev", "seed"},
    "GaussianDropout": {"rate", "seed"},
    "Embedding": {
        "input_dim",
        "output_dim",
        "embeddings_initializer",
        "embeddings_regularizer",
        "embeddings_constraint",
        "mask_zero",
    },
    "LSTM": _RNN | {"recurrent_activation", "unit_forget_bias"},
    "GRU": _RNN | {"recurrent_activation", "reset_after"},
    "SimpleRNN": _RNN,
    "LSTMCell": _RNN_CELL | {"recurrent_activation", "unit_forget_bias"},
    "GRUCell": _RNN_CELL | {"recurrent_activation", "reset_after"},
    "SimpleRNNCell": set(_RNN_CELL),
    "Bidirectional": {"layer", "merge_mode", "backward_layer"},
    "TimeDistributed": {"layer"},
    "MultiHeadAttention": {
        "num_heads",
        "key_dim",
        "value_dim",
        "dropout",
        "use_bias",
        "output_shape",
        "attention_axes",
        "seed",
        *_INIT,
        *_REG,
    },
    "Attention": {"use_scale", "score_mode", "dropout", "seed"},
    "AdditiveAttention": {"use_scale", "dropout", "seed"},
    "Flatten": {"data_format"},
    "Reshape": {"target_shape"},
    "Permute": {"dims"},
    "RepeatVector": {"n"},
    "Concatenate": {"axis"},
    **{name: set() for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
    "Dot": {"axes", "normalize"},
    "Activation": {"activation"},
    "ReLU": {"max_value", "negative_slope", "threshold"},
    "LeakyReLU": {"negative_slope"},
    "PReLU": {"alpha_initializer", "alpha_regularizer", "alpha_constraint", "shared_axes"},
    "ELU": {"alpha"},
    "Softmax": {"axis"},
    "ZeroPadding1D": {"padding"},
    "ZeroPadding2D": {"padding", "data_format"},
    "ZeroPadding3D": {"padding", "data_format"},
    "Cropping1D": {"cropping"},
    "Cropping2D": {"cropping", "data_format"},
    "UpSampling1D": {"size"},
    "UpSampling2D": {"size", "data_format", "interpolation"},
    "Rescaling": {"scale", "offset"},
    "Normalization": {"axis", "mean", "variance", "invert"},
    "Masking": {"mask_value"},
    "Hashing": {"num_bins", "mask_value", "salt", "output_mode", "sparse"},
    "Resizing": {"height", "width", "interpolation", "crop_to_aspect_ratio"},
    "CenterCrop": {"height", "width"},
    # Data augmentation: identities at inference in both.
    "RandomFlip": {"mode", "seed"},
    "RandomRotation": {"factor", "fill_mode", "interpolation", "seed", "fill_value"},
    "RandomZoom": _SHIFT_ZOOM,
    "RandomTranslation": _SHIFT_ZOOM,
    "RandomContrast": {"factor", "seed"},
    "RandomBrightness": {"factor", "value_range", "seed"},
}

# Classes whose Keras 3 constructor takes exactly ARGUMENTS[class] (no `trainable`, ...).
_EXACT = frozenset({"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"})

# tf-keras arguments that Keras 3 lacks and that change nothing computed: dropped whatever their value.
_DROPPED_ALWAYS = frozenset(
    {
        "batch_input_shape",
        "input_dim",
        "input_length",
        "implementation",
        "fused",
        "shared_object_id",
        "query_shape",
        "key_shape",
        "value_shape",
        "input_shape",
        "rng_type",
    }
)
# ... and those dropped only while they hold the neutral value given here.
_NEUTRAL = {
    "time_major": False,
    "virtual_batch_size": None,
    "adjustment": None,
    "causal": False,
    "softmax_robust_masking": False,
    "sparse": False,
    "ragged": False,
    "use_legacy_config": False,
    "groups": 1,
    "noise_shape": None,
    "trainable": True,
}
_SUBLAYER_ARGUMENTS = ("layer", "backward_layer")

INITIALIZERS = frozenset(
    {
        "Constant",
        "GlorotNormal",
        "GlorotUniform",
        "HeNormal",
        "HeUniform",
        "Identity",
        "LecunNormal",
        "LecunUniform",
        "Ones",
        "Orthogonal",
        "RandomNormal",
        "RandomUniform",
        "TruncatedNormal",
        "VarianceScaling",
        "Zeros",
    }
)
REGULARIZERS = frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"})
CONSTRAINTS = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"})
# tf-keras activation name -> Keras 3 name (same function). hard_sigmoid is not here: tf-keras
# computes clip(0.2x + 0.5), Keras 3 clip(x/6 + 0.5).
ACTIVATIONS = {
    name: name
    for name in (
        "relu",
        "relu6",
        "elu",
        "selu",
        "softplus",
        "softsign",
        "silu",
        "gelu",
        "tanh",
        "sigmoid",
        "exponential",
        "linear",
        "mish",
        "log_softmax",
        "softmax",
    )
} | {"swish": "silu"}


class Untranslatable(Exception):
    """A layer config that has no faithful Keras 3 form (the message says why)."""


def plain(value: Any) -> Any:
    """tf-keras's wrapped tuples and shapes ({"class_name": "__tuple__", "items": [...]}) as lists."""
    if isinstance(value, dict):
        if value.get("class_name") in ("__tuple__", "TensorShape") and "items" in value:
            return [plain(v) for v in value["items"]]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def dtype_policy(value: Any) -> Any:
    """A tf-keras dtype ("float32" or a Policy object) as a Keras 3 DTypePolicy object."""
    if value is None:
        return None
    if isinstance(value, dict):
        name = value.get("config", {}).get("name")
        if not isinstance(name, str):
            raise Untranslatable(f"dtype policy {value.get('class_name')!r} has no name")
        value = name
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": value},
        "registered_name": None,
    }


def _object(value: Any, module: str, known: frozenset[str], what: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict) or value.get("class_name") not in known:
        name = value.get("class_name") if isinstance(value, dict) else value
        raise Untranslatable(f"{what} {name!r} has no Keras 3 counterpart here")
    return {
        "module": module,
        "class_name": value["class_name"],
        "config": dict(value.get("config") or {}),
        "registered_name": None,
    }


def activation(value: Any) -> str:
    if isinstance(value, dict):  # a serialized function object
        value = value.get("config", value.get("class_name"))
    if value is None:
        return "linear"
    if value not in ACTIVATIONS:
        raise Untranslatable(f"activation {value!r} has no identical Keras 3 function")
    return ACTIVATIONS[value]


def _argument(key: str, value: Any) -> Any:
    if key.endswith("_initializer"):
        return _object(value, "keras.initializers", INITIALIZERS, "initializer")
    if key.endswith("_regularizer"):
        return _object(value, "keras.regularizers", REGULARIZERS, "regularizer")
    if key.endswith("_constraint"):
        return _object(value, "keras.constraints", CONSTRAINTS, "constraint")
    if key in ("activation", "recurrent_activation"):
        return activation(value)
    if key == "dtype":
        return dtype_policy(value)
    return value


def _fix_leaky_relu(config: dict[str, Any]) -> None:
    if "alpha" in config:
        config["negative_slope"] = config.pop("alpha")


def _fix_batch_norm(config: dict[str, Any]) -> None:
    axis = config.get("axis")
    if isinstance(axis, list):
        if len(axis) != 1:
            raise Untranslatable(f"axis {axis} (Keras 3 normalizes over one axis)")
        config["axis"] = axis[0]


def _fix_input_layer(config: dict[str, Any]) -> None:
    if "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")
    if isinstance(config.get("dtype"), dict):  # InputLayer keeps a plain dtype name in Keras 3
        config["dtype"] = config["dtype"].get("config", {}).get("name")


def _fix_separable(config: dict[str, Any]) -> None:
    for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
        config.pop(key, None)  # inherited from Conv in tf-keras's config; the layer never uses them


_FIXES: dict[str, Callable[[dict[str, Any]], None]] = {
    "SeparableConv1D": _fix_separable,
    "SeparableConv2D": _fix_separable,
    "LeakyReLU": _fix_leaky_relu,
    "BatchNormalization": _fix_batch_norm,
    "InputLayer": _fix_input_layer,
}


def layer_config(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The Keras 3 config of one tf-keras layer (raises Untranslatable)."""
    if class_name not in ARGUMENTS:
        raise Untranslatable("no Keras 3 translation for this class")
    config = plain(config)
    fix = _FIXES.get(class_name)
    if fix:
        fix(config)
    accepted = ARGUMENTS[class_name] if class_name in _EXACT else ARGUMENTS[class_name] | _BASE
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif key not in _DROPPED_ALWAYS and not (key in _NEUTRAL and value == _NEUTRAL[key]):
            raise Untranslatable(f"argument {key}={value!r} has no Keras 3 equivalent")
    for key in list(out):
        if key in _SUBLAYER_ARGUMENTS and out[key] is not None:
            out[key] = serialized_layer(out[key])
        elif class_name != "InputLayer":
            out[key] = _argument(key, out[key])
    return out


def serialized_layer(entry: dict[str, Any]) -> dict[str, Any]:
    """{"class_name", "config"} of tf-keras -> Keras 3's {"module", "class_name", "config", ...}."""
    class_name = entry.get("class_name", "")
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": layer_config(class_name, entry.get("config") or {}),
        "registered_name": None,
    }
