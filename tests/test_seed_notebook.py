"""The seed notebook (TensorFlow's guide "Migrate the SavedModel workflow", migrate/saved_model.ipynb)
run with only its imports changed:

    import tensorflow as tf               ->  from savedmodel import tf
    import tensorflow.compat.v1 as tf1    ->  tf1 = tf.compat.v1
    !saved_model_cli run ...              ->  savedmodel run ... (checked in tests/cli)

Every printed value is compared with what TensorFlow printed (tests/fixtures/seed/golden.json).
Cells are written out as in the notebook; each runs in a fresh temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SEED, golden_array, load_golden

GOLDEN = load_golden(SEED / "golden.json")

SETUP = """
from savedmodel import tf
tf1 = tf.compat.v1
import shutil

def remove_dir(path):
  try:
    shutil.rmtree(path)
  except:
    pass

def add_two(input):
  return input + 2
"""

BUILDER = """
remove_dir("saved-model-builder")

with tf.Graph().as_default() as g:
  with tf1.Session() as sess:
    input = tf1.placeholder(tf.float32, shape=[])
    output = add_two(input)
    print("add two output: ", sess.run(output, {input: 3.}))

    # Save with SavedModelBuilder
    builder = tf1.saved_model.Builder('saved-model-builder')
    sig_def = tf1.saved_model.predict_signature_def(
        inputs={'input': input},
        outputs={'output': output})
    builder.add_meta_graph_and_variables(
        sess, tags=["serve"], signature_def_map={
            tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: sig_def
    })
    builder.save()
"""

SIMPLE_SAVE = """
remove_dir("simple-save")

with tf.Graph().as_default() as g:
  with tf1.Session() as sess:
    input = tf1.placeholder(tf.float32, shape=[])
    output = add_two(input)
    print("add_two output: ", sess.run(output, {input: 3.}))

    tf1.saved_model.simple_save(
        sess, 'simple-save',
        inputs={'input': input},
        outputs={'output': output})
"""

TF2_SAVE = """
class MyModel(tf.Module):
  @tf.function
  def __call__(self, input):
    return add_two(input)

model = MyModel()

@tf.function
def serving_default(input):
  return {'output': model(input)}

signature_function = serving_default.get_concrete_function(
    tf.TensorSpec(shape=[], dtype=tf.float32))
tf.saved_model.save(
    model, 'tf2-save', signatures={
        tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature_function})
"""

ESTIMATOR = """
def model_fn(features, labels, mode):
  output = add_two(features['input'])
  step = tf1.train.get_global_step()
  return tf.estimator.EstimatorSpec(
      mode,
      predictions=output,
      train_op=step.assign_add(1),
      loss=tf.constant(0.),
      export_outputs={
          tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: \\
          tf.estimator.export.PredictOutput({'output': output})})
est = tf.estimator.Estimator(model_fn, 'estimator-checkpoints')

# Train for one step to create a checkpoint.
def train_fn():
  return tf.data.Dataset.from_tensors({'input': 3.}).repeat()
est.train(train_fn, steps=1)

# This utility function `build_raw_serving_input_receiver_fn` takes in raw
# tensor features and builds an "input serving receiver function", which
# creates placeholder inputs to the model.
serving_input_fn = tf.estimator.export.build_raw_serving_input_receiver_fn(
    {'input': tf.constant(3.)})  # Pass in a dummy input batch.
estimator_path = est.export_saved_model('exported-estimator', serving_input_fn)

# Estimator's export_saved_model creates a time stamped directory. Move this
# to a set path so it can be inspected with `saved_model_cli` in the cell below.
remove_dir('estimator-model')
import shutil
shutil.move(estimator_path, 'estimator-model')
"""

KERAS = """
inp = tf.keras.Input(3)
out = add_two(inp)
model = tf.keras.Model(inputs=inp, outputs=out)

@tf.function(input_signature=[tf.TensorSpec(shape=[], dtype=tf.float32)])
def serving_default(input):
  return {'output': model(input)}

model.save('keras-model', save_format='tf', signatures={
        tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: serving_default})
"""

KERAS_LOAD = """
loaded_model = tf.keras.models.load_model('keras-model')
print(repr(loaded_model.predict_on_batch(tf.constant([1, 3, 4]))))
"""

LOAD_TF1 = """
def load_tf1(path, input):
  print('Loading from', path)
  with tf.Graph().as_default() as g:
    with tf1.Session() as sess:
      meta_graph = tf1.saved_model.load(sess, ["serve"], path)
      sig_def = meta_graph.signature_def[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
      input_name = sig_def.inputs['input'].name
      output_name = sig_def.outputs['output'].name
      print('  Output with input', input, ': ',
            sess.run(output_name, feed_dict={input_name: input}))
"""

LOAD_TF2 = """
def load_tf2(path, input):
  print('Loading from', path)
  loaded = tf.saved_model.load(path)
  out = loaded.signatures[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY](
      tf.constant(input))
  print('  Output with input', input, ': ', out)
"""

LOADED_CALL = """
loaded = tf.saved_model.load('tf2-save')
print('output with input 5.', loaded(5))
"""

MULTIPLY_SAVE = """
# Save a simple multiplication computation:
with tf.Graph().as_default() as g:
  x = tf1.placeholder(tf.float32, shape=[], name='x')
  v = tf.Variable(3.0, name='v')
  y = tf.multiply(x, v, name='y')
  with tf1.Session() as sess:
    sess.run(v.initializer)
    print(sess.run(y, feed_dict={x: 5}))
    s = tf1.train.Saver()
    s.export_meta_graph('multiply.pb', as_text=True)
    s.save(sess, 'multiply_values.ckpt')
"""

MULTIPLY_IMPORT = """
with tf.Graph().as_default() as g:
  meta = tf1.train.import_meta_graph('multiply.pb')
  x = g.get_tensor_by_name('x:0')
  y = g.get_tensor_by_name('y:0')
  with tf1.Session() as sess:
    meta.restore(sess, 'multiply_values.ckpt')
    print(sess.run(y, feed_dict={x: 5}))
"""

WRAP_FUNCTION = """
def import_multiply():
  # Any graph-building code is allowed here.
  tf1.train.import_meta_graph('multiply.pb')

# Creates a tf.function with all the imported elements in the function graph.
wrapped_import = tf1.wrap_function(import_multiply, [])
import_graph = wrapped_import.graph
x = import_graph.get_tensor_by_name('x:0')
y = import_graph.get_tensor_by_name('y:0')

# Restore the variable values.
tf1.train.Saver(wrapped_import.variables).restore(
    sess=None, save_path='multiply_values.ckpt')

# Create a concrete function by pruning the wrap_function (similar to sess.run).
multiply_fn = wrapped_import.prune(feeds=x, fetches=y)

# Run this function
result = multiply_fn(tf.constant(5.))  # inputs to concrete functions must be Tensors.
print(repr(result))
"""


class Notebook:
    """Runs cells in one namespace inside a temporary directory, capturing what they print."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.namespace: dict = {"__name__": "__notebook__"}

    def run(self, source: str) -> str:
        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.workdir)
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(textwrap.dedent(source), "<cell>", "exec"), self.namespace)  # noqa: S102
        finally:
            os.chdir(cwd)
        return out.getvalue()


@pytest.fixture
def notebook(tmp_path: Path) -> Notebook:
    nb = Notebook(tmp_path)
    nb.run(SETUP)
    return nb


def _value_text(entry: dict) -> str:
    """How TF's session.run result prints (a NumPy scalar or array)."""
    value = golden_array(entry)
    return str(value[()] if value.ndim == 0 else value)


def _eager_text(entry: dict) -> str:
    value = golden_array(entry)
    from savedmodel.api.tf.eager import EagerTensor

    return repr(EagerTensor(value))


def test_builder_cell(notebook: Notebook) -> None:
    out = notebook.run(BUILDER)
    assert out == f"add two output:  {_value_text(GOLDEN['saved-model-builder/session_run'])}\n"
    assert sorted(os.listdir(notebook.workdir / "saved-model-builder")) == ["saved_model.pb"]


def test_simple_save_cell(notebook: Notebook) -> None:
    out = notebook.run(SIMPLE_SAVE)
    assert out == f"add_two output:  {_value_text(GOLDEN['simple-save/session_run'])}\n"


def test_tf2_save_cell_and_loading(notebook: Notebook) -> None:
    notebook.run(TF2_SAVE)
    assert {"saved_model.pb", "variables", "fingerprint.pb"} <= set(os.listdir(notebook.workdir / "tf2-save"))
    notebook.run(LOAD_TF1 + LOAD_TF2)
    out = notebook.run("load_tf1('tf2-save', 5.)")
    assert (
        out
        == f"Loading from tf2-save\n  Output with input 5.0 :  {_value_text(GOLDEN['tf2-save/load_tf1'])}\n"
    )
    out = notebook.run("load_tf2('tf2-save', 5.)")
    expected = "{'output': " + _eager_text(GOLDEN["tf2-save/load_tf2"]["output"]) + "}"
    assert out == f"Loading from tf2-save\n  Output with input 5.0 :  {expected}\n"
    out = notebook.run(LOADED_CALL)
    value = golden_array(GOLDEN["tf2-save/__call__"])
    assert out == f"output with input 5. tf.Tensor({value[()]}, shape=(), dtype=float32)\n"


@pytest.mark.parametrize("name", ["saved-model-builder", "simple-save"])
def test_tf1_models_load_both_ways(notebook: Notebook, name: str) -> None:
    notebook.run(BUILDER if name == "saved-model-builder" else SIMPLE_SAVE)
    notebook.run(LOAD_TF1 + LOAD_TF2)
    out = notebook.run(f"load_tf1('{name}', 5.)")
    assert (
        out == f"Loading from {name}\n  Output with input 5.0 :  {_value_text(GOLDEN[f'{name}/load_tf1'])}\n"
    )
    out = notebook.run(f"load_tf2('{name}', 5.)")
    expected = "{'output': " + _eager_text(GOLDEN[f"{name}/load_tf2"]["output"]) + "}"
    assert out == f"Loading from {name}\n  Output with input 5.0 :  {expected}\n"


@pytest.mark.parametrize("name", ["estimator-model", "tf2-save", "keras-model"])
def test_load_tf1_of_tensorflow_written_models(notebook: Notebook, name: str) -> None:
    shutil.copytree(SEED / name, notebook.workdir / name)
    notebook.run(LOAD_TF1)
    value = "[5.]" if name == "estimator-model" else "5."
    out = notebook.run(f"load_tf1('{name}', {value})")
    shown = "[5.0]" if name == "estimator-model" else "5.0"
    assert (
        out
        == f"Loading from {name}\n  Output with input {shown} :  {_value_text(GOLDEN[f'{name}/load_tf1'])}\n"
    )


def test_estimator_cell(notebook: Notebook) -> None:
    from savedmodel.format.saved_model import read_saved_model

    assert notebook.run(ESTIMATOR) == ""
    assert sorted(os.listdir(notebook.workdir / "estimator-model")) == ["saved_model.pb", "variables"]
    notebook.run(LOAD_TF1 + LOAD_TF2)
    out = notebook.run("load_tf1('estimator-model', [5.])")
    assert out == (
        "Loading from estimator-model\n  Output with input [5.0] :  "
        f"{_value_text(GOLDEN['estimator-model/load_tf1'])}\n"
    )
    out = notebook.run("load_tf2('estimator-model', [5.])")
    expected = "{'output': " + _eager_text(GOLDEN["estimator-model/load_tf2"]["output"]) + "}"
    assert out == f"Loading from estimator-model\n  Output with input [5.0] :  {expected}\n"
    # The export is the MetaGraphDef TensorFlow's Estimator writes (its producer version aside).
    ours = read_saved_model(notebook.workdir / "estimator-model").meta_graphs[0]
    theirs = read_saved_model(SEED / "estimator-model").meta_graphs[0]
    for meta in (ours, theirs):
        meta.meta_info_def.ClearField("tensorflow_git_version")
        meta.meta_info_def.ClearField("tensorflow_version")
        meta.graph_def.versions.producer = 0
    assert ours == theirs


def test_keras_cells(notebook: Notebook) -> None:
    notebook.run(KERAS)
    assert {"saved_model.pb", "variables", "keras_metadata.pb"} <= set(
        os.listdir(notebook.workdir / "keras-model")
    )
    notebook.run(LOAD_TF1 + LOAD_TF2)
    out = notebook.run("load_tf1('keras-model', 5.)")
    assert (
        out == "Loading from keras-model\n  Output with input 5.0 :  "
        f"{_value_text(GOLDEN['keras-model/load_tf1'])}\n"
    )
    out = notebook.run("load_tf2('keras-model', 5.)")
    expected = "{'output': " + _eager_text(GOLDEN["keras-model/load_tf2"]["output"]) + "}"
    assert out == f"Loading from keras-model\n  Output with input 5.0 :  {expected}\n"
    expected_array = repr(golden_array(GOLDEN["keras-model/predict_on_batch"]))
    assert notebook.run(KERAS_LOAD) == expected_array + "\n"


def test_keras_load_model_of_tensorflow_written_model(notebook: Notebook) -> None:
    shutil.copytree(SEED / "keras-model", notebook.workdir / "keras-model")
    expected_array = repr(golden_array(GOLDEN["keras-model/predict_on_batch"]))
    assert notebook.run(KERAS_LOAD) == expected_array + "\n"


def test_multiply_cells(notebook: Notebook) -> None:
    out = notebook.run(MULTIPLY_SAVE)
    assert out == f"{_value_text(GOLDEN['multiply/session_run'])}\n"
    out = notebook.run(MULTIPLY_IMPORT)
    assert out == f"{_value_text(GOLDEN['multiply/session_run'])}\n"
    out = notebook.run(WRAP_FUNCTION)
    assert out == _eager_text(GOLDEN["multiply/session_run"]) + "\n"


def test_multiply_files_match_tensorflow(notebook: Notebook) -> None:
    """The MetaGraphDef and checkpoint are what TensorFlow wrote for the same cell."""
    from google.protobuf import text_format

    from savedmodel.proto import meta_graph_pb2

    notebook.run(MULTIPLY_SAVE)
    ours, theirs = meta_graph_pb2.MetaGraphDef(), meta_graph_pb2.MetaGraphDef()
    text_format.Parse((notebook.workdir / "multiply.pb").read_text(), ours)
    text_format.Parse((SEED / "multiply.pb").read_text(), theirs)
    for meta in (ours, theirs):
        meta.meta_info_def.ClearField("tensorflow_git_version")
    assert ours == theirs
    for suffix in (".index", ".data-00000-of-00001"):
        name = "multiply_values.ckpt" + suffix
        assert (notebook.workdir / name).read_bytes() == (SEED / name).read_bytes()


@pytest.mark.parametrize("name", ["saved-model-builder", "simple-save"])
def test_tf1_saved_models_match_tensorflow(notebook: Notebook, name: str) -> None:
    from savedmodel.format.saved_model import read_saved_model

    notebook.run(BUILDER if name == "saved-model-builder" else SIMPLE_SAVE)
    ours, theirs = read_saved_model(notebook.workdir / name), read_saved_model(SEED / name)
    for proto in (ours, theirs):
        proto.meta_graphs[0].meta_info_def.ClearField("tensorflow_git_version")
    assert ours == theirs


def test_golden_values_are_float32() -> None:
    assert golden_array(GOLDEN["multiply/session_run"]).dtype == np.float32


CLI_CELLS = {
    "saved-model-builder": (BUILDER, "input=10"),
    "simple-save": (SIMPLE_SAVE, "input=10"),
    "tf2-save": (TF2_SAVE, "input=10"),
    "keras-model": (KERAS, "input=10"),
    "estimator-model": (ESTIMATOR, "input=[10]"),
}


@pytest.mark.parametrize("name", sorted(CLI_CELLS))
def test_savedmodel_run_prints_what_saved_model_cli_printed(
    notebook: Notebook, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`!saved_model_cli run ...` -> `savedmodel run ...` on the models the cells wrote."""
    from savedmodel.cli.main import main

    cell, expr = CLI_CELLS[name]
    notebook.run(cell)
    capsys.readouterr()
    argv = ["run", "--dir", str(notebook.workdir / name), "--tag_set", "serve"]
    argv += ["--signature_def", "serving_default", "--input_exprs", expr]
    assert main(argv) in (0, None)
    assert capsys.readouterr().out == (SEED / f"{name}.run.txt").read_text()
