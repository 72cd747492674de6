"""tf-keras SavedModel -> Keras 3 .keras (savedmodel.convert.keras3, `convert --to keras3`).

Without TensorFlow: the archive's layout, the Keras 3 config's structure and that every
weight equals its source variable at the path Keras 3 reads it from. With the oracle venv:
Keras 3 loads every converted fixture and reproduces tf-keras's outputs
(tools/oracle/make_keras3_fixtures.py wrote the models and goldens).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from savedmodel.cli.main import main
from savedmodel.convert import ConversionError
from savedmodel.convert.keras3 import plan, to_keras3
from savedmodel.convert.keras3.order import functional_order, snake_case, store_names
from savedmodel.convert.weights import read_weights
from savedmodel.errors import InvalidInputError
from tests.conftest import FIXTURES, ORACLE_PYTHON, ROOT, assert_matches_golden, golden_array

KERAS3 = FIXTURES / "convert" / "keras3"
GOLDENS = json.loads((KERAS3 / "goldens.json").read_text())
MODELS = sorted(GOLDENS)
CHECK = ROOT / "tools" / "oracle" / "keras3_check.py"
HALF_PRECISION = {"mixed"}  # mixed_float16 layers

h5py = pytest.importorskip("h5py")


def _convert(name: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{name}.keras"
    report = to_keras3(KERAS3 / name, out)
    assert report.written and report.ok
    return out


def _h5(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    out: dict[str, np.ndarray] = {}
    with h5py.File(io.BytesIO(data), "r") as h5:
        h5.visititems(
            lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
        )
    return out


def _config(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.mark.parametrize("name", MODELS)
def test_every_weight_is_a_source_variable(name: str, tmp_path: Path) -> None:
    out = _convert(name, tmp_path)
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(archive.read("metadata.json"))["keras_version"].startswith("3.")
    written = _h5(out)
    source = {
        tf_name: value
        for tf_name, key, _, value in read_weights(KERAS3 / name)
        if "/_random_generator/" not in key  # tf-keras's RNG state: Keras 3 seeds its own
    }
    # Every variable lands exactly once (the random weights tell them apart), nothing else is written.
    assert len(written) == len(source)
    for path, value in written.items():
        assert path.split("/")[-2] == "vars"
        matches = [n for n, v in source.items() if v.shape == value.shape and np.array_equal(v, value)]
        assert len(matches) == 1, path


# Keras 3 reads a layer's weights by snake_case(class) + counter, not by the layer's name.
PLACES = {
    "mlp": {
        "layers/dense/vars/0": "hidden/kernel",
        "layers/dense_1/vars/0": "dense/kernel",
        "layers/dense_2/vars/1": "dense_1/bias",
        "layers/batch_normalization/vars/3": "batch_normalization/moving_variance",
    },
    "text": {
        "layers/lstm/cell/vars/1": "lstm/lstm_cell/recurrent_kernel",
        "layers/gru/cell/vars/2": "gru/gru_cell/bias",
        "layers/bidirectional/backward_layer/cell/vars/0": "bidirectional/backward_lstm_1/lstm_cell/kernel",
        "layers/embedding/vars/0": "embedding/embeddings",
    },
    "attention": {
        "layers/multi_head_attention/output_dense/vars/0": "multi_head_attention/attention_output/kernel",
        "layers/multi_head_attention/key_dense/vars/1": "multi_head_attention/key/bias",
        "layers/attention/vars/0": "attention/scale",
    },
    "cnn": {
        "layers/depthwise_conv2d/vars/0": "depthwise_conv2d/depthwise_kernel",
        "layers/separable_conv2d/vars/1": "separable_conv2d/pointwise_kernel",
    },
    "preprocess": {"layers/normalization/vars/2": "count", "layers/normalization/vars/0": "mean"},
    "mixed": {"layers/layer_normalization/vars/0": "layer_normalization/gamma"},
    "nested": {
        "layers/sequential/layers/dense_1/vars/0": "dense_1/kernel",
        "layers/time_distributed/layer/vars/0": "time_distributed/kernel",
    },
}


@pytest.mark.parametrize("name", sorted(PLACES))
def test_weights_sit_where_keras3_reads_them(name: str, tmp_path: Path) -> None:
    written = _h5(_convert(name, tmp_path))
    source = {tf_name: value for tf_name, _, _, value in read_weights(KERAS3 / name)}
    for path, tf_name in PLACES[name].items():
        np.testing.assert_array_equal(written[path], source[tf_name], err_msg=path)


def test_sequential_config(tmp_path: Path) -> None:
    config = _config(_convert("mlp", tmp_path))
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    layers = config["config"]["layers"]
    assert layers[0]["class_name"] == "InputLayer"
    assert layers[0]["config"]["batch_shape"] == [None, 8] and "batch_input_shape" not in layers[0]["config"]
    dense = layers[1]
    assert dense["module"] == "keras.layers" and dense["registered_name"] is None
    assert dense["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert dense["config"]["kernel_initializer"]["module"] == "keras.initializers"
    regularizer = layers[4]["config"]["kernel_regularizer"]
    assert regularizer["class_name"] == "L2" and regularizer["module"] == "keras.regularizers"
    assert config["build_config"] == {"input_shape": [None, 8]}


def test_functional_config(tmp_path: Path) -> None:
    config = _config(_convert("attention", tmp_path))
    assert config["class_name"] == "Functional"
    by_name = {layer["name"]: layer for layer in config["config"]["layers"]}
    mha = by_name["multi_head_attention"]
    assert "query_shape" not in mha["config"] and mha["config"]["attention_axes"] == [1]
    (call,) = mha["inbound_nodes"]
    assert call["args"][0]["config"]["keras_history"] == ["x", 0, 0]
    assert call["kwargs"]["value"]["class_name"] == "__keras_tensor__"
    (add_call,) = by_name["add"]["inbound_nodes"]
    assert [t["config"]["keras_history"][0] for t in add_call["args"][0]] == ["x", "multi_head_attention"]
    assert config["config"]["output_layers"] == [["dense", 0, 0]]


def test_nested_sequential_counts_its_calls_from_zero(tmp_path: Path) -> None:
    config = _config(_convert("nested", tmp_path))
    by_name = {layer["name"]: layer for layer in config["config"]["layers"]}
    refs = [t["config"]["keras_history"] for t in by_name["concatenate"]["inbound_nodes"][0]["args"][0]]
    assert refs[0] == ["head", 0, 0]  # tf-keras wrote 1: it counts the model's own first node
    assert by_name["head"]["class_name"] == "Sequential"


def test_blocked_layers_are_listed_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "blocked.keras"
    with pytest.raises(ConversionError) as caught:
        to_keras3(KERAS3 / "blocked", out)
    message = str(caught.value)
    assert "lstm (LSTM: activation 'hard_sigmoid'" in message and "lambda (Lambda" in message
    assert not out.exists()
    report = plan(KERAS3 / "blocked")
    state = {r.name: r.problem for r in report.layers}
    assert state["dense"] is None and state["lstm"] and state["lambda"]


def test_refuses_to_clobber_and_non_keras_models(tmp_path: Path) -> None:
    out = tmp_path / "m.keras"
    out.write_bytes(b"keep")
    with pytest.raises(InvalidInputError, match="exists"):
        to_keras3(KERAS3 / "mlp", out)
    assert out.read_bytes() == b"keep"
    to_keras3(KERAS3 / "mlp", out, overwrite=True)
    assert zipfile.is_zipfile(out)
    with pytest.raises(InvalidInputError, match="keras_metadata.pb"):
        to_keras3(FIXTURES / "convert" / "simple_save", tmp_path / "x.keras")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.keras"
    base = ["convert", "--dir", str(KERAS3 / "text"), "--to", "keras3"]
    assert main([*base, "--output", str(out)]) == 0
    assert "bidirectional (Bidirectional): converts (6 weights)" in capsys.readouterr().out
    assert main([*base, "--output", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    blocked = ["convert", "--dir", str(KERAS3 / "blocked"), "--to", "keras3"]
    assert main([*blocked, "--dry-run", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and {r["name"] for r in report["layers"] if not r["converts"]} == {
        "lstm",
        "lambda",
    }
    assert main([*blocked, "--output", str(tmp_path / "b.keras")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lambda (Lambda" in err and "Traceback" not in err
    assert main([*base, "--output", str(out), "--freeze"]) == 1
    assert "--to keras3 takes only" in capsys.readouterr().err


def test_layer_order_follows_keras3() -> None:
    assert snake_case("GlobalAveragePooling1D") == "global_average_pooling1d"
    assert snake_case("MultiHeadAttention") == "multi_head_attention"
    assert store_names([("a", "Dense"), ("b", "LSTM"), ("c", "Dense")]) == {
        "a": "dense",
        "b": "lstm",
        "c": "dense_1",
    }

    def call(*refs: str) -> dict:
        tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": [r, 0, 0]}} for r in refs]
        return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": {}}

    layers = [
        {"name": "in", "inbound_nodes": []},
        {"name": "left", "inbound_nodes": [call("in")]},
        {"name": "deep1", "inbound_nodes": [call("in")]},
        {"name": "deep2", "inbound_nodes": [call("deep1")]},
        {"name": "join", "inbound_nodes": [call("left", "deep2")]},
        {"name": "unused", "inbound_nodes": []},
    ]
    # By decreasing depth from the output, ties by first visit of a depth-first walk from the output.
    order = functional_order(layers, [["in", 0, 0], ["unused", 0, 0]], [["join", 0, 0]])
    assert order == ["in", "deep1", "left", "deep2", "unused", "join"]  # as Keras 3.15 orders it


@pytest.mark.oracle
def test_keras3_reproduces_tf_keras(tmp_path: Path, oracle_python: Path) -> None:
    jobs = {
        name: {"path": str(_convert(name, tmp_path)), "inputs": GOLDENS[name]["inputs"]} for name in MODELS
    }
    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    done = subprocess.run(
        [str(ORACLE_PYTHON), str(CHECK), str(job_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    results = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    for name in MODELS:
        assert "error" not in results[name], results[name].get("error")
        expected = GOLDENS[name]["outputs"]
        assert len(results[name]["outputs"]) == len(expected), name
        for index, (actual, golden) in enumerate(zip(results[name]["outputs"], expected, strict=True)):
            value = np.array(actual["value"], dtype=actual["dtype"]).reshape(actual["shape"])
            if name in HALF_PRECISION:  # float16 arithmetic: Keras 3 and tf-keras round differently
                expected = golden_array(golden)
                assert value.dtype == expected.dtype and value.shape == expected.shape
                np.testing.assert_allclose(value, expected, rtol=2e-3, atol=1e-3, err_msg=name)
            else:
                assert_matches_golden(value, golden, f"{name} output {index}")


def test_missing_h5py_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` raises ImportError
    out = tmp_path / "m.keras"
    with pytest.raises(InvalidInputError, match=r"savedmodel\[keras\]"):
        to_keras3(KERAS3 / "mlp", out)
    assert not out.exists()
    assert plan(KERAS3 / "mlp").ok  # planning needs no h5py


def _strings(inputs: np.lib.npyio.NpzFile, name: str) -> list[str]:
    """A string input the corpus stores as lengths + concatenated bytes."""
    lengths, data = inputs[f"{name}.__strlens__"].ravel(), inputs[f"{name}.__strdata__"].tobytes()
    ends = np.cumsum(lengths)
    return [data[end - n : end].decode() for n, end in zip(lengths, ends, strict=True)]


@pytest.mark.oracle
def test_keras3_hashing_matches_tensorflow(tmp_path: Path, oracle_python: Path) -> None:
    """The corpus's Hashing model (strings and int64, plain and salted): Keras 3 gives the bins
    TensorFlow recorded for the original."""
    case = FIXTURES / "corpus" / "hashing"
    out = tmp_path / "hashing.keras"
    to_keras3(case / "saved_model", out)
    inputs = np.load(case / "inputs.npz")
    numbers = inputs["serving_default/numbers"]
    words = _strings(inputs, "serving_default/words")
    feed = [
        {"dtype": "object", "shape": list(numbers.shape), "value": words},
        {"dtype": "int64", "shape": list(numbers.shape), "value": numbers.ravel().tolist()},
    ]
    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps({"hashing": {"path": str(out), "inputs": feed}}))
    done = subprocess.run(
        [str(ORACLE_PYTHON), str(CHECK), str(job_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    result = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])["hashing"]
    assert "error" not in result, result.get("error")
    outputs = _config(out)["config"][
        "output_layers"
    ]  # {key: [layer, 0, 0]}; Keras 3 returns them by sorted key
    expected = np.load(case / "outputs.npz")
    for key, actual in zip(sorted(outputs), result["outputs"], strict=True):
        want = expected[f"serving_default/{outputs[key][0]}"]
        np.testing.assert_array_equal(np.array(actual["value"]).reshape(actual["shape"]), want, err_msg=key)
