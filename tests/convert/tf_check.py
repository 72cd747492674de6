"""Run by the oracle Python (TensorFlow 2.21): load a converted SavedModel with TF2's
`tf.saved_model.load` and with TF1's loader, run the golden inputs through both, and print
JSON: {label: {"tf2": {key: {output: value}}, "tf1": {...}, "variables": [names], "methods": {...}}}
for every model of the job file, or {label: {"error": message}}.

    python tf_check.py JOBS_JSON      # {label: {"path": MODEL_DIR, "cases": {key: {"inputs": ...}}}}
"""

from __future__ import annotations

import base64
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def array(entry: dict) -> np.ndarray:
    if entry["dtype"] == "base64":
        values = [base64.b64decode(v) for v in entry["value"]]
        return np.array(values, dtype=object).reshape(entry["shape"])
    if entry["dtype"] == "object":
        values = [v.encode() for v in np.ravel(entry["value"])]
        return np.array(values, dtype=object).reshape(entry["shape"])
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def plain(value: object) -> object:
    value = np.asarray(value)
    if value.dtype == object:
        return [v.decode() for v in value.ravel()]
    return value.ravel().tolist()


def check(path: str, cases: dict) -> dict:
    out: dict = {"tf2": {}, "tf1": {}}
    loaded = tf.saved_model.load(path)
    out["variables"] = sorted(v.name for v in getattr(loaded, "variables", []))
    for key, case in cases.items():
        fn = loaded.signatures[key]
        inputs = {k: tf.constant(array(v)) for k, v in case["inputs"].items()}
        result = fn(**inputs)
        out["tf2"][key] = {k: plain(v.numpy()) for k, v in result.items()}
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta = tf.compat.v1.saved_model.load(sess, ["serve"], path)
        for key, case in cases.items():
            sig = meta.signature_def[key]
            names = sorted(sig.outputs)
            feed = {sig.inputs[k].name: array(v) for k, v in case["inputs"].items()}
            values = sess.run([sig.outputs[k].name for k in names], feed)
            out["tf1"][key] = {k: plain(v) for k, v in zip(names, values, strict=False)}
            out.setdefault("methods", {})[key] = sig.method_name
    return out


def main() -> None:
    jobs = json.loads(open(sys.argv[1]).read())
    results = {}
    for label, job in jobs.items():
        try:
            results[label] = check(job["path"], job["cases"])
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[label] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
