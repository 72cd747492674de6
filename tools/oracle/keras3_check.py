"""Run by the oracle Python: load models and run inputs through them, printing JSON
{label: {"inputs": [...], "outputs": [...]}} (each array as {"dtype", "shape", "value"}) or
{label: {"error": message}}, one model per job:

    python keras3_check.py JOBS_JSON             # Keras 3: keras.saving.load_model(FILE.keras)
    python keras3_check.py --tf-keras JOBS_JSON  # tf-keras: tf_keras.models.load_model(SAVEDMODEL_DIR)

JOBS_JSON: {label: {"path": ..., "inputs": [{"dtype", "shape", "value"}...] or null}}. Without
inputs, random ones are made from the model's input specs (batch 2, floats uniform in [0, 10),
integers in [0, 10): valid token ids for the embeddings of text models, strings from a few words)
and returned, so the same can be fed to the other loader.
"""

from __future__ import annotations

import json
import os
import sys

TF_KERAS = "--tf-keras" in sys.argv
if TF_KERAS:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
else:
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

if TF_KERAS:
    import tf_keras as keras  # noqa: E402
else:
    import keras  # noqa: E402


def array(entry: dict) -> np.ndarray:
    if entry["dtype"] == "object":  # strings, as JSON text
        values = [v.encode() if isinstance(v, str) else v for v in entry["value"]]
        return np.array(values, dtype=object).reshape(entry["shape"])
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def encode(value: object) -> dict:
    value = np.asarray(value)
    if value.dtype == object:
        text = [v.decode() if isinstance(v, bytes) else str(v) for v in value.ravel()]
        return {"dtype": "object", "shape": list(value.shape), "value": text}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.ravel().tolist()}


def random_inputs(model: object, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for spec in model.inputs:
        shape = [2 if d is None else int(d) for d in spec.shape]
        name = str(getattr(spec.dtype, "name", spec.dtype))
        if name == "string":
            words = np.array([b"cat", b"dog", b"", b"fish", "\u00fcn\u00efcode".encode()], dtype=object)
            out.append(rng.choice(words, shape))
            continue
        dtype = np.dtype(name)
        if dtype.kind in "iu":
            out.append(rng.integers(0, 10, shape).astype(dtype))
        elif dtype.kind == "f":
            out.append(rng.uniform(0, 10, shape).astype(dtype))
        else:
            raise ValueError(f"cannot make random inputs of dtype {dtype}")
    return out


def to_numpy(value: object) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def check(path: str, inputs: list | None) -> dict:
    if TF_KERAS:
        model = keras.models.load_model(path, compile=False)
    else:
        model = keras.saving.load_model(path, compile=False)
    arrays = [array(x) for x in inputs] if inputs else random_inputs(model)
    outputs = model(arrays if len(arrays) > 1 else arrays[0], training=False)
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)]
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {"inputs": [encode(x) for x in arrays], "outputs": [encode(to_numpy(y)) for y in outputs]}


def main() -> None:
    with open(sys.argv[-1]) as handle:
        jobs = json.load(handle)
    results = {}
    for label, job in jobs.items():
        try:
            results[label] = check(job["path"], job.get("inputs"))
        except Exception as exc:  # report per model, keep going
            results[label] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
