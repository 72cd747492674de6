"""Legacy and real-world models: missing/legacy input shapes, feed dtypes (TF goldens in
tests/fixtures/legacy/golden.json, written by tools/oracle/make_legacy_goldens.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main
from savedmodel.errors import ExecutionError, InvalidInputError
from savedmodel.format import saved_model as saved_model_format
from savedmodel.proto import example_pb2, saved_model_pb2, types_pb2
from tests.conftest import FIXTURES, assert_matches_golden, load_golden
from tests.graph_builder import const, graph, node, type_attr

REALWORLD = FIXTURES / "realworld"
HALF_PLUS_THREE = REALWORLD / "tfserving__saved_model_half_plus_three__2017_6058fd6"
GOLDEN = load_golden(FIXTURES / "legacy" / "golden.json")
F32 = types_pb2.DT_FLOAT


def _example(x: float) -> bytes:
    example = example_pb2.Example()
    example.features.feature["x"].float_list.value.append(x)
    return example.SerializeToString()


# ------------------------------------------------------------------ item 3: missing/legacy shapes


def test_half_plus_three_input_without_shape_takes_any_shape() -> None:
    """TF Serving's half_plus_three records no tensor_shape for `x`: its shape is unknown."""
    model = savedmodel.load(HALF_PLUS_THREE)
    signature = model.signatures["serving_default"]
    assert signature.input_specs["x"].shape is None
    result = signature(x=np.array([1.0, 2.0, 5.0], np.float32))["y"]
    np.testing.assert_array_equal(result, np.array([3.5, 4.0, 5.5], np.float32))
    golden = GOLDEN["half_plus_three"]["x_column"]
    assert_matches_golden(signature(x=golden["feed"])["y"], golden["y"], "y for a column of x")


def _legacy_model(tmp_path: Path, producer: int) -> Path:
    """A Placeholder with `shape {}` behind a TensorInfo that records a scalar shape."""
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    meta_graph = proto.meta_graphs.add()
    meta_graph.meta_info_def.tags.append("serve")
    p = node("p", "Placeholder", dtype=type_attr(F32))
    p.attr["shape"].shape.SetInParent()  # `shape {}`
    g = graph(
        p,
        const("one", np.float32(1.0)),
        node("y", "Add", "p", "one", T=type_attr(F32)),
    )
    g.versions.producer = producer
    meta_graph.graph_def.CopyFrom(g)
    signature = meta_graph.signature_def["serving_default"]
    signature.method_name = "tensorflow/serving/predict"
    signature.inputs["p"].name = "p:0"
    signature.inputs["p"].dtype = F32
    signature.inputs["p"].tensor_shape.SetInParent()
    signature.outputs["y"].name = "y:0"
    signature.outputs["y"].dtype = F32
    target = tmp_path / f"producer{producer}"
    target.mkdir()
    saved_model_format.write_saved_model_proto(proto, target)
    return target


@pytest.mark.parametrize("producer", [21, 22])
def test_legacy_placeholder_shape_rule(tmp_path: Path, producer: int) -> None:
    golden = GOLDEN["legacy_placeholder"][str(producer)]
    model = savedmodel.load(_legacy_model(tmp_path, producer))
    signature = model.signatures["serving_default"]
    assert_matches_golden(signature(p=2.0)["y"], {"dtype": "float32", "shape": [], "value": 3.0}, "scalar")
    if "error" in golden["vector"]:  # producer 22: `shape {}` is a scalar
        assert golden["static_shape"] == "()"
        with pytest.raises(InvalidInputError, match="shape"):
            signature(p=[1.0, 2.0])
    else:  # producer 21: unknown shape
        assert golden["static_shape"] == "<unknown>"
        assert_matches_golden(signature(p=[1.0, 2.0])["y"], golden["vector"], "vector feed")


@pytest.mark.parametrize("producer", [21, 22])
def test_legacy_placeholder_in_compat_v1_session(tmp_path: Path, producer: int) -> None:
    from savedmodel import tf

    tf1 = tf.compat.v1
    golden = GOLDEN["legacy_placeholder"][str(producer)]
    target = _legacy_model(tmp_path, producer)
    with tf.Graph().as_default() as g, tf1.Session() as sess:
        tf1.saved_model.load(sess, ["serve"], str(target))
        assert str(g.get_tensor_by_name("p:0").shape) == golden["static_shape"]
        if "error" in golden["vector"]:
            with pytest.raises(ValueError, match="Cannot feed value of shape"):
                sess.run("y:0", {"p:0": [1.0, 2.0]})
        else:
            assert_matches_golden(sess.run("y:0", {"p:0": [1.0, 2.0]}), golden["vector"], "vector feed")


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_run_and_show_on_half_plus_three(capsys) -> None:
    base = ["--dir", str(HALF_PLUS_THREE), "--tag_set", "serve"]
    code, out, err = _run(
        ["run", *base, "--signature_def", "serving_default", "--input_exprs", "x=[1.,2.,5.]"], capsys
    )
    assert (code, err) == (0, "")
    assert out == "Result for output key y:\n[3.5 4.  5.5]\n"
    # show still prints what saved_model_cli prints for a TensorInfo without tensor_shape.
    code, out, err = _run(["show", *base, "--signature_def", "serving_default"], capsys)
    assert code == 0 and "shape: ()" in out and "unknown_rank" not in out


@pytest.mark.parametrize("producer", [21, 22])
def test_cli_run_legacy_placeholder(tmp_path: Path, producer: int, capsys) -> None:
    target = _legacy_model(tmp_path, producer)
    argv = ["run", "--dir", str(target), "--tag_set", "serve", "--signature_def", "serving_default"]
    code, out, err = _run([*argv, "--input_exprs", "p=[1.0, 2.0]"], capsys)
    if producer == 21:
        assert (code, err, out) == (0, "", "Result for output key y:\n[2. 3.]\n")
    else:
        assert code == 1 and "shape" in err


# ------------------------------------------------------------------ item 4: dtype of the fed tensor


def test_string_example_placeholder_behind_float_tensor_info() -> None:
    """half_plus_three's regress signature records DT_FLOAT for a DT_STRING tf.Example placeholder;
    TF's session checks the feed against the placeholder, so serialized Examples go in."""
    golden = GOLDEN["half_plus_three"]["regress"]
    signature = savedmodel.load(HALF_PLUS_THREE).signatures["tensorflow/serving/regress"]
    assert signature.signature_def.inputs["inputs"].dtype == F32
    assert signature.input_specs["inputs"].dtype == np.dtype(object)
    outputs = signature(inputs=[_example(x) for x in golden["x"]])["outputs"]
    assert_matches_golden(outputs, golden["outputs"], "regress outputs")
    with pytest.raises(InvalidInputError, match="string"):
        signature(inputs=np.array([1.0], np.float32))


def test_cli_input_examples_for_string_placeholder_behind_float_tensor_info(capsys) -> None:
    golden = GOLDEN["half_plus_three"]["regress"]
    argv = ["run", "--dir", str(HALF_PLUS_THREE), "--tag_set", "serve"]
    examples = "inputs=[" + ",".join(f'{{"x":[{x}]}}' for x in golden["x"]) + "]"
    code, out, err = _run(
        [*argv, "--signature_def", "tensorflow/serving/regress", "--input_examples", examples], capsys
    )
    assert (code, err) == (0, "")
    expected = np.array(golden["outputs"]["value"], np.float32)
    assert out == f"Result for output key outputs:\n{expected}\n"


# ------------------------------------------------------------------ item 10: variable update shapes

VARIABLE_CASES = [(kind, feed) for kind, feeds in GOLDEN["variable_shapes"].items() for feed in sorted(feeds)]


@pytest.mark.parametrize(("kind", "feed"), VARIABLE_CASES, ids=[f"{k}-{f}" for k, f in VARIABLE_CASES])
def test_variable_update_shapes_as_tensorflow(kind: str, feed: str) -> None:
    """Assign (validate_shape true/false), AssignAdd/Sub and the resource-variable ops, fed values
    of the variable's shape [2] and of other shapes: TF's result, or an error naming the node."""
    golden = GOLDEN["variable_shapes"][kind][feed]
    model = savedmodel.load(FIXTURES / "legacy" / "variable_shapes")  # fresh: the variable is [10, 20]
    signature = model.signatures[kind]
    if "error" not in golden:
        assert_matches_golden(signature(x=golden["feed"])["y"], golden, f"{kind} fed {feed}")
        return
    assert golden["error"] == "InvalidArgumentError"
    with pytest.raises(ExecutionError) as info:
        signature(x=golden["feed"])
    assert info.value.node is not None and info.value.op in {
        "Assign",
        "AssignAdd",
        "AssignSub",
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
    }
    # TF's message, up to our extra detail.
    assert golden["message"].split(":")[0].split(". Expected")[0] in str(info.value)
    # A refused update leaves the variable as it was: the next update starts from [10, 20].
    if "add" in kind or "sub" in kind:
        same = GOLDEN["variable_shapes"][kind]["same"]
        assert_matches_golden(signature(x=same["feed"])["y"], same, f"{kind} after a refused update")


# ------------------------------------------------------------------ item 7: TF1 ref-variable ordering


def test_tf2onnx_assign_model_matches_tensorflow_run_after_run() -> None:
    """`add_1 = Variable/read + X` runs after `Assign(Variable, Variable/read + 1)` (a control
    dependency): the read aliases the variable's buffer, so it sees the assigned value, as in TF."""
    model = savedmodel.load(REALWORLD / "tf2onnx__assign__x_66161eb")
    signature = model.signatures["serving_default"]
    for i, run in enumerate(GOLDEN["assign"]["runs"]):
        assert_matches_golden(signature(X=run["X"])["output"], run["output"], f"run {i}")


def test_tf2onnx_assign_model_in_a_compat_v1_session() -> None:
    from savedmodel import tf

    tf1 = tf.compat.v1
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(REALWORLD / "tf2onnx__assign__x_66161eb"))
        signature = meta.signature_def["serving_default"]
        for i, run in enumerate(GOLDEN["assign"]["runs"]):
            output = sess.run(signature.outputs["output"].name, {signature.inputs["X"].name: run["X"]})
            assert_matches_golden(output, run["output"], f"run {i}")
            assert_matches_golden(sess.run("Variable:0"), run["variable_after"], f"variable after run {i}")


def test_reads_through_variable_read_before_and_after_updates() -> None:
    """An in-place update (AssignAdd) shows through an earlier `read`; an Assign that changes the
    variable's size gives it a new buffer, so the earlier read keeps the old value."""
    signature = savedmodel.load(FIXTURES / "legacy" / "ref_aliasing").signatures["serving_default"]
    for i, run in enumerate(GOLDEN["ref_aliasing"]["runs"]):
        outputs = signature(x=run["x"])
        for key in ("v_before", "v_after", "v_read", "w_before", "w_after", "w_read"):
            assert_matches_golden(outputs[key], run[key], f"run {i}, {key}")
