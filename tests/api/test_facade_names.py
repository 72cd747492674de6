"""Every TensorFlow name the TF-shaped facade does not implement raises one clear
`savedmodel.UnsupportedError` naming it, never an AttributeError from an internal namespace; the
names it implements resolve. UnsupportedError is an AttributeError too, so `hasattr` answers False."""

from __future__ import annotations

import subprocess
import sys

import pytest

import savedmodel
from savedmodel import tf
from tests.conftest import ROOT

# Names a new user of TensorFlow's guides reaches for: implemented ones and others.
COMMON = """
tf.constant tf.Variable tf.function tf.Module tf.TensorSpec tf.TensorShape tf.Tensor tf.Graph
tf.saved_model.save tf.saved_model.load tf.saved_model.SaveOptions tf.saved_model.experimental
tf.cond tf.case tf.while_loop tf.map_fn tf.switch_case tf.scan tf.foldl tf.vectorized_map
tf.zeros tf.ones tf.zeros_like tf.ones_like tf.fill tf.range tf.one_hot tf.gather tf.gather_nd tf.tile
tf.pad tf.clip_by_value tf.split tf.unstack tf.stack tf.concat tf.reshape tf.transpose tf.squeeze
tf.matmul tf.einsum tf.reduce_sum tf.reduce_mean tf.argmax tf.cast tf.where tf.print tf.py_function
tf.numpy_function tf.GradientTape tf.stop_gradient tf.gradients tf.custom_gradient tf.random.normal
tf.random.uniform tf.random.set_seed tf.math.reduce_sum tf.math.add tf.math.log tf.math.top_k
tf.nn.relu tf.nn.softmax tf.nn.conv2d tf.nn.max_pool2d tf.nn.dropout tf.linalg.matmul tf.linalg.inv
tf.image.resize tf.image.decode_jpeg tf.strings.split tf.strings.to_number tf.sparse.SparseTensor
tf.SparseTensor tf.RaggedTensor tf.ragged.constant tf.lookup.StaticHashTable
tf.lookup.KeyValueTensorInitializer
tf.data.Dataset tf.data.AUTOTUNE tf.io.gfile.GFile tf.io.gfile.exists tf.io.read_file tf.io.parse_example
tf.io.parse_single_example tf.io.FixedLenFeature tf.io.serialize_tensor tf.train.Example tf.train.Features
tf.train.Feature tf.train.Int64List tf.train.Checkpoint tf.train.CheckpointManager tf.train.latest_checkpoint
tf.config.list_physical_devices tf.config.experimental.set_memory_growth tf.config.run_functions_eagerly
tf.distribute.MirroredStrategy tf.summary.scalar tf.summary.create_file_writer tf.debugging.assert_equal
tf.errors.InvalidArgumentError tf.dtypes.float32 tf.float32 tf.int64 tf.string tf.bool tf.newaxis
tf.feature_column.numeric_column tf.autograph.experimental.do_not_convert tf.experimental.numpy
tf.nest.map_structure tf.nest.flatten tf.compat.v2 tf.compat.v1 tf.compat.v1.placeholder tf.compat.v1.Session
tf.compat.v1.layers.dense tf.compat.v1.get_variable tf.compat.v1.variable_scope tf.compat.v1.train.Saver
tf.compat.v1.train.AdamOptimizer tf.compat.v1.saved_model.Builder tf.compat.v1.saved_model.simple_save
tf.compat.v1.saved_model.load tf.compat.v1.losses.mean_squared_error tf.compat.v1.estimator.Estimator
tf.estimator.Estimator tf.estimator.EstimatorSpec tf.estimator.export.PredictOutput
tf.estimator.LinearRegressor
tf.keras.Input tf.keras.Model tf.keras.Sequential tf.keras.layers.Dense tf.keras.layers.Conv2D
tf.keras.layers.Flatten tf.keras.layers.Dropout tf.keras.layers.BatchNormalization tf.keras.layers.Embedding
tf.keras.layers.LSTM tf.keras.optimizers.Adam tf.keras.optimizers.SGD
tf.keras.losses.SparseCategoricalCrossentropy
tf.keras.metrics.Accuracy tf.keras.callbacks.ModelCheckpoint tf.keras.models.load_model tf.keras.models.Model
tf.keras.backend.clear_session tf.keras.utils.get_file tf.keras.utils.load_img tf.keras.applications.MobileNet
tf.keras.applications.mobilenet.preprocess_input tf.keras.initializers.Constant tf.keras.activations.relu
tf.keras.datasets.mnist.load_data tf.keras.preprocessing.image.load_img tf.keras.regularizers.l2
""".split()

# Far from what the facade is for: must stay unsupported.
UNSUPPORTED = [
    "tf.GradientTape",
    "tf.distribute",
    "tf.compat.v1.layers",
    "tf.compat.v2",
    "tf.train.Checkpoint",
    "tf.keras.applications",
    "tf.keras.datasets",
    "tf.saved_model.experimental",
    "tf.config.run_functions_eagerly",
]


def _resolve(path: str) -> object:
    obj: object = tf
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", COMMON)
def test_common_names_resolve_or_raise_unsupported(path: str) -> None:
    try:
        _resolve(path)
    except savedmodel.UnsupportedError as error:
        unsupported = str(error).split(" is not supported by savedmodel", 1)[0]
        assert path.startswith(unsupported), str(error)
        assert "is not supported by savedmodel" in str(error)
    except AttributeError as error:  # pragma: no cover - the failure this test guards against
        pytest.fail(f"{path}: raw AttributeError {error}")


@pytest.mark.parametrize("path", UNSUPPORTED)
def test_unsupported_names_are_named(path: str) -> None:
    with pytest.raises(savedmodel.UnsupportedError, match=f"^{path.replace('.', '[.]')} is not supported"):
        _resolve(path)
    parent, _, name = path.rpartition(".")
    assert not hasattr(_resolve(parent) if parent != "tf" else tf, name)


def test_unsupported_error_is_a_savedmodel_error_and_an_attribute_error() -> None:
    assert issubclass(savedmodel.UnsupportedError, savedmodel.SavedModelError)
    assert issubclass(savedmodel.UnsupportedError, AttributeError)
    assert getattr(tf.keras.layers, "NoSuchLayer", None) is None


def test_facade_namespaces_survive_importing_their_modules() -> None:
    import importlib

    importlib.import_module("savedmodel.api.tf.keras")
    importlib.import_module("savedmodel.api.tf.data")
    with pytest.raises(savedmodel.UnsupportedError, match="^tf.keras.NoSuchThing "):
        _ = tf.keras.NoSuchThing
    with pytest.raises(savedmodel.UnsupportedError, match="^tf.data.NoSuchThing "):
        _ = tf.data.NoSuchThing


def test_compat_and_tf_reachable_after_import_savedmodel() -> None:
    code = "import savedmodel; print(savedmodel.compat.v1.Session.__name__, savedmodel.tf.function.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Session", "function"]
