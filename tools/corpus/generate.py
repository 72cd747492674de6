"""Write the model corpus: SavedModels made by TensorFlow, fixed inputs, and TensorFlow's outputs.

Runs in the oracle venv (TensorFlow 2.21 + tf-keras), never in the tests:

    TF_USE_LEGACY_KERAS=1 tools/oracle/.venv/bin/python -m tools.corpus.generate [--only a,b] [--out DIR]
        [--group small|apps|all] [--force] [--list]

Each case becomes `<out>/<name>/`:
    saved_model/    the SavedModel
    inputs.npz      "<signature>/<input key>" -> the fixed input (tools/corpus/npzio.py encoding)
    outputs.npz     "<signature>/<output key>" -> what TensorFlow returned for it
    case.json       name, group, description, tags, signatures, per-output tolerances (with reasons)
    frozen.pb       (tf1_frozen_cnn only) the frozen GraphDef the SavedModel wraps

TensorFlow's outputs come from loading the written SavedModel back into a TF1
session and running each SignatureDef (what `saved_model_cli run` does), so the
goldens describe the artifact on disk, not the Python object that made it.
Weights are random (`weights=None`), seeds fixed, inputs small; oneDNN is off so
TensorFlow uses its reference Eigen kernels. Existing cases are kept unless
--force (the Keras applications take minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.corpus import npzio  # noqa: E402

DEFAULT_OUT = ROOT / ".cache" / "corpus"
SEED = 1234

tf: Any = None
keras: Any = None


def _import_tf() -> None:
    global tf, keras
    import tensorflow  # noqa: PLC0415
    import tf_keras  # noqa: PLC0415

    tf = tensorflow
    keras = tf_keras


@dataclass
class Built:
    """What a case builder returns: inputs per signature, plus optional tolerances and notes."""

    inputs: dict[str, dict[str, np.ndarray]]
    tags: list[str] = field(default_factory=lambda: ["serve"])
    tolerances: dict[str, dict[str, Any]] = field(default_factory=dict)  # "sig/out" or "*" -> tol
    notes: str = ""
    expected_keys: dict[str, set[str]] = field(default_factory=dict)  # sanity check of the saved signatures


@dataclass
class Case:
    name: str
    group: str  # "small" (seconds) or "apps" (Keras applications, minutes)
    description: str
    build: Callable[[Path, Path], Built]  # (saved_model dir, case dir) -> Built


CASES: dict[str, Case] = {}


def case(name: str, description: str, group: str = "small"):
    def register(fn: Callable[[Path, Path], Built]) -> Callable[[Path, Path], Built]:
        CASES[name] = Case(name, group, description, fn)
        return fn

    return register


def rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


def seed_all(seed: int = SEED) -> None:
    keras.utils.set_random_seed(seed)
    tf.random.set_seed(seed)


def save_keras(model: Any, path: Path) -> None:
    model.save(str(path), save_format="tf", include_optimizer=False)


def save_module(module: Any, path: Path, signatures: dict[str, Any]) -> None:
    tf.saved_model.save(module, str(path), signatures=signatures)


# --------------------------------------------------------------------------- Keras applications


# Measured with tools/corpus/tf_spread.py: TensorFlow's own two CPU paths (oneDNN on/off) differ on
# these 50-200 layer networks by up to ~1e-3 relative, ~1e-3 of the largest logit absolute.
APP_TOLERANCES = {
    "*": {
        "rtol": 2e-3,
        "atol_scaled": 1e-3,
        "reason": "deep float32 networks: TensorFlow documents that its oneDNN CPU path gives 'slightly "
        "different numerical results due to floating-point round-off errors from different computation "
        "orders'; its own oneDNN-on and -off outputs differ by up to 1.2e-3 relative here "
        "(tools/corpus/tf_spread.py), so savedmodel is held to that spread (atol_scaled: x max |logit|)",
    }
}


def _calibrate_batchnorm(model: Any, images: np.ndarray) -> None:
    """Set every BatchNormalization's moving statistics to its batch statistics on `images`.

    With untouched statistics (mean 0, variance 1) a random-init network's activations shrink layer
    after layer (MobileNetV2's logits come out near 1e-13), so absolute tolerances would hide any
    error; calibrated, activations stay O(1) as in a trained model.
    """
    layers = [m for m in model.submodules if isinstance(m, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


def _app(
    factory_name: str,
    size: int,
    preprocessing: bool,
    seed: int = SEED,
    calibration: int = 5,
    images_offset: int = 0,
    **kwargs: Any,
):
    """A Keras application with random weights (`seed`), its BatchNormalization statistics taken
    from a random batch (`rng(calibration)`), run on two random images (`rng(images_offset)`)."""

    def build(path: Path, case_dir: Path) -> Built:
        seed_all(seed)
        factory = getattr(keras.applications, factory_name)
        model = factory(
            input_shape=(size, size, 3), weights=None, classes=10, classifier_activation=None, **kwargs
        )
        low, high = (0, 255) if preprocessing else (-1, 1)  # with preprocessing the model rescales itself
        batch = rng(calibration).uniform(low, high, (8, size, size, 3)).astype(np.float32)
        _calibrate_batchnorm(model, batch)
        save_keras(model, path)
        images = rng(images_offset).uniform(low, high, (2, size, size, 3)).astype(np.float32)
        return Built({"serving_default": {model.input_names[0]: images}}, tolerances=APP_TOLERANCES)

    return build


for _name, _factory, _size, _pre, _kw in [
    ("mobilenet_v2", "MobileNetV2", 32, False, {"alpha": 0.35}),
    ("mobilenet_v3_small", "MobileNetV3Small", 32, True, {}),
    ("efficientnet_b0", "EfficientNetB0", 32, True, {}),
    ("resnet50", "ResNet50", 32, False, {}),
    ("densenet121", "DenseNet121", 32, False, {}),
    ("nasnet_mobile", "NASNetMobile", 32, False, {}),
    ("inception_v3", "InceptionV3", 75, False, {}),
    ("xception", "Xception", 71, False, {}),
]:
    _description = f"keras.applications.{_factory}({_kw or ''} weights=None, 10 logits, {_size}px, batch 2)"
    case(_name, _description, "apps")(_app(_factory, _size, _pre, **_kw))


# --------------------------------------------------------------------------- Keras layers


def _padded_ids(vocab: int, batch: int, length: int, offset: int = 0) -> np.ndarray:
    ids = rng(offset).integers(1, vocab, (batch, length)).astype(np.int32)
    ids[1, length // 2 :] = 0  # second row padded: exercises masking
    return ids


@case(
    "transformer_encoder",
    "BERT-style encoder block: Embedding, MultiHeadAttention with padding mask, "
    "LayerNormalization, GELU feed-forward (Erf), EinsumDense",
)
def build_transformer(path: Path, case_dir: Path) -> Built:
    seed_all()
    layers = keras.layers
    vocab, length, width = 50, 8, 32
    ids = keras.Input((length,), dtype="int32", name="input_ids")
    x = layers.Embedding(vocab, width, name="token_embedding")(ids)
    positions = layers.Embedding(length, width, name="position_embedding")(
        layers.Lambda(lambda t: tf.range(tf.shape(t)[1])[tf.newaxis, :] * tf.ones_like(t))(ids)
    )
    x = layers.Add()([x, positions])
    mask = layers.Lambda(lambda t: tf.cast(t[:, tf.newaxis, :] != 0, tf.bool))(ids)
    attention = layers.MultiHeadAttention(num_heads=2, key_dim=16, name="attention")(
        x, x, attention_mask=mask
    )
    x = layers.LayerNormalization(epsilon=1e-12)(layers.Add()([x, attention]))
    hidden = layers.Dense(64, activation="gelu")(x)
    hidden = layers.Dense(width)(hidden)
    x = layers.LayerNormalization(epsilon=1e-12, name="sequence_output")(layers.Add()([x, hidden]))
    proj = layers.EinsumDense("btd,dk->btk", output_shape=(None, 8), name="einsum_projection")(x)
    pooled = layers.GlobalAveragePooling1D()(proj)
    logits = layers.Dense(3, name="logits")(pooled)
    model = keras.Model(ids, {"sequence_output": x, "logits": logits})
    save_keras(model, path)
    return Built({"serving_default": {"input_ids": _padded_ids(vocab, 2, length)}})


def _rnn_case(name: str, description: str, make_layers: Callable[[], list[Any]], float_input: bool = False):
    @case(name, description)
    def build(path: Path, case_dir: Path) -> Built:
        seed_all()
        layers = keras.layers
        length = 6
        if float_input:
            inp = keras.Input((length, 3), name="sequence")
            x = layers.Masking(mask_value=0.0)(inp)
            values = rng().normal(size=(2, length, 3)).astype(np.float32)
            values[1, 3:] = 0.0
        else:
            inp = keras.Input((length,), dtype="int32", name="tokens")
            init = keras.initializers.RandomUniform(-1.5, 1.5, seed=SEED)  # O(1) activations, not O(1e-3)
            x = layers.Embedding(20, 8, mask_zero=True, embeddings_initializer=init)(inp)
            values = _padded_ids(20, 2, length)
        for layer in make_layers():
            x = layer(x)
        model = keras.Model(inp, x)
        save_keras(model, path)
        return Built({"serving_default": {inp.name.split(":")[0]: values}})

    return build


_rnn_case(
    "lstm",
    "Embedding(mask_zero) -> LSTM(return_sequences) -> LSTM",
    lambda: [keras.layers.LSTM(8, return_sequences=True), keras.layers.LSTM(4)],
)
_rnn_case(
    "gru",
    "Embedding(mask_zero) -> GRU(return_sequences) -> GRU(reset_after=False)",
    lambda: [keras.layers.GRU(8, return_sequences=True), keras.layers.GRU(4, reset_after=False)],
)
_rnn_case(
    "simple_rnn",
    "Masking(0.0) on floats -> SimpleRNN(return_sequences) -> SimpleRNN",
    lambda: [keras.layers.SimpleRNN(8, return_sequences=True), keras.layers.SimpleRNN(4)],
    float_input=True,
)
_rnn_case(
    "bidirectional",
    "Embedding(mask_zero) -> Bidirectional(LSTM) -> Bidirectional(GRU, merge sum)",
    lambda: [
        keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)),
        keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode="sum"),
    ],
)


def _layers_case(
    name: str,
    description: str,
    shape: tuple[int, ...],
    make: Callable[[Any], Any],
    after_build: Callable[[Any], None] | None = None,
):
    @case(name, description)
    def build(path: Path, case_dir: Path) -> Built:
        seed_all()
        inp = keras.Input(shape, name="x")
        model = keras.Model(inp, make(inp))
        if after_build is not None:
            after_build(model)
        save_keras(model, path)
        return Built({"serving_default": {"x": rng().normal(size=(2, *shape)).astype(np.float32)}})

    return build


def _conv1d(x: Any) -> Any:
    L = keras.layers
    x = L.Conv1D(4, 3, padding="same", dilation_rate=2, activation="relu")(x)
    x = L.Conv1D(4, 3, strides=2, padding="valid")(x)
    x = L.MaxPooling1D(2)(x)
    return L.Conv1D(2, 2, padding="causal")(x)


def _conv3d(x: Any) -> Any:
    L = keras.layers
    x = L.Conv3D(3, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling3D(2)(x)
    return L.Conv3D(2, 2, strides=1, padding="valid")(L.AveragePooling3D(1)(x))


def _conv2d_transpose(x: Any) -> Any:
    L = keras.layers
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(x)
    return L.Conv2DTranspose(2, 3, strides=2, padding="valid")(x)


def _depthwise(x: Any) -> Any:
    L = keras.layers
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(x)
    return L.DepthwiseConv2D(3, strides=2, padding="valid")(x)


def _separable(x: Any) -> Any:
    L = keras.layers
    x = L.SeparableConv2D(4, 3, padding="same", activation="relu")(x)
    return L.SeparableConv1D(3, 2)(L.Reshape((-1, 4))(x))


def _batchnorm(x: Any) -> Any:
    L = keras.layers
    x = L.Conv2D(4, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Flatten()(L.AveragePooling2D(2)(x))
    x = L.Dense(6)(x)
    return L.BatchNormalization(center=False)(x)


def _random_bn_statistics(model: Any) -> None:
    r = rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            weights = []
            for w in layer.weights:
                if "moving_variance" in w.name:
                    weights.append(r.uniform(0.5, 2.0, w.shape).astype(np.float32))
                else:
                    weights.append(r.normal(size=w.shape).astype(np.float32))
            layer.set_weights(weights)


_layers_case("conv1d", "Conv1D same/dilated, valid/strided, causal; MaxPooling1D", (16, 3), _conv1d)
_layers_case("conv3d", "Conv3D same, MaxPooling3D, AveragePooling3D, Conv3D valid", (6, 6, 6, 2), _conv3d)
_layers_case("conv2d_transpose", "Conv2DTranspose strides 2, same and valid", (5, 5, 3), _conv2d_transpose)
_layers_case(
    "depthwise_conv2d", "DepthwiseConv2D multiplier 2 same + relu6, strided valid", (7, 7, 3), _depthwise
)
_layers_case("separable_conv2d", "SeparableConv2D same + SeparableConv1D", (6, 6, 3), _separable)
_layers_case(
    "batchnorm_inference",
    "Conv2D + BatchNormalization (fused) and Dense + BatchNormalization "
    "(unfused, center=False) with random moving statistics",
    (6, 6, 3),
    _batchnorm,
    _random_bn_statistics,
)


# --------------------------------------------------------------------------- preprocessing layers


def _strings(values: list[str], shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.array([v.encode("utf-8") for v in values], dtype=object)
    return arr.reshape(shape) if shape else arr


@case(
    "text_vectorization",
    "TextVectorization adapted (lower+strip punctuation, split, int sequences) and multi_hot output",
)
def build_text_vectorization(path: Path, case_dir: Path) -> Built:
    seed_all()
    L = keras.layers
    corpus = ["The quick brown fox.", "jumps over the lazy dog!", "The dog sleeps; the fox runs"]
    ints = L.TextVectorization(max_tokens=12, output_sequence_length=6)
    ints.adapt(corpus)
    hot = L.TextVectorization(max_tokens=8, output_mode="multi_hot")
    hot.adapt(corpus)
    inp = keras.Input((1,), dtype="string", name="text")
    model = keras.Model(inp, {"ids": ints(inp), "multi_hot": hot(inp)})
    save_keras(model, path)
    text = _strings(["The FOX, the dog!", "unknown words here and more words than six"], (2, 1))
    return Built({"serving_default": {"text": text}})


@case("string_lookup", "StringLookup int (1 OOV bucket) and one_hot, and invert=True")
def build_string_lookup(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    vocab = ["a", "b", "c", "d"]
    inp = keras.Input((3,), dtype="string", name="tokens")
    ids = L.StringLookup(vocabulary=vocab, num_oov_indices=1)(inp)
    onehot = L.StringLookup(vocabulary=vocab, output_mode="one_hot")(keras.layers.Reshape((3,))(inp)[:, 0])
    back = L.StringLookup(vocabulary=vocab, invert=True)(ids)
    model = keras.Model(inp, {"ids": ids, "one_hot": onehot, "inverted": back})
    save_keras(model, path)
    return Built({"serving_default": {"tokens": _strings(["a", "z", "d", "c", "b", ""], (2, 3))}})


@case("integer_lookup", "IntegerLookup int64 vocabulary with OOV and mask token, count output")
def build_integer_lookup(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    inp = keras.Input((4,), dtype="int64", name="codes")
    ids = L.IntegerLookup(vocabulary=[10, 20, 30, 42], mask_token=0)(inp)
    counts = L.IntegerLookup(vocabulary=[10, 20, 30, 42], output_mode="count")(inp)
    model = keras.Model(inp, {"ids": ids, "counts": counts})
    save_keras(model, path)
    return Built({"serving_default": {"codes": np.array([[10, 42, 7, 0], [30, 30, 20, -5]], np.int64)}})


@case("hashing", "Hashing(num_bins) on strings (FarmHash64) and salted (SipHash) on strings and int64")
def build_hashing(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    words = keras.Input((3,), dtype="string", name="words")
    numbers = keras.Input((3,), dtype="int64", name="numbers")
    model = keras.Model(
        [words, numbers],
        {
            "plain": L.Hashing(num_bins=8)(words),
            "salted": L.Hashing(num_bins=16, salt=[133, 137])(words),
            "ints": L.Hashing(num_bins=5)(numbers),
            "ints_salted": L.Hashing(num_bins=7, salt=99)(numbers),
        },
    )
    save_keras(model, path)
    return Built(
        {
            "serving_default": {
                "words": _strings(["cat", "dog", "", "fish", "cat", "ünïcode"], (2, 3)),
                "numbers": np.array([[1, 2, 3], [-1, 1 << 40, 0]], np.int64),
            }
        }
    )


@case("normalization", "Normalization adapted per feature, and invert=True with explicit mean/variance")
def build_normalization(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    norm = L.Normalization(axis=-1)
    norm.adapt(rng(3).normal(2.0, 3.0, size=(50, 4)).astype(np.float32))
    inverse = L.Normalization(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 0.25], invert=True)
    inp = keras.Input((4,), name="features")
    model = keras.Model(inp, {"normalized": norm(inp), "denormalized": inverse(inp)})
    save_keras(model, path)
    return Built({"serving_default": {"features": rng().normal(size=(2, 4)).astype(np.float32)}})


@case("resizing", "Resizing bilinear, nearest, bicubic, area, and crop_to_aspect_ratio")
def build_resizing(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    inp = keras.Input((12, 10, 3), name="image")
    model = keras.Model(
        inp,
        {
            "bilinear": L.Resizing(8, 7)(inp),
            "nearest": L.Resizing(5, 15, interpolation="nearest")(inp),
            "bicubic": L.Resizing(9, 9, interpolation="bicubic")(inp),
            "area": L.Resizing(4, 5, interpolation="area")(inp),
            "cropped": L.Resizing(6, 6, crop_to_aspect_ratio=True)(inp),
        },
    )
    save_keras(model, path)
    return Built({"serving_default": {"image": rng().uniform(0, 255, (2, 12, 10, 3)).astype(np.float32)}})


@case("rescaling", "Rescaling(1/127.5, offset=-1) on uint8 cast and CenterCrop")
def build_rescaling(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    inp = keras.Input((6, 6, 3), name="image")
    model = keras.Model(
        inp,
        {
            "scaled": L.Rescaling(1 / 127.5, offset=-1)(inp),
            "cropped": L.CenterCrop(4, 3)(inp),
        },
    )
    save_keras(model, path)
    return Built({"serving_default": {"image": rng().integers(0, 256, (2, 6, 6, 3)).astype(np.float32)}})


@case("category_encoding", "CategoryEncoding one_hot, multi_hot, count (with count weights)")
def build_category_encoding(path: Path, case_dir: Path) -> Built:
    L = keras.layers
    single = keras.Input((1,), dtype="int32", name="single")
    multi = keras.Input((3,), dtype="int32", name="multi")
    model = keras.Model(
        [single, multi],
        {
            "one_hot": L.CategoryEncoding(num_tokens=5, output_mode="one_hot")(single),
            "multi_hot": L.CategoryEncoding(num_tokens=6, output_mode="multi_hot")(multi),
            "count": L.CategoryEncoding(num_tokens=6, output_mode="count")(multi),
        },
    )
    save_keras(model, path)
    return Built(
        {
            "serving_default": {
                "single": np.array([[3], [0]], np.int32),
                "multi": np.array([[1, 1, 5], [0, 2, 2]], np.int32),
            }
        }
    )


# --------------------------------------------------------------------------- tf.Module functions


def _module_case(
    name: str,
    description: str,
    specs: dict[str, Any],
    functions: dict[str, Callable[..., Any] | str],
    inputs: dict[str, dict[str, np.ndarray]],
    tolerances: dict[str, dict[str, Any]] | None = None,
    notes: str = "",
):
    """A tf.Module whose tf.functions (one per signature) take keyword tensors named as in `inputs`."""

    @case(name, description)
    def build(path: Path, case_dir: Path) -> Built:
        seed_all()
        module = tf.Module()
        signatures = {}
        for key, fn in functions.items():
            fn = globals()[fn] if isinstance(fn, str) else fn
            spec = specs[key]
            tf_fn = tf.function(
                fn,
                autograph=False,
                input_signature=[tf.TensorSpec(s[0], s[1], name=n) for n, s in spec.items()],
            )
            setattr(module, key, tf_fn)
            signatures[key] = tf_fn.get_concrete_function()
        save_module(module, path, signatures)
        keys = {}
        for key, fn in functions.items():  # the eager function's output keys, to check the saved signature
            fn = globals()[fn] if isinstance(fn, str) else fn
            keys[key] = set(fn(**{k: tf.constant(v) for k, v in inputs[key].items()}))
        return Built(inputs, tolerances=tolerances or {}, notes=notes, expected_keys=keys)

    return build


_SENTENCES = ["Hello world  foo", "a,b,c déjà vu", "", "The Quick Brown Fox"]
_SUBSTR_SENTENCES = ["Hello world", "déjà vu!", "abcdef", "The Quick"]


def _lazy(fn_name: str) -> str:
    """A function named for later lookup: its argument names become the signature's input keys."""
    return fn_name


def _string_split(text):
    parts = tf.strings.split(text)
    by_comma = tf.strings.split(text, sep=",", maxsplit=1)
    return {
        "tokens": parts.to_tensor(default_value=""),
        "row_lengths": parts.row_lengths(),
        "comma": by_comma.to_tensor(default_value="<none>"),
        "joined": tf.strings.reduce_join(parts, axis=1, separator="|"),
    }


def _string_regex(text):
    return {
        "vowels": tf.strings.regex_replace(text, "[aeiouAEIOU]", "_"),
        "first_word": tf.strings.regex_replace(text, r"^(\w+).*$", r"<\1>", replace_global=False),
        "full_match": tf.strings.regex_full_match(text, r".*[Ff]o.*"),
        "lower": tf.strings.lower(text),
        "upper": tf.strings.upper(text),
        "stripped": tf.strings.strip(text),
        "length": tf.strings.length(text),
        "chars": tf.strings.length(text, unit="UTF8_CHAR"),
    }


def _string_hash(text):
    return {
        "fast": tf.strings.to_hash_bucket_fast(text, 16),
        "strong": tf.strings.to_hash_bucket_strong(text, 16, key=[7, 11]),
        "legacy": tf.strings.to_hash_bucket(text, 10),
        "fingerprint": tf.fingerprint(text),
    }


def _string_substr(text):
    return {
        "bytes": tf.strings.substr(text, 1, 3),
        "chars": tf.strings.substr(text, 2, 4, unit="UTF8_CHAR"),
        "number": tf.strings.to_number(tf.constant(["1.5", "-2", "3e2"])),
        "as_string": tf.strings.as_string(tf.constant([1.25, -3.0]), precision=2),
        "format": tf.strings.format("x={} y={}", (tf.constant(3), tf.constant([1.5, 2.0]))),
        "concat": tf.strings.join([text, tf.constant("!")], separator="~"),
    }


def _string_unicode(text):
    decoded = tf.strings.unicode_decode(text, "UTF-8")
    return {
        "codepoints": decoded.to_tensor(default_value=-1),
        "lengths": decoded.row_lengths(),
        "reencoded": tf.strings.unicode_encode(decoded, "UTF-8"),
        "script": tf.strings.unicode_script(tf.constant([72, 0x4E2D, 0x0410], tf.int32)),
        "transcoded": tf.strings.unicode_transcode(text, "UTF-8", "UTF-16-BE"),
    }


for _key, _desc in [
    ("string_split", "tf.strings.split (whitespace, sep+maxsplit) -> ragged to_tensor, reduce_join"),
    ("string_regex", "regex_replace, regex_full_match, lower/upper/strip, length (bytes/chars)"),
    ("string_hash", "to_hash_bucket_fast/strong/legacy, fingerprint"),
    ("string_substr", "substr bytes/UTF8_CHAR, to_number, as_string, format, join"),
    ("string_unicode", "unicode_decode -> ragged, unicode_encode, unicode_script, transcode"),
]:
    _module_case(
        _key,
        _desc,
        {"serving_default": {"text": ([None], "string")}},
        {"serving_default": _lazy("_" + _key)},
        # substr fails (as TensorFlow's kernel does) when pos is past a string's end: no "" there
        {"serving_default": {"text": _strings(_SUBSTR_SENTENCES if _key == "string_substr" else _SENTENCES)}},
    )


@case("hash_table_asset", "StaticHashTable from a vocabulary asset file (TextFileInitializer), lookup + size")
def build_hash_table(path: Path, case_dir: Path) -> Built:
    workdir = Path(tempfile.mkdtemp())
    vocab = workdir / "vocab.txt"
    vocab.write_text("apple\nbanana\ncherry\ndate\n")

    class Table(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vocab = tf.saved_model.Asset(str(vocab))
            init = tf.lookup.TextFileInitializer(
                self.vocab,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            )
            self.table = tf.lookup.StaticHashTable(init, default_value=-1)

        @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name="keys")])
        def lookup(self, keys):
            return {"ids": self.table.lookup(keys), "size": self.table.size()}

    module = Table()
    save_module(module, path, {"serving_default": module.lookup.get_concrete_function()})
    shutil.rmtree(workdir)
    return Built({"serving_default": {"keys": _strings(["cherry", "kiwi", "apple", "date"])}})


def _image_resize(images):
    return {
        "bilinear": tf.image.resize(images, [9, 7], method="bilinear"),
        "nearest": tf.image.resize(images, [3, 4], method="nearest"),
        "bicubic": tf.image.resize(images, [8, 8], method="bicubic"),
        "bilinear_antialias": tf.image.resize(images, [3, 3], method="bilinear", antialias=True),
        "v1_align_corners": tf.compat.v1.image.resize_bilinear(images, [9, 7], align_corners=True),
        "v1_nearest_legacy": tf.compat.v1.image.resize_nearest_neighbor(images, [9, 7]),
        "crop_and_resize": tf.image.crop_and_resize(
            images, [[0.1, 0.1, 0.8, 0.9], [0.0, 0.0, 1.0, 1.0]], [0, 1], [4, 4]
        ),
        "flipped": tf.image.flip_left_right(images),
        "gray": tf.image.rgb_to_grayscale(images),
    }


_module_case(
    "image_resize",
    "tf.image.resize bilinear/nearest/bicubic/antialias, v1 align_corners, "
    "crop_and_resize, flip, rgb_to_grayscale",
    {"serving_default": {"images": ([None, 6, 5, 3], "float32")}},
    {"serving_default": _lazy("_image_resize")},
    {"serving_default": {"images": rng(11).uniform(0, 1, (2, 6, 5, 3)).astype(np.float32)}},
)


def _image_decode(png, jpeg):
    return {
        "png": tf.io.decode_png(png, channels=3),
        "png_gray": tf.io.decode_png(png, channels=1),
        "jpeg": tf.io.decode_jpeg(jpeg, channels=3),
        "jpeg_shape": tf.io.extract_jpeg_shape(jpeg),
        "generic": tf.io.decode_image(png, channels=3, expand_animations=False),
    }


def _image_encode(pixels):
    return {"png": tf.io.encode_png(pixels), "jpeg": tf.io.encode_jpeg(pixels, quality=90)}


def _smooth_image() -> np.ndarray:
    yy, xx = np.mgrid[0:12, 0:16]
    image = np.stack([xx * 15, yy * 20, (xx + yy) * 8], axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


@case("image_codecs_decode", "decode_png (rgb, gray), decode_jpeg, extract_jpeg_shape, decode_image")
def build_image_decode(path: Path, case_dir: Path) -> Built:
    image = _smooth_image()
    png = tf.io.encode_png(image).numpy()
    jpeg = tf.io.encode_jpeg(image, quality=95).numpy()
    module = tf.Module()
    module.decode = tf.function(
        _image_decode,
        autograph=False,
        input_signature=[tf.TensorSpec([], tf.string, name="png"), tf.TensorSpec([], tf.string, name="jpeg")],
    )
    save_module(module, path, {"serving_default": module.decode.get_concrete_function()})
    png_arr, jpeg_arr = np.array(png, dtype=object), np.array(jpeg, dtype=object)
    return Built(
        {"serving_default": {"png": png_arr, "jpeg": jpeg_arr}},
        tolerances={
            "serving_default/jpeg": {
                "atol": 1,
                "rtol": 0,
                "reason": "decode_jpeg's default dct_method is documented as system-specific; "
                "IDCT implementations may differ by one level",
            }
        },
    )


_module_case(
    "image_codecs_encode",
    "encode_png and encode_jpeg(quality=90): compared byte for byte (libpng/zlib and libjpeg encoders)",
    {"serving_default": {"pixels": ([12, 16, 3], "uint8")}},
    {"serving_default": _lazy("_image_encode")},
    {"serving_default": {"pixels": _smooth_image()}},
)


def _gather_scatter(params, indices, segments):
    values, positions = tf.math.top_k(params, k=3)
    return {
        "gather_axis1": tf.gather(params, indices, axis=1),
        "gather_batch": tf.gather(
            params, tf.stack([indices[:2], indices[1:3], indices[2:4]]), axis=1, batch_dims=1
        ),
        "gather_nd": tf.gather_nd(params, [[0, 1], [1, 4], [2, 0]]),
        "scatter_nd": tf.scatter_nd(
            tf.reshape(indices, [-1, 1]), tf.ones_like(indices, tf.float32) * 2.0, [6]
        ),
        "tensor_scatter_update": tf.tensor_scatter_nd_update(params, [[0, 0], [2, 3]], [-1.0, -2.0]),
        "tensor_scatter_add": tf.tensor_scatter_nd_add(params, [[1, 1], [1, 1]], [5.0, 5.0]),
        "top_k_values": values,
        "top_k_indices": positions,
        "segment_sum": tf.math.segment_sum(params, segments),
        "segment_mean": tf.math.segment_mean(params, segments),
        "unsorted_segment_max": tf.math.unsorted_segment_max(params, [1, 0, 1], num_segments=3),
        "unsorted_segment_sum": tf.math.unsorted_segment_sum(params, [2, 0, 2], num_segments=3),
        "argsort": tf.argsort(params, axis=-1, direction="DESCENDING", stable=True),
        "where": tf.where(params > 0.5),
        "boolean_mask": tf.boolean_mask(params, params[:, 0] > 0.0),
    }


_module_case(
    "gather_scatter",
    "gather (axis, batch_dims), gather_nd, scatter_nd, tensor_scatter_nd_*, "
    "top_k, segment_sum/mean, unsorted_segment_*, argsort, where, boolean_mask",
    {
        "serving_default": {
            "params": ([3, 6], "float32"),
            "indices": ([4], "int32"),
            "segments": ([3], "int32"),
        }
    },
    {"serving_default": _lazy("_gather_scatter")},
    {
        "serving_default": {
            "params": rng(12).permutation(18).reshape(3, 6).astype(np.float32) / 10 - 0.6,
            "indices": np.array([5, 0, 3, 3], np.int32),
            "segments": np.array([0, 0, 2], np.int32),
        }
    },
)


def _sparse(dense, weights):
    sp = tf.sparse.from_dense(dense)
    reordered = tf.sparse.reorder(tf.sparse.transpose(sp))
    return {
        "indices": sp.indices,
        "values": sp.values,
        "dense_shape": sp.dense_shape,
        "matmul": tf.sparse.sparse_dense_matmul(sp, weights),
        "reduce_sum": tf.sparse.reduce_sum(sp, axis=1),
        "transposed_dense": tf.sparse.to_dense(reordered),
        "added": tf.sparse.to_dense(tf.sparse.add(sp, sp)),
        "retained": tf.sparse.to_dense(tf.sparse.retain(sp, sp.values > 0.0)),
        "segment_sum": tf.sparse.segment_sum(weights, [0, 1, 3], [0, 0, 1]),
        "fill_empty_rows": tf.sparse.to_dense(tf.sparse.fill_empty_rows(sp, -1.0)[0]),
        "embedding_lookup": tf.nn.embedding_lookup_sparse(
            weights,
            tf.sparse.SparseTensor([[0, 0], [0, 1], [1, 0]], tf.constant([1, 3, 2], tf.int64), [2, 2]),
            None,
            combiner="mean",
        ),
    }


_module_case(
    "sparse_ops",
    "SparseTensor from_dense, sparse_dense_matmul, reduce_sum, transpose+reorder, add, "
    "retain, sparse segment_sum, fill_empty_rows, embedding_lookup_sparse",
    {"serving_default": {"dense": ([3, 4], "float32"), "weights": ([4, 2], "float32")}},
    {"serving_default": _lazy("_sparse")},
    {
        "serving_default": {
            "dense": np.array([[0, 1.5, 0, -2], [0, 0, 0, 0], [3, 0, 0.5, 0]], np.float32),
            "weights": rng(13).normal(size=(4, 2)).astype(np.float32),
        }
    },
)


def _low_precision(dtype: str):
    def fn(x):
        r = np.random.default_rng(SEED + 21)
        w = tf.constant(r.normal(size=(4, 5)).astype(np.float32), dtype=dtype)
        kernel = tf.constant(r.normal(size=(2, 2, 1, 3)).astype(np.float32), dtype=dtype)
        h = tf.matmul(x, w)
        image = tf.reshape(x, [-1, 2, 2, 1])
        return {
            "matmul": h,
            "relu_bias": tf.nn.relu(h + tf.constant(0.25, dtype)),
            "softmax": tf.nn.softmax(h),
            "mean": tf.reduce_mean(h, axis=0),
            "conv": tf.nn.conv2d(image, kernel, strides=1, padding="SAME"),
            "tanh": tf.tanh(x),
            "as_float32": tf.cast(h, tf.float32),
        }

    return fn


for _dtype, _atol in [("float16", 2e-3), ("bfloat16", 2e-2)]:
    _module_case(
        f"{_dtype}_compute",
        f"{_dtype} matmul, bias+relu, softmax, reduce_mean, conv2d, tanh, cast",
        {"serving_default": {"x": ([None, 4], _dtype)}},
        {"serving_default": _low_precision(_dtype)},
        {
            "serving_default": {
                "x": rng(20)
                .normal(size=(2, 4))
                .astype(np.float32)
                .astype(np.float16 if _dtype == "float16" else ml_dtypes.bfloat16)
            }
        },
        tolerances={
            "*": {
                "rtol": 1e-2 if _dtype == "bfloat16" else 2e-3,
                "atol": _atol,
                "reason": f"{_dtype} results carry {_dtype} precision; TensorFlow's CPU kernels accumulate "
                "in float32 in an unspecified order, so the last bit may differ",
            }
        },
    )


def _ragged(values, lengths):
    rt = tf.RaggedTensor.from_row_lengths(values, lengths)
    return {
        "row_splits": rt.row_splits,
        "to_tensor": rt.to_tensor(default_value=-1.0),
        "row_sum": tf.reduce_sum(rt, axis=1),
        "row_max": tf.reduce_max(rt, axis=1),
        "scaled_flat": tf.ragged.map_flat_values(tf.multiply, rt, 2.0).flat_values,
        "gathered": tf.gather(rt, [2, 0]).to_tensor(),
        "range": tf.ragged.range(lengths).flat_values,
        "boolean_mask": tf.ragged.boolean_mask(rt, rt > 0.0).to_tensor(),
        "from_tensor_lengths": tf.RaggedTensor.from_tensor(rt.to_tensor(), lengths=lengths).row_lengths(),
        "concat": tf.concat([rt, rt], axis=1).to_tensor(),
    }


_module_case(
    "ragged",
    "RaggedTensor from_row_lengths, to_tensor, reduce_sum/max, map_flat_values, gather, "
    "ragged.range, boolean_mask, from_tensor, concat axis 1",
    {"serving_default": {"values": ([None], "float32"), "lengths": ([None], "int64")}},
    {"serving_default": _lazy("_ragged")},
    {
        "serving_default": {
            "values": np.array([1.0, -2.0, 3.0, 0.5, -0.5, 4.0], np.float32),
            "lengths": np.array([2, 0, 3, 1], np.int64),
        }
    },
)


# --------------------------------------------------------------------------- beyond the brief


def _stateless_random(seed):
    return {
        "uniform": tf.random.stateless_uniform([3, 4], seed=seed),
        "normal": tf.random.stateless_normal([5], seed=seed, mean=1.0, stddev=2.0),
        "truncated": tf.random.stateless_truncated_normal([4], seed=seed),
        "ints": tf.random.stateless_uniform([6], seed=seed, minval=0, maxval=10, dtype=tf.int32),
        "categorical": tf.random.stateless_categorical(tf.math.log([[0.2, 0.3, 0.5]]), 6, seed=seed),
        "shuffle_free_binomial": tf.random.stateless_binomial([4], seed=seed, counts=10.0, probs=0.3),
    }


_module_case(
    "stateless_random",
    "stateless_uniform/normal/truncated_normal/int uniform/categorical/binomial (Philox, seeded by input)",
    {"serving_default": {"seed": ([2], "int32")}},
    {"serving_default": _lazy("_stateless_random")},
    {"serving_default": {"seed": np.array([7, 42], np.int32)}},
)


def _signal(audio):
    spectrum = tf.signal.rfft(audio)
    stft = tf.signal.stft(audio, frame_length=16, frame_step=8, fft_length=16)
    magnitude = tf.abs(stft)
    mel = tf.signal.linear_to_mel_weight_matrix(8, 9, 8000, 20.0, 3800.0)
    log_mel = tf.math.log(tf.tensordot(magnitude, mel, 1) + 1e-6)
    return {
        "rfft_abs": tf.abs(spectrum),
        "irfft": tf.signal.irfft(spectrum),
        "stft_magnitude": magnitude,
        "mfccs": tf.signal.mfccs_from_log_mel_spectrograms(log_mel),
        "fft_real": tf.math.real(tf.signal.fft(tf.complex(audio, 0.0 * audio))),
        "frames": tf.signal.frame(audio, 8, 4),
    }


_module_case(
    "signal_fft",
    "tf.signal rfft/irfft/fft, stft (hann window), mel matrix, mfccs, frame",
    {"serving_default": {"audio": ([2, 64], "float32")}},
    {"serving_default": _lazy("_signal")},
    {"serving_default": {"audio": rng(40).normal(size=(2, 64)).astype(np.float32)}},
)


def _linalg(matrix, rhs):
    spd = tf.matmul(matrix, matrix, transpose_b=True) + 4.0 * tf.eye(4)
    q, r = tf.linalg.qr(matrix)
    return {
        "inverse": tf.linalg.inv(spd),
        "cholesky": tf.linalg.cholesky(spd),
        "solve": tf.linalg.solve(spd, rhs),
        "triangular_solve": tf.linalg.triangular_solve(tf.linalg.cholesky(spd), rhs, lower=True),
        "determinant": tf.linalg.det(spd),
        "eigvalsh": tf.linalg.eigvalsh(spd),
        "singular_values": tf.linalg.svd(matrix, compute_uv=False),
        "qr_product": tf.matmul(q, r),
        "band_part": tf.linalg.band_part(matrix, 1, 0),
        "trace": tf.linalg.trace(matrix),
        "einsum": tf.einsum("ij,jk->ik", matrix, rhs),
    }


_module_case(
    "linalg",
    "inv, cholesky, solve, triangular_solve, det, eigvalsh, svd values, Q@R, band_part, trace, einsum",
    {"serving_default": {"matrix": ([4, 4], "float32"), "rhs": ([4, 2], "float32")}},
    {"serving_default": _lazy("_linalg")},
    {
        "serving_default": {
            "matrix": rng(41).normal(size=(4, 4)).astype(np.float32),
            "rhs": rng(42).normal(size=(4, 2)).astype(np.float32),
        }
    },
)


def _misc_keras(x: Any) -> dict[str, Any]:
    L = keras.layers
    grouped = L.Conv2D(4, 3, padding="same", groups=2)(x)
    up = L.UpSampling2D(2, interpolation="bilinear")(grouped)
    padded = L.Cropping2D(((2, 0), (0, 2)))(L.ZeroPadding2D(1)(up))
    acts = L.PReLU()(L.LeakyReLU(0.2)(padded))
    seq = L.Reshape((6, -1))(L.ELU()(acts))
    attended = L.Attention(use_scale=True)([seq, seq])
    additive = L.AdditiveAttention()([seq, seq])
    timed = L.TimeDistributed(L.Dense(3, activation="softplus"))(attended)
    frames = L.Reshape((2, 3, 3, 1))(timed)
    conv_lstm = L.ConvLSTM2D(2, 2, padding="same")(frames)
    return {
        "attention": timed,
        "additive": L.GlobalMaxPooling1D()(additive),
        "conv_lstm": conv_lstm,
        "swish": L.Activation("swish")(L.Dense(4)(L.Flatten()(conv_lstm))),
    }


_layers_case(
    "keras_misc_layers",
    "Conv2D groups=2, UpSampling2D bilinear, ZeroPadding2D, Cropping2D, LeakyReLU, PReLU, ELU, Attention, "
    "AdditiveAttention, TimeDistributed(Dense softplus), ConvLSTM2D, swish",
    (6, 6, 2),
    _misc_keras,
)


def _detection(boxes, scores):
    selected, valid = tf.image.non_max_suppression_padded(
        boxes, scores, max_output_size=4, iou_threshold=0.5, score_threshold=0.1, pad_to_max_output_size=True
    )
    nms = tf.image.non_max_suppression_with_scores(boxes, scores, 4, iou_threshold=0.5, soft_nms_sigma=0.5)
    combined = tf.image.combined_non_max_suppression(
        tf.reshape(boxes, [1, -1, 1, 4]), tf.reshape(scores, [1, -1, 1]), 3, 3, iou_threshold=0.4
    )
    canvas = tf.zeros([1, 8, 8, 3])
    return {
        "nms_v4_indices": selected,
        "nms_v4_valid": valid,
        "soft_nms_indices": nms[0],
        "soft_nms_scores": nms[1],
        "combined_boxes": combined.nmsed_boxes,
        "combined_scores": combined.nmsed_scores,
        "combined_valid": combined.valid_detections,
        "drawn": tf.image.draw_bounding_boxes(canvas, tf.reshape(boxes[:2], [1, 2, 4]), [[1.0, 0.0, 0.0]]),
        "padded": tf.image.pad_to_bounding_box(canvas[..., :1] + 1.0, 1, 2, 10, 11),
    }


_module_case(
    "detection_postprocess",
    "object-detection post-processing: NMS v4 (padded) and v5 (soft-NMS scores), combined NMS, "
    "draw_bounding_boxes, pad_to_bounding_box",
    {"serving_default": {"boxes": ([6, 4], "float32"), "scores": ([6], "float32")}},
    {"serving_default": _lazy("_detection")},
    {
        "serving_default": {
            "boxes": np.array(
                [
                    [0, 0, 0.5, 0.5],
                    [0.05, 0.05, 0.55, 0.5],
                    [0.5, 0.5, 1, 1],
                    [0.1, 0.6, 0.4, 0.9],
                    [0.52, 0.5, 1, 0.95],
                    [0.0, 0.0, 0.2, 0.2],
                ],
                np.float32,
            ),
            "scores": np.array([0.9, 0.85, 0.6, 0.3, 0.58, 0.05], np.float32),
        }
    },
)


def _parsing(serialized, csv_lines, raw):
    features = tf.io.parse_example(
        serialized,
        {
            "ids": tf.io.VarLenFeature(tf.int64),
            "tokens": tf.io.RaggedFeature(tf.string),
            "dense": tf.io.FixedLenFeature([2], tf.float32, default_value=[0.0, -1.0]),
            "seq": tf.io.FixedLenSequenceFeature([], tf.int64, allow_missing=True),
        },
    )
    columns = tf.io.decode_csv(csv_lines, [[0], [0.0], ["none"]], field_delim=";")
    return {
        "ids_indices": features["ids"].indices,
        "ids_values": features["ids"].values,
        "ids_shape": features["ids"].dense_shape,
        "tokens": features["tokens"].to_tensor(default_value=""),
        "dense": features["dense"],
        "seq": features["seq"],
        "csv_int": columns[0],
        "csv_float": columns[1],
        "csv_string": columns[2],
        "decode_raw": tf.io.decode_raw(raw, tf.int16),
        "tensor_round_trip": tf.io.parse_tensor(
            tf.io.serialize_tensor(tf.io.decode_raw(raw, tf.uint8)), tf.uint8
        ),
    }


def _examples_for_parsing() -> np.ndarray:
    from tensorflow.core.example import example_pb2, feature_pb2  # oracle-only import

    def example(ids: list[int], tokens: list[bytes], dense: list[float] | None, seq: list[int]) -> bytes:
        feature = {
            "ids": feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=ids)),
            "tokens": feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=tokens)),
            "seq": feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=seq)),
        }
        if dense is not None:
            feature["dense"] = feature_pb2.Feature(float_list=feature_pb2.FloatList(value=dense))
        return example_pb2.Example(features=feature_pb2.Features(feature=feature)).SerializeToString()

    return np.array(
        [example([3, 1, 4], [b"a", b"bc"], [1.5, 2.5], [7]), example([], [b"d"], None, [1, 2, 3])],
        dtype=object,
    )


@case(
    "parsing_features",
    "parse_example with VarLenFeature (sparse), RaggedFeature, FixedLenFeature default, "
    "FixedLenSequenceFeature; decode_csv; decode_raw; serialize/parse_tensor",
)
def build_parsing(path: Path, case_dir: Path) -> Built:
    module = tf.Module()
    module.parse = tf.function(
        _parsing,
        autograph=False,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="serialized"),
            tf.TensorSpec([None], tf.string, name="csv_lines"),
            tf.TensorSpec([], tf.string, name="raw"),
        ],
    )
    save_module(module, path, {"serving_default": module.parse.get_concrete_function()})
    inputs = {
        "serialized": _examples_for_parsing(),
        "csv_lines": _strings(["1;2.5;x", ";;", '-7;1e3;"q;q"']),
        "raw": np.array(bytes(range(1, 9)), dtype=object),
    }
    return Built({"serving_default": inputs})


def _control_flow(x, n):
    def body(i, acc):
        return i + 1, acc * 0.5 + tf.cast(i, tf.float32)

    _, looped = tf.while_loop(lambda i, acc: i < n, body, [tf.constant(0), x])
    array = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    for_i = tf.constant(0)

    def ta_body(i, ta):
        return i + 1, ta.write(i, tf.reduce_sum(x) * tf.cast(i, tf.float32))

    _, array = tf.while_loop(lambda i, ta: i < n, ta_body, [for_i, array])
    return {
        "cond": tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0),
        "while": looped,
        "switch_case": tf.switch_case(n % 3, [lambda: x + 1.0, lambda: x * x, lambda: -x]),
        "map_fn": tf.map_fn(lambda row: tf.reduce_max(row) - row, x),
        "scan": tf.scan(lambda a, b: a + b, x),
        "foldl": tf.foldl(lambda a, b: a * 0.5 + b, x),
        "tensor_array": array.stack(),
        "cumsum_rev_excl": tf.math.cumsum(x, axis=1, exclusive=True, reverse=True),
    }


_module_case(
    "control_flow_v2",
    "tf.function control flow v2: cond (If), while_loop, switch_case (Case), map_fn, scan, foldl, "
    "TensorArray in a loop",
    {"serving_default": {"x": ([None, 3], "float32"), "n": ([], "int32")}},
    {"serving_default": _lazy("_control_flow")},
    {"serving_default": {"x": rng(50).normal(size=(4, 3)).astype(np.float32), "n": np.array(5, np.int32)}},
)


def _misc_math(x, ids, text):
    unique = tf.unique_with_counts(ids)
    return {
        "searchsorted": tf.searchsorted(tf.sort(x[0]), x[1]),
        "unique": unique.y,
        "unique_idx": unique.idx,
        "unique_count": unique.count,
        "bincount": tf.math.bincount(ids, minlength=6),
        "histogram": tf.histogram_fixed_width(x, [-2.0, 2.0], nbins=5),
        "one_hot": tf.one_hot(ids, 4, on_value=2.0, off_value=-1.0),
        "bitcast": tf.bitcast(x, tf.int32),
        "clip_by_norm": tf.clip_by_norm(x, 1.0),
        "l2_normalize": tf.math.l2_normalize(x, axis=1),
        "ngrams": tf.strings.ngrams(tf.strings.split(text), 2, separator="+").to_tensor(default_value=""),
        "logsumexp": tf.reduce_logsumexp(x, axis=1),
        "erfinv": tf.math.erfinv(tf.clip_by_value(x / 3.0, -0.9, 0.9)),
        "lgamma": tf.math.lgamma(tf.abs(x) + 0.5),
        "atan2": tf.math.atan2(x, x[::-1]),
        "floormod": tf.math.floormod(ids - 3, 4),
        "rint": tf.math.rint(x * 2.0),
    }


_module_case(
    "misc_math",
    "searchsorted, unique_with_counts, bincount, histogram_fixed_width, one_hot, bitcast, clip_by_norm, "
    "l2_normalize, strings.ngrams, logsumexp, erfinv, lgamma, atan2, floormod, rint",
    {"serving_default": {"x": ([2, 5], "float32"), "ids": ([6], "int32"), "text": ([2], "string")}},
    {"serving_default": _lazy("_misc_math")},
    {
        "serving_default": {
            "x": rng(51).normal(size=(2, 5)).astype(np.float32),
            "ids": np.array([3, 1, 3, 0, 5, 1], np.int32),
            "text": _strings(["a b c d", "hello world"]),
        }
    },
)


# --------------------------------------------------------------------------- TF1 graphs


def _builder_save(path: Path, sess: Any, signatures: dict[str, Any], main_op: Any = None) -> None:
    builder = tf.compat.v1.saved_model.Builder(str(path))
    builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=signatures, main_op=main_op)
    builder.save()


def _predict(inputs: dict[str, Any], outputs: dict[str, Any]) -> Any:
    return tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)


def _tf1_cnn(images: Any) -> Any:
    v1 = tf.compat.v1
    r = rng(30)
    w1 = v1.get_variable("conv1/w", initializer=r.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32))
    b1 = v1.get_variable("conv1/b", initializer=r.normal(0, 0.1, (4,)).astype(np.float32))
    w2 = v1.get_variable("fc/w", initializer=r.normal(0, 0.3, (4 * 4 * 4, 5)).astype(np.float32))
    b2 = v1.get_variable("fc/b", initializer=r.normal(0, 0.1, (5,)).astype(np.float32))
    x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(images, w1, strides=[1, 1, 1, 1], padding="SAME"), b1))
    x = tf.nn.max_pool2d(x, 2, 2, "VALID")
    x = tf.reshape(x, [-1, 4 * 4 * 4])
    logits = tf.compat.v1.nn.xw_plus_b(x, w2, b2, name="logits")
    return tf.nn.softmax(logits, name="probabilities"), logits


@case(
    "tf1_frozen_cnn",
    "TF1 CNN frozen with convert_variables_to_constants (frozen.pb), re-imported and wrapped as a SavedModel",
)
def build_frozen_cnn(path: Path, case_dir: Path) -> Built:
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        images = v1.placeholder(tf.float32, [None, 8, 8, 3], name="images")
        _tf1_cnn(images)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            frozen = v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), ["probabilities", "logits"]
            )
    (case_dir / "frozen.pb").write_bytes(frozen.SerializeToString())
    with tf.Graph().as_default() as wrapped:
        tf.graph_util.import_graph_def(frozen, name="")
        with v1.Session(graph=wrapped) as sess:
            get = wrapped.get_tensor_by_name
            _builder_save(
                path,
                sess,
                {
                    "serving_default": _predict(
                        {"images": get("images:0")},
                        {"probabilities": get("probabilities:0"), "logits": get("logits:0")},
                    )
                },
            )
    return Built({"serving_default": {"images": rng(31).normal(size=(2, 8, 8, 3)).astype(np.float32)}})


@case(
    "tf1_layers_batchnorm",
    "tf.compat.v1.layers conv2d + batch_normalization(training=False) + dense, "
    "random moving statistics, SavedModelBuilder",
)
def build_tf1_layers(path: Path, case_dir: Path) -> Built:
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        v1.set_random_seed(SEED)
        x = v1.placeholder(tf.float32, [None, 6, 6, 2], name="x")
        h = v1.layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu)
        h = v1.layers.batch_normalization(h, training=False)
        h = v1.layers.flatten(h)
        h = v1.layers.dense(h, 3)
        h = v1.layers.batch_normalization(h, training=False, scale=False)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            r = rng(32)
            for var in v1.global_variables():
                if "moving_variance" in var.name:
                    var.load(r.uniform(0.5, 2.0, var.shape).astype(np.float32), sess)
                elif "moving_mean" in var.name or "beta" in var.name or "gamma" in var.name:
                    var.load(r.normal(size=var.shape).astype(np.float32), sess)
            _builder_save(path, sess, {"serving_default": _predict({"x": x}, {"y": h})})
    return Built({"serving_default": {"x": rng(33).normal(size=(2, 6, 6, 2)).astype(np.float32)}})


def _dynamic_rnn_case(name: str, control_flow_v2: bool):
    @case(
        name,
        "tf.compat.v1.nn.dynamic_rnn with an LSTMCell and sequence_length "
        + ("(control flow v2: While)" if control_flow_v2 else "(control flow v1: Enter/Exit/Switch/Merge)"),
    )
    def build(path: Path, case_dir: Path) -> Built:
        v1 = tf.compat.v1
        if not control_flow_v2:
            v1.disable_control_flow_v2()
        try:
            with tf.Graph().as_default():
                v1.set_random_seed(SEED)
                x = v1.placeholder(tf.float32, [None, 5, 3], name="x")
                lengths = v1.placeholder(tf.int32, [None], name="lengths")
                cell = v1.nn.rnn_cell.LSTMCell(4)
                outputs, state = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
                with v1.Session() as sess:
                    sess.run(v1.global_variables_initializer())
                    _builder_save(
                        path,
                        sess,
                        {
                            "serving_default": _predict(
                                {"x": x, "lengths": lengths}, {"outputs": outputs, "c": state.c, "h": state.h}
                            )
                        },
                    )
        finally:
            if not control_flow_v2:
                v1.enable_control_flow_v2()
        return Built(
            {
                "serving_default": {
                    "x": rng(34).normal(size=(2, 5, 3)).astype(np.float32),
                    "lengths": np.array([5, 2], np.int32),
                }
            }
        )

    return build


_dynamic_rnn_case("tf1_dynamic_rnn_v1_loops", control_flow_v2=False)
_dynamic_rnn_case("tf1_dynamic_rnn", control_flow_v2=True)


@case(
    "tf1_cond_v1",
    "TF1 graph with control flow v1: tf.cond (Switch/Merge), tf.case, nested cond in a while_loop",
)
def build_tf1_cond(path: Path, case_dir: Path) -> Built:
    v1 = tf.compat.v1
    v1.disable_control_flow_v2()
    try:
        with tf.Graph().as_default():
            x = v1.placeholder(tf.float32, [None], name="x")
            k = v1.placeholder(tf.int32, [], name="k")
            total = tf.reduce_sum(x)
            branch = tf.cond(total > 0.0, lambda: x * 3.0, lambda: x - 3.0)
            chosen = tf.case(
                [(tf.equal(k, 0), lambda: x + 10.0), (tf.equal(k, 1), lambda: x * x)], default=lambda: -x
            )
            _, looped = tf.while_loop(
                lambda i, v: i < k + 2,
                lambda i, v: (i + 1, tf.cond(tf.reduce_sum(v) > 1.0, lambda: v * 0.5, lambda: v + 1.0)),
                [tf.constant(0), x],
            )
            with v1.Session() as sess:
                _builder_save(
                    path,
                    sess,
                    {
                        "serving_default": _predict(
                            {"x": x, "k": k}, {"cond": branch, "case": chosen, "loop": looped}
                        )
                    },
                )
    finally:
        v1.enable_control_flow_v2()
    return Built(
        {"serving_default": {"x": np.array([0.5, -2.0, 1.25], np.float32), "k": np.array(1, np.int32)}}
    )


def _example(x: list[float], kind: str) -> bytes:
    feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=x))}
    if kind:
        feature["kind"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[kind.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@case(
    "tf1_example_parsing",
    "tf.Example serving input (ParseExampleV2, default for a missing feature), "
    "classify + regress + predict signatures, legacy_init_op table",
)
def build_example_parsing(path: Path, case_dir: Path) -> Built:
    v1 = tf.compat.v1
    sm = v1.saved_model
    with tf.Graph().as_default():
        serialized = v1.placeholder(tf.string, [None], name="tf_example")
        features = v1.io.parse_example(
            serialized,
            {
                "x": v1.io.FixedLenFeature([3], tf.float32),
                "kind": v1.io.FixedLenFeature([], tf.string, default_value="b"),
            },
        )
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(["a", "b", "c"], [0.0, 1.0, 2.0]), default_value=-1.0
        )
        kind_value = table.lookup(features["kind"])
        r = rng(35)
        w = tf.constant(r.normal(size=(3, 2)).astype(np.float32))
        logits = tf.matmul(features["x"], w) + kind_value[:, None]
        scores = tf.nn.softmax(logits)
        batch = tf.shape(scores)[0]
        classes = tf.tile(tf.constant([["neg", "pos"]]), [batch, 1])
        value = tf.reduce_sum(features["x"], axis=1, keepdims=True) * 0.5 + kind_value[:, None]
        with v1.Session() as sess:
            sess.run(v1.tables_initializer())
            builder = sm.Builder(str(path))
            builder.add_meta_graph_and_variables(
                sess,
                ["serve"],
                signature_def_map={
                    "classify": sm.classification_signature_def(serialized, classes, scores),
                    "regress": sm.regression_signature_def(serialized, value),
                    "serving_default": _predict(
                        {"examples": serialized}, {"scores": scores, "kind": features["kind"]}
                    ),
                },
                main_op=v1.tables_initializer(),
            )
            builder.save()
    examples = np.array(
        [_example([1.0, 2.0, 3.0], "a"), _example([0.5, -1.0, 0.0], ""), _example([-2.0, 0.25, 4.0], "c")],
        dtype=object,
    )
    return Built(
        {
            key: {"inputs" if key != "serving_default" else "examples": examples}
            for key in ("classify", "regress", "serving_default")
        }
    )


# --------------------------------------------------------------------------- driver


def run_signatures(
    path: Path, tags: list[str], inputs: dict[str, dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """TensorFlow's outputs for every signature, from the SavedModel on disk."""
    v1 = tf.compat.v1
    outputs: dict[str, np.ndarray] = {}
    described: dict[str, Any] = {}
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as sess:
        meta_graph = v1.saved_model.loader.load(sess, tags, str(path))
        for key, signature in sorted(meta_graph.signature_def.items()):
            if key.startswith("__"):
                continue
            if key not in inputs:
                raise SystemExit(f"{path}: no inputs given for signature {key!r}")
            given = inputs[key]
            if set(given) != set(signature.inputs):
                raise SystemExit(
                    f"{path}: signature {key!r} takes {sorted(signature.inputs)}, "
                    f"inputs given for {sorted(given)}"
                )
            feeds = {signature.inputs[k].name: v for k, v in given.items()}
            fetches = {k: signature.outputs[k].name for k in signature.outputs}
            results = sess.run(fetches, feeds)
            described[key] = {
                "inputs": sorted(signature.inputs),
                "outputs": sorted(signature.outputs),
                "method_name": signature.method_name,
            }
            for k, v in results.items():
                outputs[f"{key}/{k}"] = np.asarray(v)
    return outputs, described


def generate(case_: Case, out: Path, force: bool) -> str:
    target = out / case_.name
    if (target / "case.json").exists() and not force:
        return "kept"
    staging = Path(tempfile.mkdtemp(prefix=f".{case_.name}.", dir=out))
    try:
        saved = staging / "saved_model"
        start = time.time()
        built = case_.build(saved, staging)
        outputs, described = run_signatures(saved, built.tags, built.inputs)
        for signature, keys in built.expected_keys.items():
            if set(described[signature]["outputs"]) != keys:
                raise RuntimeError(
                    f"signature {signature!r} has outputs {described[signature]['outputs']}, "
                    f"the function returns {sorted(keys)}"
                )
        flat_inputs = {
            f"{sig}/{k}": np.asarray(v) for sig, values in built.inputs.items() for k, v in values.items()
        }
        npzio.save(staging / "inputs.npz", flat_inputs)
        npzio.save(staging / "outputs.npz", outputs)
        meta = {
            "name": case_.name,
            "group": case_.group,
            "description": case_.description,
            "tags": built.tags,
            "signatures": described,
            "tolerances": built.tolerances,
            "notes": built.notes,
            "tensorflow": tf.__version__,
            "outputs": {
                k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in sorted(outputs.items())
            },
        }
        (staging / "case.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        return f"written in {time.time() - start:.1f}s"
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--group", choices=["small", "apps", "all"], default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="regenerate cases that already exist")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.list:
        for c in CASES.values():
            print(f"{c.name:28s} {c.group:6s} {c.description}")
        return 0
    names = (
        args.only.split(",")
        if args.only
        else [c.name for c in CASES.values() if args.group in ("all", c.group)]
    )
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown cases: {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if len(names) > 1:  # one process per case: TensorFlow's tracing caches leak between cases
        failed = []
        for name in names:
            command = [sys.executable, "-m", "tools.corpus.generate", "--only", name, "--out", str(args.out)]
            if args.force:
                command.append("--force")
            if subprocess.run(command, cwd=ROOT).returncode != 0:
                failed.append(name)
        if failed:
            print(f"failed: {', '.join(failed)}", flush=True)
        return 1 if failed else 0
    name = names[0]
    if (args.out / name / "case.json").exists() and not args.force:
        print(f"{name:28s} kept", flush=True)
        return 0
    _import_tf()
    try:
        status = generate(CASES[name], args.out, args.force)
    except Exception as exc:  # report in one line; the driver goes on with the next case
        print(f"{name:28s} FAILED: {type(exc).__name__}: {exc}", flush=True)
        return 1
    print(f"{name:28s} {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
