"""The seed notebook's load_tf1 / load_tf2 on every seed artifact give TensorFlow's values."""

from __future__ import annotations

import numpy as np
import pytest

import savedmodel
import savedmodel.compat.v1 as tf1
from savedmodel.errors import InvalidInputError, NotFoundError
from tests.conftest import SEED, golden_array, load_golden

GOLDEN = load_golden(SEED / "golden.json")
MODELS = ["saved-model-builder", "simple-save", "estimator-model", "tf2-save", "keras-model"]
INPUTS = {"estimator-model": [5.0]}


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_load_tf2(name: str) -> None:
    loaded = savedmodel.load(SEED / name)
    result = loaded.signatures["serving_default"](INPUTS.get(name, 5.0))
    expected = GOLDEN[f"{name}/load_tf2"]
    assert set(result) == set(expected)
    for key, entry in expected.items():
        assert_same(np.asarray(result[key]), golden_array(entry))


@pytest.mark.parametrize("name", MODELS)
def test_load_tf1(name: str) -> None:
    with tf1.Graph().as_default():
        with tf1.Session() as sess:
            meta_graph = tf1.saved_model.load(sess, ["serve"], str(SEED / name))
            sig = meta_graph.signature_def["serving_default"]
            result = sess.run(
                sig.outputs["output"].name, feed_dict={sig.inputs["input"].name: INPUTS.get(name, 5.0)}
            )
    assert_same(np.asarray(result), golden_array(GOLDEN[f"{name}/load_tf1"]))


def test_tf2_restored_call() -> None:
    loaded = savedmodel.load(SEED / "tf2-save")
    expected = golden_array(GOLDEN["tf2-save/__call__"])
    assert_same(np.asarray(loaded(5)), expected)
    assert_same(np.asarray(loaded.__call__(5.0)), expected)
    assert_same(np.asarray(loaded(input=np.float32(5))), expected)


def test_keyword_inputs_and_specs() -> None:
    fn = savedmodel.load(SEED / "tf2-save").signatures["serving_default"]
    assert fn(input=np.float32(5))["output"] == np.float32(7)
    assert [(s.name, s.dtype, s.shape) for s in fn.inputs] == [("input", np.dtype(np.float32), ())]
    assert [(s.name, s.dtype, s.shape) for s in fn.outputs] == [("output", np.dtype(np.float32), ())]
    assert fn.signature_def.method_name == "tensorflow/serving/predict"


def test_estimator_variables_restored() -> None:
    loaded = savedmodel.load(SEED / "estimator-model")
    assert loaded.session.run("global_step/Read/ReadVariableOp:0") == 1


def test_multiply_import_meta_graph_and_restore() -> None:
    with tf1.Graph().as_default() as graph:
        saver = tf1.train.import_meta_graph(str(SEED / "multiply.pb"))
        x = graph.get_tensor_by_name("x:0")
        y = graph.get_tensor_by_name("y:0")
        assert graph.get_operation_by_name("y").type == "Mul"
        with tf1.Session() as sess:
            saver.restore(sess, str(SEED / "multiply_values.ckpt"))
            result = sess.run(y, feed_dict={x: 5})
            nested = sess.run({"pair": (y, "x:0"), "list": [y]}, feed_dict={"x:0": 2.0})
    assert_same(np.asarray(result), golden_array(GOLDEN["multiply/session_run"]))
    assert nested["pair"][0] == np.float32(6) and nested["pair"][1] == np.float32(2)
    assert nested["list"][0] == np.float32(6)


def test_multiply_uninitialized_without_restore() -> None:
    with tf1.Graph().as_default() as graph:
        tf1.train.import_meta_graph(str(SEED / "multiply.pb"))
        with tf1.Session() as sess, pytest.raises(savedmodel.ExecutionError, match="v"):
            sess.run(graph.get_tensor_by_name("y:0"), feed_dict={"x:0": 5.0})


# ---------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tf2_model():
    return savedmodel.load(SEED / "tf2-save")


def test_unknown_signature(tf2_model) -> None:
    with pytest.raises(NotFoundError, match=r"no signature named 'nope' \(available: serving_default\)"):
        tf2_model.signatures["nope"]
    with pytest.raises(KeyError):
        tf2_model.signatures["nope"]
    assert tf2_model.signatures.get("nope") is None


def test_unknown_input(tf2_model) -> None:
    with pytest.raises(InvalidInputError, match=r"no input named 'x'.*input: float32 \[\]"):
        tf2_model.signatures["serving_default"](x=1.0)


def test_missing_input(tf2_model) -> None:
    with pytest.raises(InvalidInputError, match="missing input 'input'"):
        tf2_model.signatures["serving_default"]()


def test_wrong_dtype(tf2_model) -> None:
    with pytest.raises(InvalidInputError, match="float32"):
        tf2_model.signatures["serving_default"](input="five")
    with pytest.raises(InvalidInputError, match="float32"):
        tf2_model.signatures["serving_default"](input=np.array(b"x", dtype=object))


def test_wrong_shape(tf2_model) -> None:
    with pytest.raises(InvalidInputError, match=r"shape \[2\].*input: float32 \[\]"):
        tf2_model.signatures["serving_default"](input=[1.0, 2.0])


def test_wrong_shape_batched() -> None:
    fn = savedmodel.load(SEED / "estimator-model").signatures["serving_default"]
    with pytest.raises(InvalidInputError, match=r"input: float32 \[None\]"):
        fn(input=[[1.0]])


def test_unknown_tags() -> None:
    with pytest.raises(NotFoundError, match="tag set"):
        savedmodel.load(SEED / "tf2-save", tags=["train"])


def test_session_unknown_tensor(tf2_model) -> None:
    with pytest.raises(NotFoundError):
        tf2_model.session.run("nope:0")


def test_python_values_converted_like_tensorflow(tf2_model) -> None:
    fn = tf2_model.signatures["serving_default"]
    assert fn(input=5)["output"].dtype == np.float32
    assert fn(input=np.float64(5))["output"] == np.float32(7)
    # TensorFlow's signature takes a bool for a number as 0 or 1 (tests/graph/test_feed_values.py)
    assert fn(input=True)["output"] == np.float32(3)
    with pytest.raises(InvalidInputError, match="float32"):
        fn(input="5")


def test_compat_v1_graph_and_session_api() -> None:
    with tf1.Graph().as_default() as graph:
        tf1.saved_model.load  # noqa: B018 - attribute exists
        with tf1.Session() as sess:
            meta_graph = tf1.saved_model.load(sess, ["serve"], str(SEED / "saved-model-builder"))
            sig = meta_graph.signature_def["serving_default"]
            out = graph.get_tensor_by_name(sig.outputs["output"].name)
            inp = graph.get_tensor_by_name(sig.inputs["input"].name)
            assert tf1.get_default_graph() is graph
            assert out.op.type == "AddV2" and out.dtype == np.float32
            result = sess.run({"out": out, "noop": out.op, "both": [out, (inp,)]}, feed_dict={inp: 1.0})
    assert result["out"] == np.float32(3) and result["noop"] is None
    assert result["both"][1][0] == np.float32(1)
    with pytest.raises(NotFoundError):
        graph.get_operation_by_name("missing")
    with pytest.raises(InvalidInputError, match="Operation name"):
        graph.get_tensor_by_name("missing")
