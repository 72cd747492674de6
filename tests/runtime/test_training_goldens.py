"""TF1 training graphs against TensorFlow (tools/oracle/make_training_fixtures.py).

Each fixture is a TF1 SavedModel whose "train" meta graph applies one optimizer per signature
(reference variables in *_ref, resource variables in *_resource). The golden holds, for one
freshly loaded model, the loss of each train step and the variables after each optimizer's
steps, as TensorFlow computed them; they are replayed here through the compat.v1 Session
(float32 within rtol 1e-5).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import numpy as np
import pytest

import savedmodel
import savedmodel.compat.v1 as tf1
from tests.conftest import FIXTURES, assert_matches_golden, golden_array

TRAINING = FIXTURES / "training"
GOLDEN = json.loads(gzip.decompress((TRAINING / "golden.json.gz").read_bytes()))


def assert_variable_matches(actual: Any, entry: dict[str, Any], what: str) -> None:
    """Like assert_matches_golden, with atol 1e-5: Adam and RMSProp divide each gradient element
    by its running RMS, so for an element near zero the float32 noise of summing in another
    order (~1e-7) becomes a visible part of a step of up to lr (0.02 here)."""
    expected = golden_array(entry)
    actual = np.asarray(actual)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5, err_msg=what)


def feeds_of(golden: dict[str, Any], signature: Any) -> dict[str, np.ndarray]:
    return {signature.inputs[k].name: golden_array(v) for k, v in golden["feeds"].items()}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_train_ops_match_tensorflow(name: str) -> None:
    """sess.run(train_op) step by step, the loss fetched in the same run (its value before the step)."""
    golden = GOLDEN[name]
    with tf1.Graph().as_default(), tf1.Session() as sess:
        meta_graph = tf1.saved_model.load(sess, ["train"], str(TRAINING / name))
        for phase in golden["phases"]:
            feeds = feeds_of(golden, meta_graph.signature_def[phase["signature"]])
            for step, expected in enumerate(phase["losses"]):
                loss, _ = sess.run(["loss:0", phase["train_op"]], feed_dict=feeds)
                assert_matches_golden(loss, expected, f"{phase['signature']} step {step}: loss")
            for variable, expected in phase["variables"].items():
                value = sess.run(golden["variable_tensors"][variable])
                assert_variable_matches(value, expected, f"after {phase['signature']}: {variable}")


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_train_signatures_match_tensorflow(name: str) -> None:
    """The same steps through the train signatures (output: the loss before the step)."""
    golden = GOLDEN[name]
    model = savedmodel.load(TRAINING / name, tags=["train"])
    inputs = {k: golden_array(v) for k, v in golden["feeds"].items()}
    for phase in golden["phases"]:
        for step, expected in enumerate(phase["losses"]):
            result = model.signatures[phase["signature"]](**inputs)
            assert_matches_golden(result["loss"], expected, f"{phase['signature']} step {step}")


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_serving_signature_matches_tensorflow(name: str) -> None:
    serving = GOLDEN[name]["serving"]
    model = savedmodel.load(TRAINING / name, tags=["serve"])
    result = model.signatures["serving_default"](x=golden_array(serving["x"]))
    assert_matches_golden(result["probabilities"], serving["probabilities"], f"{name} serving")


def test_train_ops_are_in_their_collection() -> None:
    for name, golden in GOLDEN.items():
        with tf1.Graph().as_default() as graph, tf1.Session() as sess:
            tf1.saved_model.load(sess, ["train"], str(TRAINING / name))
            listed = {op.name for op in graph.get_collection("train_ops")}
        assert listed == {phase["train_op"] for phase in golden["phases"]}, name


def test_ref_apply_ops_are_known_to_the_runtime() -> None:
    """The runtime hands Apply* ops their variables as references and derefs their outputs."""
    from savedmodel.ops import training
    from savedmodel.runtime.prepare import REF_CONSUMERS, REF_PRODUCERS

    assert training.REF_OPS <= REF_CONSUMERS and training.REF_OPS <= REF_PRODUCERS


def _run_kernel(op: str, *inputs: Any, **attrs: Any) -> Any:
    from savedmodel.ops.registry import Attrs, NodeSpec, lookup
    from savedmodel.proto import attr_value_pb2

    values = {k: attr_value_pb2.AttrValue(b=v) for k, v in attrs.items()}
    node = NodeSpec(name=op, op=op, attrs=Attrs(values), num_inputs=len(inputs))
    definition = lookup(op)
    assert definition is not None and definition.side_effects
    return definition.prepare(node)(None, *inputs)


def test_apply_updates_reference_variables_in_place() -> None:
    from savedmodel.ops._resources import RefBuffer

    var, accum = RefBuffer("v"), RefBuffer("v/Momentum")
    var.value, accum.value = np.array([1.0, 2.0], np.float32), np.array([0.5, 0.5], np.float32)
    lr = RefBuffer("lr")  # a hyperparameter may itself be a (reference) variable
    lr.value = np.float32(0.1)
    grad = np.array([1.0, -1.0], np.float32)
    out = _run_kernel("ApplyMomentum", var, accum, lr, grad, np.float32(0.9), use_nesterov=False)
    assert out is var
    np.testing.assert_allclose(accum.value, [1.45, -0.55], rtol=1e-6)
    np.testing.assert_allclose(var.value, [0.855, 2.055], rtol=1e-6)
    assert var.value.dtype == np.float32


def test_resource_apply_keeps_the_variable_dtype() -> None:
    from savedmodel.ops._resources import VariableResource

    var = VariableResource("", "v", np.dtype(np.float16))
    var.value = np.array([1.0, 2.0], np.float16)
    grad = np.array([1.0, 1.0], np.float16)
    assert _run_kernel("ResourceApplyGradientDescent", var, np.float16(0.5), grad) is None
    assert var.value.dtype == np.float16
    np.testing.assert_array_equal(var.value, [0.5, 1.5])


@pytest.mark.parametrize(
    ("op", "inputs", "message"),
    [
        (
            "ApplyGradientDescent",
            (np.zeros(2, np.float32), np.float32(1), np.zeros(2, np.float32)),
            "reference",
        ),
        (
            "ResourceApplyGradientDescent",
            (np.zeros(2), np.float64(1), np.zeros(2)),
            "resource variable handle",
        ),
    ],
)
def test_apply_refuses_values_for_variables(op: str, inputs: tuple, message: str) -> None:
    with pytest.raises(savedmodel.SavedModelError, match=message):
        _run_kernel(op, *inputs)


def test_apply_checks_shapes_and_scalars() -> None:
    from savedmodel.ops._resources import RefBuffer

    var = RefBuffer("v")
    var.value = np.zeros((2, 3), np.float32)
    with pytest.raises(savedmodel.SavedModelError, match="same shape"):
        _run_kernel("ApplyGradientDescent", var, np.float32(0.1), np.zeros((3, 2), np.float32))
    with pytest.raises(savedmodel.SavedModelError, match="not a scalar"):
        _run_kernel("ApplyGradientDescent", var, np.zeros(2, np.float32), np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("name", ["mlp_ref", "embedding_resource"])
def test_exported_meta_graph_trains_like_tensorflow(name: str, tmp_path: Any) -> None:
    """The Saver.export_meta_graph route: the train MetaGraphDef as a .meta file, the variables
    restored by the Saver it describes, then the main train op stepped as above."""
    from savedmodel.format.saved_model import read_saved_model

    meta = next(m for m in read_saved_model(TRAINING / name).meta_graphs if "train" in m.meta_info_def.tags)
    meta_file = tmp_path / "model.meta"
    meta_file.write_bytes(meta.SerializeToString())
    golden = GOLDEN[name]
    phase = golden["phases"][0]
    with tf1.Graph().as_default(), tf1.Session() as sess:
        saver = tf1.train.import_meta_graph(str(meta_file))
        assert saver is not None
        saver.restore(sess, str(TRAINING / name / "variables" / "variables"))
        feeds = feeds_of(golden, meta.signature_def[phase["signature"]])
        for step, expected in enumerate(phase["losses"]):
            loss, _ = sess.run(["loss:0", phase["train_op"]], feed_dict=feeds)
            assert_matches_golden(loss, expected, f"step {step}: loss")
        for variable, expected in phase["variables"].items():
            assert_variable_matches(sess.run(golden["variable_tensors"][variable]), expected, variable)
