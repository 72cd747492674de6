"""The full-size models benchmarks/bench_models.py times, generated on demand by the TensorFlow oracle.

    tools/oracle/.venv/bin/python benchmarks/real_models.py NAME [--size 224] [--cache DIR]

Random weights with fixed seeds, written once into the gitignored `.cache/bench-models/` (never
committed), each as `<dir>/saved_model` and `<dir>/input.json` (the input's dtype, shape without
the batch, and value range):
    resnet50, densenet121, efficientnet_b0, mobilenet_v2   keras.applications, weights=None, 10 classes,
                                                           BatchNorm statistics calibrated on a random batch
    bert                                                   4-layer encoder, hidden 256, 4 heads, FFN 1024,
                                                           sequence 128 (token ids in, pooled logits out)
Everything but `generate_model` (which needs TensorFlow) runs in any interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
DEFAULT_CACHE = ROOT / ".cache" / "bench-models"
APPS = {
    "resnet50": "ResNet50",
    "densenet121": "DenseNet121",
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v2": "MobileNetV2",
}
LABELS = {
    "resnet50": "ResNet50",
    "densenet121": "DenseNet121",
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v2": "MobileNetV2",
    "bert": "BERT-style encoder",
}
# EfficientNet rescales its input itself (pixels 0..255); the others take [-1, 1].
PIXEL_RANGE = {"efficientnet_b0": (0.0, 255.0)}
BERT = {"layers": 4, "hidden": 256, "heads": 4, "ffn": 1024, "length": 128, "vocab": 1000}
MODELS = [*APPS, "bert"]
QUIET_TF = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _generate_app(name: str, size: int, path: Path) -> dict[str, Any]:
    from tools.corpus import generate

    generate._import_tf()
    low, high = PIXEL_RANGE.get(name, (-1.0, 1.0))
    generate._app(APPS[name], size, name in PIXEL_RANGE)(path, path.parent)
    return {"dtype": "float32", "shape": [size, size, 3], "low": low, "high": high}


def _generate_bert(path: Path) -> dict[str, Any]:
    from tools.corpus import generate

    generate._import_tf()
    generate.seed_all()
    keras, layers, cfg = generate.keras, generate.keras.layers, BERT
    ids = keras.Input((cfg["length"],), dtype="int32", name="input_ids")
    x = layers.Embedding(cfg["vocab"], cfg["hidden"])(ids)
    x = x + layers.Embedding(cfg["length"], cfg["hidden"])(generate.tf.range(cfg["length"]))[None]
    x = layers.LayerNormalization(epsilon=1e-12)(x)
    for _ in range(cfg["layers"]):
        key_dim = cfg["hidden"] // cfg["heads"]
        attention = layers.MultiHeadAttention(cfg["heads"], key_dim)(x, x)
        x = layers.LayerNormalization(epsilon=1e-12)(x + attention)
        hidden = layers.Dense(cfg["ffn"], activation="gelu")(x)
        x = layers.LayerNormalization(epsilon=1e-12)(x + layers.Dense(cfg["hidden"])(hidden))
    pooled = layers.Dense(cfg["hidden"], activation="tanh")(x[:, 0])
    model = keras.Model(ids, {"logits": layers.Dense(2)(pooled), "sequence_output": x})
    generate.save_keras(model, path)
    return {"dtype": "int32", "shape": [cfg["length"]], "low": 1, "high": cfg["vocab"]}


def generate_model(name: str, size: int, out: Path) -> None:
    """Write `out/saved_model` and `out/input.json` (runs in the oracle venv)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "saved_model"
    spec = _generate_bert(saved) if name == "bert" else _generate_app(name, size, saved)
    (out / "input.json").write_text(json.dumps(spec))


def model_dir_path(cache: Path, name: str, size: int) -> Path:
    return cache / (name if name == "bert" else f"{name}-{size}")


def model_dir(cache: Path, name: str, size: int) -> Path:
    """The generated model's directory, generating it first (in the oracle venv) when missing."""
    out = model_dir_path(cache, name, size)
    if not (out / "input.json").exists():
        if not ORACLE.exists():
            sys.exit(f"{out} is missing and the TensorFlow oracle venv (tools/oracle/.venv) is absent")
        print(f"generating {out.name} with TensorFlow ...", file=sys.stderr, flush=True)
        command = [str(ORACLE), __file__, name, "--size", str(size), "--cache", str(cache)]
        subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, **QUIET_TF})
    return out


def make_input(spec: dict[str, Any], batch: int) -> Any:
    """A batch of inputs for the model `spec` (input.json) describes, the same on every side."""
    import numpy as np

    rng = np.random.default_rng(batch)
    shape = (batch, *spec["shape"])
    if spec["dtype"] == "int32":
        return rng.integers(spec["low"], spec["high"], shape).astype(np.int32)
    return rng.uniform(spec["low"], spec["high"], shape).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=MODELS)
    parser.add_argument("--size", type=int, default=224, help="image side of the Keras applications")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    generate_model(args.name, args.size, model_dir_path(args.cache, args.name, args.size))


if __name__ == "__main__":
    main()
