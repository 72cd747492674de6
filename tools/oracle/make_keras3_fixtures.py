"""Write tests/fixtures/convert/keras3: small tf-keras (Keras 2) SavedModels for
`savedmodel convert --to keras3`, plus goldens.json (per model: the inputs fed and what
tf-keras computes for them).

Run with the oracle venv (tf-keras, not Keras 3):

    TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python \
        tools/oracle/make_keras3_fixtures.py [NAME...]

Models (every weight random, so a weight copied to the wrong place shows):
  mlp          Sequential: Dense, BatchNormalization, Activation, ReLU, Dropout, LayerNormalization,
               Softmax
  cnn          Sequential: Rescaling, ZeroPadding2D, Conv2D, BatchNormalization, MaxPooling2D,
               DepthwiseConv2D, SeparableConv2D, AveragePooling2D, GlobalAveragePooling2D, Dense
  branches     Functional, two inputs: Conv1D, pooling 1D, global pooling, Reshape, Flatten,
               Concatenate, Add, Multiply, Conv2D + GlobalMaxPooling2D, Dense; two outputs
  text         Functional: Embedding, LSTM, GRU, SimpleRNN, Bidirectional(LSTM), Concatenate, Dense
  attention    Functional: MultiHeadAttention (self-attention), Add, LayerNormalization,
               Attention, GlobalAveragePooling1D, Dense
  preprocess   Sequential: Normalization (adapted), Rescaling, Dense
  nested       Functional: TimeDistributed(Dense), Flatten, a Sequential model inside (Dense,
               BatchNormalization, Dense), GRU(reset_after=False) on a second branch
  misc         Functional: causal Conv1D, SeparableConv1D, DepthwiseConv1D, Conv1DTranspose, LeakyReLU,
               PReLU, ELU, Subtract/Average/Maximum/Minimum/Dot, GroupNormalization,
               UnitNormalization, Cropping1D, UpSampling1D, ZeroPadding1D, noise and spatial
               dropouts, Permute, AdditiveAttention, RepeatVector, EinsumDense
  images       Functional: Cropping2D, bilinear UpSampling2D, Conv2DTranspose, MaxPooling3D after
               a Reshape, Conv3D
  masked       Functional: Embedding(mask_zero) -> LSTM, Masking -> GRU (padded steps skipped)
  mixed        Sequential: mixed_float16 Dense and LayerNormalization, a float32 Dense on top
  augment      Sequential: RandomFlip, RandomRotation, RandomZoom, RandomContrast, RandomTranslation,
               RandomBrightness (identities at inference), Resizing, CenterCrop, Conv2D
  built        Sequential without an Input, built by model.build((None, 3))
  shared       Functional: one Dense and one LSTM called on two inputs each (node indices 0 and 1)
  blocked      Sequential: an LSTM with hard_sigmoid (a different function in Keras 3) and a Lambda
               (no goldens: the conversion must refuse it, naming both)

saved_model.pb keeps its object graph and signatures but not the graph and function bodies
(the converter reads keras_metadata.pb and the checkpoint only; the RNN functions alone take
megabytes), so these directories are fixtures for the converter, not loadable SavedModels.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "tests" / "fixtures" / "convert" / "keras3"
L = keras.layers


def _encode(value: Any) -> dict:
    value = np.asarray(value)
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.ravel().tolist()}


def _randomize(model: keras.Model, rng: np.random.Generator) -> None:
    """Random weights everywhere (variances positive), so misplaced weights change outputs."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        fresh = []
        for var, value in zip(layer.weights, weights, strict=True):
            if "variance" in var.name or var.name.endswith("count:0"):
                fresh.append(value)
                continue
            fresh.append((rng.standard_normal(value.shape) * 0.3).astype(value.dtype))
        layer.set_weights(fresh)
        if isinstance(layer, L.BatchNormalization):
            gamma_beta = fresh[: len(fresh) - 2]
            mean = rng.standard_normal(weights[-2].shape).astype("float32") * 0.2
            var = rng.uniform(0.5, 1.5, weights[-1].shape).astype("float32")
            layer.set_weights([*gamma_beta, mean, var])


def mlp(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    model = keras.Sequential(
        [
            keras.Input((8,)),
            L.Dense(16, activation="tanh", name="hidden"),
            L.BatchNormalization(),
            L.Activation("elu"),
            L.Dense(12, use_bias=False, kernel_regularizer=keras.regularizers.l2(1e-4)),
            L.ReLU(max_value=2.0),
            L.Dropout(0.3),
            L.LayerNormalization(),
            L.Dense(5),
            L.Softmax(),
        ],
        name="mlp",
    )
    return model, [rng.standard_normal((3, 8)).astype("float32")]


def cnn(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            L.Rescaling(1 / 127.5, offset=-1),
            L.ZeroPadding2D(((1, 0), (0, 2))),
            L.Conv2D(6, 3, strides=1, padding="valid", activation="relu"),
            L.BatchNormalization(momentum=0.9, epsilon=1e-3),
            L.MaxPooling2D(2),
            L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
            L.SeparableConv2D(8, 3, padding="same", activation="relu"),
            L.AveragePooling2D(2, padding="same"),
            L.GlobalAveragePooling2D(),
            L.Dense(4),
        ],
        name="cnn",
    )
    return model, [rng.uniform(0, 255, (2, 12, 12, 3)).astype("float32")]


def branches(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    seq = keras.Input((16, 3), name="seq")
    vec = keras.Input((6,), name="vec")
    a = L.Conv1D(4, 3, padding="same", activation="relu", name="conv_a")(seq)
    a = L.MaxPooling1D(2)(a)
    b = L.Conv1D(4, 5, strides=2, padding="same", dilation_rate=1)(seq)
    b = L.AveragePooling1D(1)(b)
    ab = L.Add()([a, b])
    pooled = L.Concatenate()([L.GlobalMaxPooling1D()(ab), L.GlobalAveragePooling1D()(ab)])
    image = L.Reshape((4, 4, 2))(L.Flatten()(ab))
    image = L.Conv2D(3, 2, padding="same")(image)
    image = L.GlobalMaxPooling2D()(image)
    v = L.Dense(8, activation="sigmoid")(vec)
    gate = L.Dense(8)(pooled)
    mixed = L.Multiply()([v, gate])
    joined = L.Concatenate(axis=-1)([mixed, image])
    out1 = L.Dense(3, name="out1")(joined)
    out2 = L.Dense(1, activation="sigmoid", name="out2")(mixed)
    model = keras.Model([seq, vec], [out1, out2], name="branches")
    inputs = [
        rng.standard_normal((2, 16, 3)).astype("float32"),
        rng.standard_normal((2, 6)).astype("float32"),
    ]
    return model, inputs


def text(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = L.Embedding(20, 6)(tokens)
    seq = L.LSTM(5, return_sequences=True)(x)
    g = L.GRU(4)(seq)
    s = L.SimpleRNN(3)(x)
    bi = L.Bidirectional(L.LSTM(2))(x)
    joined = L.Concatenate()([g, s, bi])
    out = L.Dense(2)(joined)
    model = keras.Model(tokens, out, name="text")
    return model, [rng.integers(0, 20, (3, 7)).astype("int32")]


def attention(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    inp = keras.Input((5, 8), name="x")
    att = L.MultiHeadAttention(num_heads=2, key_dim=4)(inp, inp)
    x = L.LayerNormalization(epsilon=1e-5)(L.Add()([inp, att]))
    y = L.Attention(use_scale=True)([x, inp])
    out = L.Dense(3)(L.GlobalAveragePooling1D()(y))
    model = keras.Model(inp, out, name="attention")
    return model, [rng.standard_normal((2, 5, 8)).astype("float32")]


def preprocess(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    norm = L.Normalization()
    norm.adapt(rng.standard_normal((50, 4)).astype("float32") * 3 + 1)
    model = keras.Sequential([keras.Input((4,)), norm, L.Rescaling(0.5), L.Dense(2)], name="preprocess")
    return model, [rng.standard_normal((3, 4)).astype("float32")]


def nested(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    inner = keras.Sequential(
        [keras.Input((18,)), L.Dense(5, activation="relu"), L.BatchNormalization(), L.Dense(2)],
        name="head",
    )
    inp = keras.Input((6, 4), name="steps")
    x = L.TimeDistributed(L.Dense(3))(inp)
    x = inner(L.Flatten()(x))
    g = L.GRU(3, reset_after=False, go_backwards=True)(inp)
    out = L.Concatenate()([x, g])
    model = keras.Model(inp, out, name="nested")
    return model, [rng.standard_normal((2, 6, 4)).astype("float32")]


def blocked(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    model = keras.Sequential(
        [
            keras.Input((4, 3)),
            L.LSTM(2, recurrent_activation="hard_sigmoid", return_sequences=True),
            L.Lambda(lambda t: t * 2.0),
            L.Flatten(),
            L.Dense(1),
        ],
        name="blocked",
    )
    return model, [rng.standard_normal((1, 4, 3)).astype("float32")]


def misc(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    seq = keras.Input((10, 4), name="seq")
    a = L.LeakyReLU(0.2)(L.Conv1D(4, 3, padding="causal")(seq))
    b = L.PReLU()(L.SeparableConv1D(4, 3, padding="same")(seq))
    c = L.ELU(0.5)(L.DepthwiseConv1D(3, padding="same")(seq))
    merged = [L.Subtract()([a, b]), L.Average()([a, c]), L.Maximum()([b, c]), L.Minimum()([a, c])]
    x = L.GroupNormalization(groups=4)(L.Concatenate()(merged))
    x = L.UnitNormalization()(x)
    x = L.ZeroPadding1D(1)(L.UpSampling1D(2)(L.Cropping1D((1, 2))(x)))
    x = L.GaussianDropout(0.1)(L.GaussianNoise(0.1)(L.SpatialDropout1D(0.2)(x)))
    x = L.Conv1DTranspose(3, 3, strides=2)(L.Permute((2, 1))(x))
    x = L.AdditiveAttention()([x, x])
    g = L.GlobalMaxPooling1D()(x)
    dot = L.Dot(axes=1, normalize=True)([g, g])
    e = L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c", activation="relu")(g)
    out = L.Concatenate()([L.Flatten()(L.RepeatVector(2)(g)), dot, e])
    model = keras.Model(seq, out, name="misc")
    return model, [rng.standard_normal((2, 10, 4)).astype("float32")]


def images(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    inp = keras.Input((8, 8, 2), name="image")
    x = L.UpSampling2D(2, interpolation="bilinear")(L.Cropping2D(((1, 0), (0, 1)))(inp))
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.Reshape((28, 28, 2, 2))(x)
    x = L.Conv3D(2, (3, 3, 1))(L.MaxPooling3D((2, 2, 1))(x))
    out = L.GlobalAveragePooling3D()(x)
    model = keras.Model(inp, out, name="images")
    return model, [rng.standard_normal((2, 8, 8, 2)).astype("float32")]


def masked(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    steps = keras.Input((5, 3), name="steps")
    a = L.LSTM(3)(L.Embedding(12, 4, mask_zero=True)(tokens))
    b = L.GRU(2)(L.Masking(0.0)(steps))
    model = keras.Model([tokens, steps], L.Concatenate()([a, b]), name="masked")
    ids = rng.integers(1, 12, (3, 6)).astype("int32")
    ids[0, 4:] = 0
    ids[2, 2:] = 0
    values = rng.standard_normal((3, 5, 3)).astype("float32")
    values[1, 3:] = 0.0
    return model, [ids, values]


def mixed(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    model = keras.Sequential(
        [
            keras.Input((6,)),
            L.Dense(8, activation="relu", dtype="mixed_float16"),
            L.LayerNormalization(dtype="mixed_float16"),
            L.Dense(3, dtype="float32"),
        ],
        name="mixed",
    )
    return model, [rng.standard_normal((2, 6)).astype("float32")]


def augment(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    model = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            L.RandomFlip(),
            L.RandomRotation(0.1),
            L.RandomZoom(0.1),
            L.RandomContrast(0.2),
            L.RandomTranslation(0.1, 0.1),
            L.RandomBrightness(0.1),
            L.Resizing(7, 6),
            L.CenterCrop(5, 4),
            L.Conv2D(2, 3),
            L.GlobalAveragePooling2D(),
        ],
        name="augment",
    )
    return model, [rng.uniform(0, 255, (2, 10, 10, 3)).astype("float32")]


def built(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    model = keras.Sequential([L.Dense(4, activation="relu"), L.Dense(2)], name="built")
    model.build((None, 3))
    return model, [rng.standard_normal((2, 3)).astype("float32")]


def shared(rng: np.random.Generator) -> tuple[keras.Model, list[np.ndarray]]:
    left, right = keras.Input((4, 3), name="left"), keras.Input((4, 3), name="right")
    encoder = L.LSTM(2, name="encoder")
    project = L.Dense(3, name="project")
    a, b = project(encoder(left)), project(encoder(right))
    out = L.Concatenate()([L.Subtract()([a, b]), L.Multiply()([a, b])])
    model = keras.Model([left, right], out, name="shared")
    inputs = [rng.standard_normal((2, 4, 3)).astype("float32") for _ in range(2)]
    return model, inputs


def _slim(directory: Path) -> None:
    """Drop the graph and function library from saved_model.pb (see the module docstring)."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = directory / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta in proto.meta_graphs:
        meta.graph_def.Clear()
    path.write_bytes(proto.SerializeToString())
    (directory / "fingerprint.pb").unlink(missing_ok=True)


MODELS = {
    f.__name__: f
    for f in (
        *(mlp, cnn, branches, text, attention, preprocess, nested, blocked),
        *(misc, images, masked, mixed, augment, built, shared),
    )
}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    golden_path = OUT / "goldens.json"
    goldens = json.loads(golden_path.read_text()) if golden_path.exists() else {}
    for index, (name, build) in enumerate(MODELS.items()):
        if names and name not in names:
            continue
        keras.backend.clear_session()  # layer names count from scratch: any subset regenerates the same
        rng = np.random.default_rng(1000 + index)
        keras.utils.set_random_seed(1000 + index)
        model, inputs = build(rng)
        _randomize(model, rng)
        outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        target = OUT / name
        shutil.rmtree(target, ignore_errors=True)
        model.save(str(target), save_format="tf")
        _slim(target)
        if name == "blocked":
            continue
        goldens[name] = {
            "inputs": [_encode(x) for x in inputs],
            "outputs": [_encode(np.asarray(y)) for y in outputs],
        }
        print(name, "written:", [tuple(np.shape(y)) for y in outputs])
    golden_path.write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
    print(tf.__version__, keras.__version__)
