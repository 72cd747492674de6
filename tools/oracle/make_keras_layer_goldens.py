"""Goldens and oracle checks for the Keras layer programs (tests/fixtures/api/keras_layers).

Run with the oracle venv (TensorFlow 2.21 + tf-keras 2.21, TF_USE_LEGACY_KERAS=1 is set here):

    tools/oracle/.venv/bin/python tools/oracle/make_keras_layer_goldens.py
        Run every program with `tf` = TensorFlow (tf-keras as tf.keras): the same model, the same
        weights; write tests/fixtures/api/keras_layers/goldens.json: per program its INPUTS (and
        their names), tf-keras's `predict_on_batch` output, its layers (classes, order, each one's
        weight shapes in Keras order, keras_metadata.pb nodes), and for a program that defines
        MORE_INPUTS (other sequence lengths for the same model) each of those with its output.
    tools/oracle/.venv/bin/python tools/oracle/make_keras_layer_goldens.py check ROOT NAME...
        For each ROOT/NAME (a SavedModel savedmodel.tf wrote for program NAME): tf-keras's
        `load_model` (its layer classes, its output on the program's INPUTS) and
        `tf.saved_model.load`'s serving_default signature output (and both on the program's
        MORE_INPUTS, as more_keras and more_signature), and Keras 3's output for
        ROOT/NAME.keras where there is one, as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "api" / "keras_layers"
GOLDENS = PROGRAM_DIR / "goldens.json"


def as_jsonable(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def from_jsonable(entry):
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def run_program(name: str, out: str) -> dict:
    source = (PROGRAM_DIR / "_prelude.txt").read_text() + (PROGRAM_DIR / f"{name}.txt").read_text()
    namespace = {"tf": tf, "OUT": out, "__name__": "__program__"}
    exec(compile(source, str(PROGRAM_DIR / f"{name}.txt"), "exec"), namespace)
    return namespace


def _inputs(case: dict) -> list:
    given = case["inputs"]
    return [from_jsonable(x) for x in given] if isinstance(given, list) else [from_jsonable(given)]


def goldens() -> None:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(PROGRAM_DIR.glob("[!_]*.txt")):
            tf.keras.backend.clear_session()
            namespace = run_program(path.stem, str(Path(tmp) / path.stem))
            given = namespace["INPUTS"]
            inputs = [as_jsonable(x) for x in given] if isinstance(given, list) else as_jsonable(given)
            output = namespace["model"].predict_on_batch(given)
            model = namespace["model"]
            out[path.stem] = {
                "input_names": [t.name.split(":")[0] for t in model.inputs],
                "classes": sorted({type(layer).__name__ for layer in model.layers}),
                "layer_order": [layer.name for layer in model.layers],
                "layer_metadata": _layer_metadata(Path(tmp) / path.stem),
                "weight_shapes": {
                    layer.name: [list(w.shape) for w in layer.get_weights()] for layer in model.layers
                },
                "inputs": inputs,
                "output": as_jsonable(output),
            }
            if "MORE_INPUTS" in namespace:
                out[path.stem]["more"] = [
                    {"inputs": as_jsonable(x), "output": as_jsonable(model.predict_on_batch(x))}
                    for x in namespace["MORE_INPUTS"]
                ]
            print(path.stem)
    lines = [f"{json.dumps(name)}: {json.dumps(case)}" for name, case in out.items()]
    GOLDENS.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # a program a line


def _layer_metadata(directory: Path) -> dict:
    """keras_metadata.pb's node for each layer of the model, by layer name, without tf-keras's
    shared_object_id bookkeeping."""
    from tf_keras.protobuf import saved_metadata_pb2

    def without_ids(value):
        if isinstance(value, dict):
            return {k: without_ids(v) for k, v in value.items() if k != "shared_object_id"}
        if isinstance(value, list):
            return [without_ids(v) for v in value]
        return value

    meta = saved_metadata_pb2.SavedMetadata.FromString((directory / "keras_metadata.pb").read_bytes())
    out = {}
    for node in meta.nodes:
        entry = without_ids(json.loads(node.metadata))
        if node.node_path == "root":  # the model: its layers' configs are compared layer by layer
            layers = entry.pop("config").pop("layers")
            entry.pop("model_config")
            inputs = {la["config"]["name"]: la for la in layers if la["class_name"] == "InputLayer"}
            out["<root>"] = {"identifier": node.identifier, "metadata": entry, "input_layers": inputs}
        elif node.node_path.count(".") == 1:  # root.layer-N / root.layer_with_weights-N
            out[entry["name"]] = {"identifier": node.identifier, "metadata": entry}
    return out


def check(root: str, names: list[str]) -> None:
    cases = json.loads(GOLDENS.read_text())
    results: dict = {}
    for name in names:
        directory = str(Path(root) / name)
        inputs = _inputs(cases[name])
        result: dict = {}
        try:
            model = tf.keras.models.load_model(directory)
            result["classes"] = sorted({type(layer).__name__ for layer in model.layers})
            batch = inputs if len(inputs) > 1 else inputs[0]
            result["keras"] = as_jsonable(model.predict_on_batch(batch))
            more = [from_jsonable(case["inputs"]) for case in cases[name].get("more", [])]
            result["more_keras"] = [as_jsonable(model.predict_on_batch(x)) for x in more]
        except Exception as exc:  # noqa: BLE001 - reported to the test
            result["keras_error"] = f"{type(exc).__name__}: {exc}"
        keras_file = Path(root) / f"{name}.keras"
        if keras_file.exists():  # what model.save("NAME.keras") wrote: Keras 3 loads it
            try:
                import keras

                model3 = keras.saving.load_model(str(keras_file))
                result["keras3"] = as_jsonable(
                    model3.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
                )
            except Exception as exc:  # noqa: BLE001
                result["keras3_error"] = f"{type(exc).__name__}: {exc}"
        try:
            fn = tf.saved_model.load(directory).signatures["serving_default"]
            specs = fn.structured_input_signature[1]
            feeds = {
                key: tf.constant(x, dtype=specs[key].dtype)
                for key, x in zip(cases[name]["input_names"], inputs, strict=True)
            }
            result["signature"] = {k: as_jsonable(v) for k, v in fn(**feeds).items()}
            key = cases[name]["input_names"][0]  # programs with MORE_INPUTS have one input
            result["more_signature"] = [
                {k: as_jsonable(v) for k, v in fn(**{key: tf.constant(from_jsonable(x["inputs"]))}).items()}
                for x in cases[name].get("more", [])
            ]
        except Exception as exc:  # noqa: BLE001
            result["signature_error"] = f"{type(exc).__name__}: {exc}"
        results[name] = result
    print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3:])
    else:
        goldens()
