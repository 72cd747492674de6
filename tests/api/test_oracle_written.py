"""TensorFlow loads what savedmodel.tf writes (oracle: TF 2.21 in a subprocess), with identical outputs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from savedmodel import tf
from tests.conftest import ROOT

tf1 = tf.compat.v1
pytestmark = pytest.mark.oracle

CHECK = ROOT / "tools" / "oracle" / "check_written_models.py"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")


def _write_models(root: Path) -> dict[str, dict]:
    """Write one model per API; returns name -> {"inputs": ..., "ours": outputs as lists}."""
    expected: dict[str, dict] = {}

    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[None], name="x")
        v = tf.Variable([1.0, 2.0], name="v")
        y = tf.add(x * v, 1.0, name="y")
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(v.assign([3.0, 4.0]))
            builder = tf1.saved_model.Builder(str(root / "builder-vars"))
            builder.add_meta_graph_and_variables(
                sess,
                ["serve"],
                {"serving_default": tf1.saved_model.predict_signature_def({"input": x}, {"output": y})},
            )
            builder.save()
            expected["builder-vars"] = {
                "inputs": {"input": [1.0, 2.0]},
                "ours": {"output": sess.run(y, {x: [1.0, 2.0]}).tolist()},
            }
            s = tf1.train.Saver()
            s.export_meta_graph(str(root / "mg.pb"), as_text=True)
            s.save(sess, str(root / "mg.ckpt"))

    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        v = tf1.Variable(3.0, name="v", use_resource=False)
        y = tf.multiply(x, v, name="y")
        with tf1.Session() as sess:
            sess.run(v.initializer)
            tf1.saved_model.simple_save(sess, str(root / "ref-vars"), {"input": x}, {"output": y})
            expected["ref-vars"] = {
                "inputs": {"input": 2.0},
                "ours": {"output": float(sess.run(y, {x: 2.0}))},
            }

    class Affine(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
            self.b = tf.Variable([0.5, -0.5], name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, input: object) -> object:  # noqa: A002
            return {"output": tf.nn.relu(tf.matmul(input, self.w) + self.b)}

    module = Affine()
    tf.saved_model.save(module, str(root / "tf2-vars"))
    batch = [[1.0, 1.0], [-1.0, 0.0]]
    expected["tf2-vars"] = {
        "inputs": {"input": batch},
        "ours": {"output": module(tf.constant(batch))["output"].numpy().tolist()},
    }

    inp = tf.keras.Input(3)
    model = tf.keras.Model(inputs=inp, outputs=inp + 2)

    @tf.function(input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32)])
    def serving_default(input: object) -> object:  # noqa: A002
        return {"output": model(input)}

    model.save(str(root / "keras"), save_format="tf", signatures={"serving_default": serving_default})
    expected["keras"] = {"inputs": {"input": 5.0}, "ours": {"output": 7.0}}

    def model_fn(features: dict, labels: object, mode: str) -> object:
        output = features["input"] + 2
        step = tf1.train.get_global_step()
        return tf.estimator.EstimatorSpec(
            mode,
            predictions=output,
            train_op=step.assign_add(1),
            loss=tf.constant(0.0),
            export_outputs={"serving_default": tf.estimator.export.PredictOutput({"output": output})},
        )

    est = tf.estimator.Estimator(model_fn, str(root / "est-ckpt"))
    est.train(lambda: tf.data.Dataset.from_tensors({"input": 3.0}).repeat(), steps=2)
    path = est.export_saved_model(
        str(root / "est-export"),
        tf.estimator.export.build_raw_serving_input_receiver_fn({"input": tf.constant(3.0)}),
    )
    os.replace(path.decode(), root / "estimator")
    expected["estimator"] = {"inputs": {"input": [5.0]}, "ours": {"output": [7.0]}}
    return expected


def _run_oracle(python: Path, jobs: list[list[str]], workdir: Path) -> list[dict]:
    jobs_file = workdir / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    proc = subprocess.run(
        [str(python), str(CHECK), "batch", str(jobs_file)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_tensorflow_loads_what_we_write(oracle_python: Path, tmp_path: Path) -> None:
    expected = _write_models(tmp_path)
    jobs: list[list[str]] = []
    for name, case in expected.items():
        for command in ("load-tf1", "load-tf2"):
            jobs.append([command, str(tmp_path / name), "serving_default", json.dumps(case["inputs"])])
    jobs.append(
        [
            "meta-graph",
            str(tmp_path / "mg.pb"),
            str(tmp_path / "mg.ckpt"),
            json.dumps({"x:0": [1.0, 2.0]}),
            "y:0",
        ]
    )
    jobs.append(["checkpoint", str(tmp_path / "est-ckpt" / "model.ckpt-2")])
    jobs.append(["fingerprint", str(tmp_path / "tf2-vars")])
    jobs.append(["keras-predict", str(tmp_path / "keras"), "[1, 3, 4]"])
    results = _run_oracle(oracle_python, jobs, tmp_path)
    index = 0
    for name, case in expected.items():
        for command in ("load-tf1", "load-tf2"):
            result = results[index]
            index += 1
            assert "error" not in result, f"{command} {name}: {result}"
            for key, value in case["ours"].items():
                assert result[key]["dtype"] == "float32"
                np.testing.assert_allclose(
                    result[key]["value"], value, rtol=1e-6, err_msg=f"{command} {name}"
                )
    meta_result, ckpt_result, fingerprint, keras_predict = results[index:]
    assert keras_predict == {"dtype": "float32", "shape": [3], "value": [3.0, 5.0, 6.0]}
    assert meta_result["value"] == [4.0, 9.0]
    assert ckpt_result == {"global_step": {"dtype": "int64", "shape": [], "value": 2}}
    assert "error" not in fingerprint and fingerprint["singleprint"].count("/") == 3


def test_saved_model_cli_runs_what_we_write(oracle_python: Path, tmp_path: Path) -> None:
    with tf.Graph().as_default():
        with tf1.Session() as sess:
            x = tf1.placeholder(tf.float32, shape=[])
            tf1.saved_model.simple_save(sess, str(tmp_path / "simple"), {"input": x}, {"output": x + 2})

    class MyModel(tf.Module):
        @tf.function
        def __call__(self, input: object) -> object:  # noqa: A002
            return input + 2

    model = MyModel()

    @tf.function
    def serving(input: object) -> object:  # noqa: A002
        return {"output": model(input)}

    tf.saved_model.save(
        model,
        str(tmp_path / "tf2"),
        signatures={"serving_default": serving.get_concrete_function(tf.TensorSpec([], tf.float32))},
    )
    cli = oracle_python.parent / "saved_model_cli"
    for name in ("simple", "tf2"):
        proc = subprocess.run(
            [
                str(cli),
                "run",
                "--dir",
                str(tmp_path / name),
                "--tag_set",
                "serve",
                "--signature_def",
                "serving_default",
                "--input_exprs",
                "input=10",
            ],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip().endswith("Result for output key output:\n12.0")
