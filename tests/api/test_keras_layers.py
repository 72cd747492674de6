"""Keras models built from the supported layers (tests/fixtures/api/keras_layers): savedmodel.tf
computes what tf-keras computes for the same weights (goldens from
tools/oracle/make_keras_layer_goldens.py), saves a SavedModel whose signature and whose
`load_model` give the same, and TensorFlow (oracle) loads it with tf-keras's own layer classes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import savedmodel
from savedmodel import tf
from savedmodel.errors import InvalidInputError, SavedModelError, UnsupportedError
from tests.api.keras_layer_programs import GOLDENS, PROGRAMS, run_program
from tests.api.written_programs import keras_metadata
from tests.conftest import ROOT, assert_matches_golden, golden_array

CASES: dict[str, Any] = json.loads(GOLDENS.read_text())
CHECK = ROOT / "tools" / "oracle" / "make_keras_layer_goldens.py"
KERAS3 = [  # saved as .keras too
    "cnn_sequential",
    "masked_text",
    "masking_sequential",
    "nested_models",
    "tabular_two_inputs",
    "text_functional",
]
ANY_LENGTH = sorted(name for name, case in CASES.items() if "more" in case)  # fed other lengths too
layers = tf.keras.layers


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("keras_layers")
    return root, {name: run_program(tf, name, root / name) for name in PROGRAMS}


def _classes(model: Any) -> list[str]:
    """The Keras classes of a model's layers (a functional model is a tf-keras `Functional`)."""
    return sorted({layer._class_name for layer in model.layers})


def _inputs(name: str) -> list[np.ndarray]:
    given = CASES[name]["inputs"]
    return [golden_array(x) for x in given] if isinstance(given, list) else [golden_array(given)]


def test_every_program_has_goldens() -> None:
    assert sorted(PROGRAMS) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_predict_matches_tf_keras(written: Any, name: str) -> None:
    _, namespaces = written
    output = namespaces[name]["model"].predict(namespaces[name]["INPUTS"])
    assert_matches_golden(output, CASES[name]["output"], name)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_weights_in_keras_order(written: Any, name: str) -> None:
    model = written[1][name]["model"]
    shapes = {layer.name: [list(w.shape) for w in layer.get_weights()] for layer in model.layers}
    assert shapes == CASES[name]["weight_shapes"]
    assert [layer.name for layer in model.layers] == CASES[name]["layer_order"]  # so get_weights
    assert _classes(model) == CASES[name]["classes"]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_saved_signature_matches_tf_keras(written: Any, name: str) -> None:
    root, _ = written
    signature = savedmodel.load(root / name).signatures["serving_default"]
    feeds = dict(zip(CASES[name]["input_names"], _inputs(name), strict=True))
    (output,) = signature(**feeds).values()
    assert_matches_golden(output, CASES[name]["output"], name)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_load_model_rebuilds_the_layers(written: Any, name: str) -> None:
    root, namespaces = written
    model = tf.keras.models.load_model(root / name)
    assert _classes(model) == CASES[name]["classes"]
    inputs = _inputs(name)
    assert_matches_golden(
        model.predict(inputs if len(inputs) > 1 else inputs[0]), CASES[name]["output"], name
    )


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_layer_metadata_is_tf_kerass(written: Any, name: str) -> None:
    """Each layer's keras_metadata.pb node (config, build shape, input spec...) is what tf-keras
    writes for it, less shared_object_id; configs are what other Keras tools read."""
    root, _ = written
    nodes = keras_metadata((root / name / "keras_metadata.pb").read_bytes()).values()
    ours: dict[str, Any] = {}
    for path, identifier, _, _, metadata in nodes:
        if path == "root":
            layers = metadata.pop("config").pop("layers")
            assert metadata.pop("model_config")["config"]["layers"] == layers
            inputs = {la["config"]["name"]: la for la in layers if la["class_name"] == "InputLayer"}
            ours["<root>"] = {"identifier": identifier, "metadata": metadata, "input_layers": inputs}
        elif path.count(".") == 1:
            ours[metadata["name"]] = {"identifier": identifier, "metadata": metadata}
    assert ours == CASES[name]["layer_metadata"]


def test_set_weights_then_get_weights_round_trips() -> None:
    lstm = layers.LSTM(3)
    model = tf.keras.Sequential([tf.keras.Input((4, 2)), lstm])
    values = [np.full(w.shape, i + 0.5, np.float32) for i, w in enumerate(lstm.get_weights())]
    lstm.set_weights(values)
    assert [w.shape for w in model.get_weights()] == [(2, 12), (3, 12), (12,)]
    for got, want in zip(model.get_weights(), values, strict=True):
        np.testing.assert_array_equal(got, want)


def test_default_initializers_are_keras_ones() -> None:
    lstm = layers.LSTM(4)
    tf.keras.Sequential([tf.keras.Input((3, 5)), lstm])
    kernel, recurrent, bias = lstm.get_weights()
    limit = np.sqrt(6 / (5 + 16))
    assert np.all(np.abs(kernel) <= limit)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)  # orthonormal rows
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])  # unit_forget_bias
    bn = layers.BatchNormalization()
    bn(tf.keras.Input((2,)))
    assert [w.tolist() for w in bn.get_weights()] == [[1, 1], [0, 0], [0, 0], [1, 1]]


def test_hdf5_is_refused_clearly(tmp_path: Path) -> None:
    model = tf.keras.Sequential([tf.keras.Input((2,)), layers.Dense(1)])
    with pytest.raises(UnsupportedError, match="save_format='tf'") as info:
        model.save(tmp_path / "m.h5")
    assert isinstance(info.value, SavedModelError)
    assert not (tmp_path / "m.h5").exists()
    with pytest.raises(UnsupportedError, match="HDF5"):
        model.save(tmp_path / "dir", save_format="h5")


def test_save_keras3_file(written: Any, tmp_path: Path) -> None:
    """`model.save("m.keras")`: a Keras 3 zip (config, metadata, weights; converted from what
    `model.save(dir)` writes); Keras 3 itself reads it in the oracle test."""
    import zipfile

    pytest.importorskip("h5py")  # the 'keras' extra
    model = written[1]["text_functional"]["model"]
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(archive.namelist())
        config = json.loads(archive.read("config.json"))
    assert config["class_name"] == "Functional"
    assert config["config"]["name"] == "text"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.LSTM(2, return_state=True), "return_state"),
        (lambda: layers.Conv1D(2, 3, padding="causal"), "causal"),
        (lambda: layers.Conv2D(2, 3, data_format="channels_first"), "channels_last"),
        (lambda: layers.Dense(2, activation="hard_sigmoid"), "activation"),
    ],
)
def test_unsupported_options_raise_unsupported_error(make: Any, message: str) -> None:
    with pytest.raises(UnsupportedError, match=message):
        make()


def test_a_mask_is_refused_where_tf_keras_would_use_it_otherwise() -> None:
    """tf-keras merges the masks of merged inputs and makes MultiHeadAttention's attention mask
    from them; neither is done here, so a masked input raises rather than giving other numbers."""
    tokens = tf.keras.Input((4,), dtype="int32")
    x = layers.Embedding(5, 2, mask_zero=True)(tokens)
    for out in (layers.Concatenate()([x, x]), layers.MultiHeadAttention(1, 2)(x, x)):
        with pytest.raises(UnsupportedError, match="mask"):
            tf.keras.Model(tokens, out).predict(np.array([[1, 2, 0, 0]], np.int32))


@pytest.mark.parametrize("name", ANY_LENGTH)
def test_any_length_matches_tf_keras_at_other_lengths(written: Any, name: str) -> None:
    """Timesteps unknown when saved: the recurrence is a while loop, and the one saved model fed
    other sequence lengths (the program's MORE_INPUTS) gives tf-keras's outputs, through predict,
    the signature and load_model."""
    root, namespaces = written
    assert b"StatelessWhile" in (root / name / "saved_model.pb").read_bytes()
    signature = savedmodel.load(root / name).signatures["serving_default"]
    loaded = tf.keras.models.load_model(root / name)
    (key,) = CASES[name]["input_names"]
    for case in CASES[name]["more"]:
        x, want = golden_array(case["inputs"]), case["output"]
        assert_matches_golden(namespaces[name]["model"].predict(x), want, f"{name} predict")
        (output,) = signature(**{key: x}).values()
        assert_matches_golden(output, want, f"{name} signature")
        assert_matches_golden(loaded.predict(x), want, f"{name} load_model")


def test_recurrent_layer_with_unknown_timesteps_saves_a_loop(tmp_path: Path) -> None:
    model = tf.keras.Sequential([tf.keras.Input((None, 2)), layers.GRU(2, return_sequences=True)])
    weights = model.get_weights()
    model.set_weights([np.full(w.shape, 0.25 * (i + 1), np.float32) for i, w in enumerate(weights)])
    model.save(tmp_path / "gru")
    signature = savedmodel.load(tmp_path / "gru").signatures["serving_default"]
    for length in (1, 4):
        x = np.linspace(-1, 1, 2 * length * 2, dtype=np.float32).reshape(2, length, 2)
        (output,) = signature(**{model.inputs[0].name.split(":")[0]: x}).values()
        assert np.asarray(output).shape == (2, length, 2)
        np.testing.assert_allclose(output, model.predict(x), rtol=1e-6, atol=1e-6)  # unrolled eagerly


def test_merge_layers_want_lists() -> None:
    with pytest.raises(InvalidInputError, match="list"):
        layers.Concatenate()(tf.keras.Input((2,)))


@pytest.mark.oracle
def test_tf_keras_loads_what_we_write(oracle_python: Path, written: Any) -> None:
    """tf-keras's load_model and TF's signatures on our SavedModels; Keras 3 on our .keras files."""
    root, namespaces = written
    keras3 = KERAS3 if importlib.util.find_spec("h5py") else []  # .keras needs the 'keras' extra
    for name in keras3:
        namespaces[name]["model"].save(root / f"{name}.keras")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [str(oracle_python), str(CHECK), "check", str(root), *sorted(PROGRAMS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in keras3:
        result = results[name]
        assert "keras3_error" not in result, result
        assert_matches_golden(golden_array(result["keras3"]), CASES[name]["output"], f"Keras 3 {name}")
    for name in sorted(PROGRAMS):
        result = results[name]
        assert "keras_error" not in result and "signature_error" not in result, result
        assert result["classes"] == CASES[name]["classes"], name  # tf-keras's own layer classes
        assert_matches_golden(golden_array(result["keras"]), CASES[name]["output"], f"load_model {name}")
        (output,) = result["signature"].values()
        assert_matches_golden(golden_array(output), CASES[name]["output"], f"signature {name}")
        for case, keras, signature in zip(
            CASES[name].get("more", []), result["more_keras"], result["more_signature"], strict=True
        ):
            assert_matches_golden(golden_array(keras), case["output"], f"load_model {name}, other length")
            (output,) = signature.values()
            assert_matches_golden(golden_array(output), case["output"], f"signature {name}, other length")
