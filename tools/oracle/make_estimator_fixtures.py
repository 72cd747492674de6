"""Write Estimator exports into tests/fixtures/convert (TF 2.15 + tensorflow-estimator 2.15, the
last releases with Estimators; TF 2.21 has none).

    python3 -m venv tools/oracle/.venv-est     # see README.md here
    tools/oracle/.venv-est/bin/pip install tensorflow-cpu==2.15.1 tensorflow-estimator==2.15.0
    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv-est/bin/python tools/oracle/make_estimator_fixtures.py
    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_convert_fixtures.py --goldens

Models (each exported with a parsing serving input receiver, so its signatures take
serialized tf.Examples):
  estimator_classifier  LinearClassifier, binary: a numeric feature `x` (dense, 2 values) and a
                        vocabulary feature `color` (sparse, a lookup table): the classify
                        (serving_default, classification), regress and predict signatures
  estimator_regressor   DNNRegressor over `x` (dense, with a default): regress and predict

The feeds are written to estimator_feeds.json; the goldens come from TF 2.21's TF1 loader
(make_convert_fixtures.py --goldens), so the tests compare against the TF release they load with.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "tests" / "fixtures" / "convert"


def _example(x: list[float] | None, color: list[str] | None = None) -> bytes:
    feature = {}
    if x is not None:
        feature["x"] = tf.train.Feature(float_list=tf.train.FloatList(value=x))
    if color is not None:
        feature["color"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[c.encode() for c in color]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _train_input(with_color: bool):  # noqa: ANN202
    rng = np.random.default_rng(7)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    colors = np.array([b"red", b"green", b"blue", b"other"])[rng.integers(0, 4, 64)]
    label = ((x[:, 0] - x[:, 1]) > 0).astype(np.float32)

    def input_fn():  # noqa: ANN202
        features = {"x": x}
        if with_color:
            features["color"] = colors.reshape(-1, 1)
        return tf.data.Dataset.from_tensor_slices((features, label)).repeat().batch(16)

    return input_fn


def _export(estimator: tf.estimator.Estimator, columns: list, name: str) -> None:
    spec = tf.feature_column.make_parse_example_spec(columns)
    receiver = tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(estimator.export_saved_model(tmp, receiver).decode())
        target = OUT / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(exported, target)
    print("wrote", target)


def classifier(model_dir: str) -> list[bytes]:
    x = tf.feature_column.numeric_column("x", shape=[2])
    color = tf.feature_column.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])
    columns = [x, color]
    estimator = tf.estimator.LinearClassifier(columns, model_dir=model_dir)
    estimator.train(_train_input(True), steps=20)
    _export(estimator, columns, "estimator_classifier")
    return [_example([1.0, -0.5], ["red"]), _example([-2.0, 0.25], ["blue", "green"]), _example([0.0, 1.0])]


def regressor(model_dir: str) -> list[bytes]:
    x = tf.feature_column.numeric_column("x", shape=[2], default_value=[0.5, -0.5])
    estimator = tf.estimator.DNNRegressor([4], [x], model_dir=model_dir)
    estimator.train(_train_input(False), steps=20)
    _export(estimator, [x], "estimator_regressor")
    return [_example([1.0, 2.0]), _example(None)]


def main() -> None:
    tf.random.set_seed(3)
    feeds = {}
    for name, make in (("estimator_classifier", classifier), ("estimator_regressor", regressor)):
        with tempfile.TemporaryDirectory() as model_dir:
            examples = make(model_dir)
        encoded = {"dtype": "base64", "shape": [len(examples)], "value": []}
        encoded["value"] = [base64.b64encode(e).decode() for e in examples]
        feeds[name] = encoded
    (OUT / "estimator_feeds.json").write_text(json.dumps(feeds, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
    sys.exit(0)
