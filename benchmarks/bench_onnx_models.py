"""Writes the models benchmarks/bench_onnx.py times (runs in the oracle venv: needs TensorFlow).

    TF_USE_LEGACY_KERAS=1 tools/oracle/.venv/bin/python benchmarks/bench_onnx_models.py OUT_DIR [names]

Keras applications at 224x224x3 (weights=None, 1000 classes: timing only) and a BERT-style encoder
(4 layers, width 256, 4 heads, feed-forward 1024, GELU, LayerNorm, padding mask; 128 tokens).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

APPS = {
    "resnet50": "ResNet50",
    "densenet121": "DenseNet121",
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v2": "MobileNetV2",
}
SEQUENCE, WIDTH, HEADS, LAYERS, FEED_FORWARD, VOCAB = 128, 256, 4, 4, 1024, 8000


def bert_encoder() -> keras.Model:
    layers = keras.layers
    ids = keras.Input((SEQUENCE,), dtype="int32", name="input_ids")
    x = layers.Embedding(VOCAB, WIDTH, name="token_embedding")(ids)
    positions = layers.Embedding(SEQUENCE, WIDTH, name="position_embedding")(
        layers.Lambda(lambda t: tf.range(tf.shape(t)[1])[tf.newaxis, :] * tf.ones_like(t))(ids)
    )
    x = layers.LayerNormalization(epsilon=1e-12)(layers.Add()([x, positions]))
    mask = layers.Lambda(lambda t: tf.cast(t[:, tf.newaxis, :] != 0, tf.bool))(ids)
    for i in range(LAYERS):
        attention = layers.MultiHeadAttention(HEADS, WIDTH // HEADS, name=f"attention_{i}")(
            x, x, attention_mask=mask
        )
        x = layers.LayerNormalization(epsilon=1e-12)(layers.Add()([x, attention]))
        hidden = layers.Dense(FEED_FORWARD, activation="gelu")(x)
        x = layers.LayerNormalization(epsilon=1e-12)(layers.Add()([x, layers.Dense(WIDTH)(hidden)]))
    pooled = layers.Dense(WIDTH, activation="tanh")(x[:, 0])
    return keras.Model(ids, {"sequence_output": x, "pooled": pooled})


def build(name: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    if name == "bert_encoder":
        return bert_encoder()
    return getattr(keras.applications, APPS[name])(input_shape=(224, 224, 3), weights=None)


def main() -> int:
    out = Path(sys.argv[1])
    names = sys.argv[2:] or [*APPS, "bert_encoder"]
    for name in names:
        target = out / name
        if (target / "saved_model.pb").exists():
            continue
        build(name).save(str(target), save_format="tf", include_optimizer=False)
        print(f"wrote {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
