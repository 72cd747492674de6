"""Run by the oracle Python with Keras 3 (TF_USE_LEGACY_KERAS unset): load each converted
.keras file with `keras.saving.load_model`, run the golden inputs through it and print JSON
{label: {"outputs": [{"dtype", "shape", "value"}...]}} or {label: {"error": message}}.

    python keras3_check.py JOBS_JSON      # {label: {"path": FILE.keras, "inputs": [{"dtype"...}]}}
"""

from __future__ import annotations

import json
import os
import sys

os.environ.pop("TF_USE_LEGACY_KERAS", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def array(entry: dict) -> np.ndarray:
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def encode(value: object) -> dict:
    value = np.asarray(value)
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.ravel().tolist()}


def check(path: str, inputs: list) -> dict:
    model = keras.saving.load_model(path, compile=False)
    arrays = [array(x) for x in inputs]
    outputs = model(arrays if len(arrays) > 1 else arrays[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {"outputs": [encode(keras.ops.convert_to_numpy(y)) for y in outputs]}


def main() -> None:
    with open(sys.argv[1]) as handle:
        jobs = json.load(handle)
    results = {}
    for label, job in jobs.items():
        try:
            results[label] = check(job["path"], job["inputs"])
        except Exception as exc:  # report per model, keep going
            results[label] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
