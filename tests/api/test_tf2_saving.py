"""savedmodel.tf TF2 side: tf.function, tf.Module, tf.saved_model.save, Keras and Estimator."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from savedmodel import tf
from savedmodel.format.saved_model import read_saved_model

tf1 = tf.compat.v1


class Affine(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
        self.b = tf.Variable([0.5, -0.5], name="b")
        self.count = tf.Variable(0, name="count")

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x: object) -> object:
        return {"y": tf.nn.relu(tf.matmul(x, self.w) + self.b), "s": tf.reduce_sum(x)}

    @tf.function
    def bump(self) -> object:
        self.count.assign_add(1)
        return self.count.read_value()


def test_function_traces_per_signature() -> None:
    calls = []

    @tf.function
    def double(x: object) -> object:
        calls.append(1)
        return x * 2

    assert repr(double(tf.constant(2.0))) == "<tf.Tensor: shape=(), dtype=float32, numpy=4.0>"
    double(tf.constant(3.0))
    assert len(calls) == 1
    assert double(tf.constant([1, 2])).numpy().tolist() == [2, 4]
    assert len(calls) == 2
    concrete = double.get_concrete_function(tf.TensorSpec([None], tf.float32))
    assert concrete.name.startswith("__inference_double_")
    assert [a.name for a in concrete.function_def.signature.input_arg] == ["x"]
    assert concrete.function_def.ret == {"identity": "Identity:output:0"}
    assert concrete(tf.constant([1.0, 2.0])).numpy().tolist() == [2.0, 4.0]


def test_module_tracks_variables_and_functions_capture_them() -> None:
    model = Affine()
    assert sorted(v.name for v in model.variables) == ["b:0", "count:0", "w:0"]
    out = model(tf.constant([[1.0, 1.0]]))
    np.testing.assert_array_equal(out["y"].numpy(), [[4.5, 5.5]])
    assert int(model.bump().numpy()) == 1 and int(model.bump().numpy()) == 2
    assert int(model.count.numpy()) == 2
    fdef = Affine.__call__.__get__(model).get_concrete_function().function_def
    assert [a.type for a in fdef.signature.input_arg].count(20) == 2  # two resource captures (DT_RESOURCE)


def test_saved_model_save_and_load(tmp_path: Path) -> None:
    model = Affine()
    model.bump()
    path = tmp_path / "affine"
    tf.saved_model.save(model, str(path))
    assert {"saved_model.pb", "variables", "fingerprint.pb"} <= set(os.listdir(path))
    meta = read_saved_model(path).meta_graphs[0]
    assert set(meta.signature_def) == {"serving_default", "__saved_model_init_op"}
    sig = meta.signature_def["serving_default"]
    assert sig.inputs["x"].name == "serving_default_x:0"
    assert sorted(sig.outputs) == ["s", "y"]
    assert meta.saver_def.filename_tensor_name == "saver_filename:0"
    assert meta.collection_def["saved_model_main_op"].node_list.value == ["NoOp"]
    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](x=tf.constant([[1.0, 1.0], [-1.0, 0.0]]))
    np.testing.assert_array_equal(out["y"].numpy(), [[4.5, 5.5], [0.0, 0.0]])
    assert float(out["s"].numpy()) == 1.0
    # saving again over the directory replaces it (tf.saved_model.save overwrites)
    tf.saved_model.save(model, str(path))
    assert (path / "saved_model.pb").is_file()


def test_saving_a_function_capturing_an_untracked_variable_fails(tmp_path: Path) -> None:
    loose = tf.Variable(1.0)

    class Holder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x: object) -> object:
            return x * loose

    with pytest.raises(Exception, match="not reachable from the object being saved"):
        tf.saved_model.save(Holder(), str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


def test_keras_sequential_dense_round_trip(tmp_path: Path) -> None:
    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(3, activation="relu"), tf.keras.layers.Dense(1)]
    )
    x = np.array([[1.0, 2.0], [0.5, -1.0]], np.float32)
    expected = model.predict(x)
    assert expected.shape == (2, 1) and expected.dtype == np.float32
    model.save(str(tmp_path / "k"), save_format="tf")
    restored = tf.keras.models.load_model(str(tmp_path / "k"))
    np.testing.assert_allclose(restored.predict_on_batch(x), expected, rtol=1e-6)
    loaded = tf.saved_model.load(str(tmp_path / "k"))
    key = next(iter(loaded.signatures))
    out = loaded.signatures[key](tf.constant(x))
    np.testing.assert_allclose(next(iter(out.values())).numpy(), expected, rtol=1e-6)


def test_estimator_signatures(tmp_path: Path) -> None:
    def model_fn(features: dict, labels: object, mode: str) -> object:
        x = features["x"]
        score = tf.sigmoid(x * 2.0)
        step = tf1.train.get_global_step()
        return tf.estimator.EstimatorSpec(
            mode,
            predictions=score,
            loss=tf.constant(0.0),
            train_op=step.assign_add(1),
            export_outputs={
                "serving_default": tf.estimator.export.PredictOutput({"score": score}),
                "regress": tf.estimator.export.RegressionOutput(score),
            },
        )

    est = tf.estimator.Estimator(model_fn, str(tmp_path / "ckpt"))
    est.train(lambda: tf.data.Dataset.from_tensors({"x": [1.0]}).repeat(), steps=3)
    assert tf1.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("model.ckpt-3")
    feature_spec = {"x": tf.estimator.FixedLenFeature([], tf.float32)}
    path = est.export_saved_model(
        str(tmp_path / "export"), tf.estimator.export.build_parsing_serving_input_receiver_fn(feature_spec)
    )
    assert isinstance(path, bytes) and Path(path.decode()).parent == tmp_path / "export"
    meta = read_saved_model(path.decode()).meta_graphs[0]
    assert meta.signature_def["regress"].method_name == "tensorflow/serving/regress"
    assert meta.signature_def["regress"].inputs["inputs"].name == "input_example_tensor:0"
    assert list(meta.signature_def["serving_default"].inputs) == ["examples"]
