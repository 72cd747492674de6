"""Write the seed notebook's artifacts (../shared/seeds/migrate_savedmodel_workflow.txt)
with real TensorFlow, plus what TensorFlow prints for them.

Run with the oracle venv: `TF_USE_LEGACY_KERAS=1 tools/oracle/.venv/bin/python
tools/oracle/make_seed_fixtures.py OUT_DIR [--estimator]`. `--estimator` (TF 2.15
venv with tensorflow-estimator) writes only estimator-model.
Goldens go to OUT_DIR/golden.json (merged with what is there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if "--estimator" not in sys.argv:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402


def add_two(input):
    return input + 2


def as_jsonable(value):
    if isinstance(value, dict):
        return {k: as_jsonable(v) for k, v in value.items()}
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def builder(out: Path, golden: dict) -> None:
    path = out / "saved-model-builder"
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default():
        with tf1.Session() as sess:
            input = tf1.placeholder(tf.float32, shape=[])
            output = add_two(input)
            golden["saved-model-builder/session_run"] = as_jsonable(sess.run(output, {input: 3.0}))
            b = tf1.saved_model.Builder(str(path))
            sig_def = tf1.saved_model.predict_signature_def(
                inputs={"input": input}, outputs={"output": output}
            )
            b.add_meta_graph_and_variables(
                sess,
                tags=["serve"],
                signature_def_map={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: sig_def},
            )
            b.save()


def simple_save(out: Path, golden: dict) -> None:
    path = out / "simple-save"
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default():
        with tf1.Session() as sess:
            input = tf1.placeholder(tf.float32, shape=[])
            output = add_two(input)
            golden["simple-save/session_run"] = as_jsonable(sess.run(output, {input: 3.0}))
            tf1.saved_model.simple_save(sess, str(path), inputs={"input": input}, outputs={"output": output})


def tf2_save(out: Path, golden: dict) -> None:
    path = out / "tf2-save"
    shutil.rmtree(path, ignore_errors=True)

    class MyModel(tf.Module):
        @tf.function
        def __call__(self, input):
            return add_two(input)

    model = MyModel()

    @tf.function
    def serving_default(input):
        return {"output": model(input)}

    signature_function = serving_default.get_concrete_function(tf.TensorSpec(shape=[], dtype=tf.float32))
    tf.saved_model.save(
        model, str(path), signatures={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature_function}
    )


def keras_model(out: Path, golden: dict) -> None:
    path = out / "keras-model"
    shutil.rmtree(path, ignore_errors=True)
    inp = tf.keras.Input(3)
    out_t = add_two(inp)
    model = tf.keras.Model(inputs=inp, outputs=out_t)

    @tf.function(input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32)])
    def serving_default(input):
        return {"output": model(input)}

    model.save(
        str(path),
        save_format="tf",
        signatures={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: serving_default},
    )
    loaded = tf.keras.models.load_model(str(path))
    golden["keras-model/predict_on_batch"] = as_jsonable(loaded.predict_on_batch(tf.constant([1, 3, 4])))


def multiply(out: Path, golden: dict) -> None:
    for name in ("multiply.pb", "checkpoint"):
        (out / name).unlink(missing_ok=True)
    for p in out.glob("multiply_values.ckpt*"):
        p.unlink()
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        v = tf.Variable(3.0, name="v")
        y = tf.multiply(x, v, name="y")
        with tf1.Session() as sess:
            sess.run(v.initializer)
            golden["multiply/session_run"] = as_jsonable(sess.run(y, feed_dict={x: 5}))
            s = tf1.train.Saver()
            s.export_meta_graph(str(out / "multiply.pb"), as_text=True)
            s.save(sess, str(out / "multiply_values.ckpt"))
    (out / "checkpoint").unlink(missing_ok=True)


def estimator(out: Path, golden: dict) -> None:
    import tempfile

    def model_fn(features, labels, mode):
        output = add_two(features["input"])
        step = tf1.train.get_global_step()
        return tf.estimator.EstimatorSpec(
            mode,
            predictions=output,
            train_op=step.assign_add(1),
            loss=tf.constant(0.0),
            export_outputs={
                tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: tf.estimator.export.PredictOutput(
                    {"output": output}
                )
            },
        )

    work = Path(tempfile.mkdtemp())
    est = tf.estimator.Estimator(model_fn, str(work / "estimator-checkpoints"))

    def train_fn():
        return tf.data.Dataset.from_tensors({"input": 3.0}).repeat()

    est.train(train_fn, steps=1)
    serving_input_fn = tf.estimator.export.build_raw_serving_input_receiver_fn({"input": tf.constant(3.0)})
    estimator_path = est.export_saved_model(str(work / "exported-estimator"), serving_input_fn)
    path = out / "estimator-model"
    shutil.rmtree(path, ignore_errors=True)
    shutil.move(estimator_path.decode() if isinstance(estimator_path, bytes) else estimator_path, path)
    shutil.rmtree(work, ignore_errors=True)


def load_goldens(out: Path, golden: dict, names: list[str]) -> None:
    """What the notebook's load_tf1 / load_tf2 print, as values."""
    inputs = {"estimator-model": [5.0]}
    for name in names:
        value = inputs.get(name, 5.0)
        with tf.Graph().as_default():
            with tf1.Session() as sess:
                meta_graph = tf1.saved_model.load(sess, ["serve"], str(out / name))
                sig_def = meta_graph.signature_def["serving_default"]
                result = sess.run(
                    sig_def.outputs["output"].name, feed_dict={sig_def.inputs["input"].name: value}
                )
                golden[f"{name}/load_tf1"] = as_jsonable(result)
        loaded = tf.saved_model.load(str(out / name))
        result = loaded.signatures["serving_default"](tf.constant(value))
        golden[f"{name}/load_tf2"] = as_jsonable(result)
        if name == "tf2-save":
            golden["tf2-save/__call__"] = as_jsonable(loaded(5))


def cli_goldens(out: Path, names: list[str]) -> None:
    """saved_model_cli show --all and run outputs beside each model."""
    cli = str(Path(sys.executable).parent / "saved_model_cli")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    for name in names:
        show = subprocess.run(
            [cli, "show", "--dir", str(out / name), "--all"], capture_output=True, text=True, env=env
        )
        (out / f"{name}.show_all.txt").write_text(show.stdout)
        expr = "input=[10]" if name == "estimator-model" else "input=10"
        run = subprocess.run(
            [
                cli,
                "run",
                "--dir",
                str(out / name),
                "--tag_set",
                "serve",
                "--signature_def",
                "serving_default",
                "--input_exprs",
                expr,
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        (out / f"{name}.run.txt").write_text(run.stdout)


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    golden_path = out / "golden.json"
    golden = json.loads(golden_path.read_text()) if golden_path.exists() else {}
    if "--estimator" in sys.argv:
        estimator(out, golden)
        names = ["estimator-model"]
    else:
        builder(out, golden)
        simple_save(out, golden)
        tf2_save(out, golden)
        keras_model(out, golden)
        multiply(out, golden)
        names = ["saved-model-builder", "simple-save", "tf2-save", "keras-model"]
    load_goldens(out, golden, names)
    cli_goldens(out, names)
    golden_path.write_text(json.dumps(dict(sorted(golden.items())), indent=1) + "\n")


if __name__ == "__main__":
    main()
