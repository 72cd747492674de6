"""TF1 -> TF2-style SavedModels: outputs equal to TF's TF1 load of the source, the TF2 layout
(functions called by StatefulPartitionedCall, tracked variables under object-based keys)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.convert import ConversionError, plan, tf1_to_tf2
from savedmodel.errors import NotFoundError, PolicyError
from savedmodel.format import bundle
from savedmodel.format import saved_model as sm
from savedmodel.format import tensor as tensor_format
from tests.conftest import FIXTURES
from tools.realworld import harness

CONVERT = FIXTURES / "convert"
GOLDENS = json.loads((CONVERT / "goldens.json").read_text())
MODELS = sorted(GOLDENS)
# --plain_inputs: TF's parse op outputs for the golden examples (make_convert_fixtures.py)
PLAIN = json.loads((CONVERT / "plain_goldens.json").read_text())
REALWORLD = [
    "tfserving__saved_model_half_plus_two_cpu__2018_6fc2949",
    "tfdeploy__tensorflow-1.13.1__2019_70fe1d1",
    "tfrust__test_resources_regression-model__2017_55a41e1",
    "tfserving__saved_model_counter__2018_c668c58",  # Assign/AssignAdd of a reference variable
    "tf2onnx__assign__x_66161eb",  # a read of a reference variable ordered after its Assign
    "tfserving__saved_model_half_plus_three__2017_6058fd6",  # TensorInfo dtype wrong, producer 21
]
TF_CHECK = Path(__file__).with_name("tf_check.py")
# The TF1 models of TensorFlow's "Migrate the SavedModel workflow" guide: add_two(5.)
SEED_MODELS = {
    "saved-model-builder": np.float32(5.0),
    "simple-save": np.float32(5.0),
    "estimator-model": np.float32([5.0]),
}


def array(entry: dict) -> np.ndarray:
    if entry["dtype"] == "base64":
        return np.array([base64.b64decode(v) for v in entry["value"]], dtype=object).reshape(entry["shape"])
    if entry["dtype"] == "object":
        flat = [v.encode() for v in np.ravel(entry["value"])]
        return np.array(flat, dtype=object).reshape(entry["shape"])
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def encode(value: np.ndarray) -> dict:
    value = np.asarray(value)
    if value.dtype == object:
        flat = [base64.b64encode(v).decode() for v in value.ravel()]
        return {"dtype": "base64", "shape": list(value.shape), "value": flat}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def assert_close(actual: object, expected: np.ndarray, what: str) -> None:
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, what
    if expected.dtype == object:
        assert actual.tolist() == expected.tolist(), what
    else:
        assert actual.dtype == expected.dtype, what
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=what)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("converted")
    return {name: tf1_to_tf2(CONVERT / name, root / name) and root / name for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_converted_outputs_match_tensorflow_tf1(converted: dict[str, Path], name: str) -> None:
    model = savedmodel.load(converted[name])
    for key, case in GOLDENS[name].items():
        result = model.signatures[key](**{k: array(v) for k, v in case["inputs"].items()})
        for out, expected in case["outputs"].items():
            assert_close(result[out], array(expected), f"{name}/{key}/{out}")


def _meta(path: Path):  # noqa: ANN202
    return sm.read_saved_model(path).meta_graphs[0]


def test_layout_is_tf2(converted: dict[str, Path]) -> None:
    meta = _meta(converted["builder_ref"])
    ops = {n.op for n in meta.graph_def.node}
    assert "VariableV2" not in ops and "VarHandleOp" in ops
    call = meta.signature_def["serving_default"].outputs["y"].name
    node = next(n for n in meta.graph_def.node if n.name == call.split(":")[0])
    assert node.op == "StatefulPartitionedCall"
    library = {f.signature.name: f for f in meta.graph_def.library.function}
    body = library[node.attr["f"].func.name]
    assert {"ReadVariableOp", "MatMul"} <= {n.op for n in body.node_def}
    assert meta.signature_def["__saved_model_init_op"].outputs["__saved_model_init_op"].name == "NoOp"
    root = meta.object_graph_def.nodes[0]
    children = {c.local_name for c in root.children}
    assert {"w", "b", "global_step", "variables", "signatures"} <= children
    keys = set(bundle.BundleReader(converted["builder_ref"] / "variables" / "variables").keys())
    assert keys == {
        "_CHECKPOINTABLE_OBJECT_GRAPH",
        "b/.ATTRIBUTES/VARIABLE_VALUE",
        "global_step/.ATTRIBUTES/VARIABLE_VALUE",
        "w/.ATTRIBUTES/VARIABLE_VALUE",
    }
    assert (converted["builder_ref"] / "fingerprint.pb").is_file()


def test_scoped_variables_nest_and_load(converted: dict[str, Path]) -> None:
    model = savedmodel.load(converted["simple_save"])
    names = sorted(v.name for v in model.variables())
    assert names == ["dense/shift", "scale"]
    assert float(model.scale.numpy()) == 3.0
    np.testing.assert_array_equal(model.dense.shift.numpy(), [1.0, 2.0])


def test_method_names_kept(converted: dict[str, Path]) -> None:
    meta = _meta(converted["examples"])
    methods = {k: v.method_name for k, v in meta.signature_def.items() if not k.startswith("__")}
    assert methods == {
        "classify": "tensorflow/serving/classify",
        "serving_default": "tensorflow/serving/classify",
        "regress": "tensorflow/serving/regress",
        "predict": "tensorflow/serving/predict",
    }


def test_tables_and_assets_tracked(converted: dict[str, Path]) -> None:
    out = converted["table_asset"]
    meta = _meta(out)
    assert [a.filename for a in meta.asset_file_def] == ["_vocab.txt"]
    assert (out / "assets" / "_vocab.txt").read_text() == "apple\nbanana\ncherry\n"
    kinds = [n.WhichOneof("kind") for n in meta.object_graph_def.nodes]
    assert kinds.count("resource") == 2 and kinds.count("asset") == 1


@pytest.mark.parametrize("name", MODELS)
def test_freeze_folds_variables(tmp_path: Path, name: str) -> None:
    out = tmp_path / "frozen"
    report = tf1_to_tf2(CONVERT / name, out, freeze=True)
    assert any("constants" in c for c in report.changes)
    meta = _meta(out)
    assert "VarHandleOp" not in {n.op for n in meta.graph_def.node}
    assert set(bundle.BundleReader(out / "variables" / "variables").keys()) == {
        "_CHECKPOINTABLE_OBJECT_GRAPH"
    }
    model = savedmodel.load(out)
    for key, case in GOLDENS[name].items():
        result = model.signatures[key](**{k: array(v) for k, v in case["inputs"].items()})
        for output, expected in case["outputs"].items():
            assert_close(result[output], array(expected), f"frozen {name}/{key}/{output}")


def test_signature_subset(tmp_path: Path) -> None:
    tf1_to_tf2(CONVERT / "examples", tmp_path / "out", signature_keys=["regress"])
    keys = set(_meta(tmp_path / "out").signature_def)
    assert keys == {"regress", "__saved_model_init_op"}
    with pytest.raises(NotFoundError, match="nope"):
        tf1_to_tf2(CONVERT / "examples", tmp_path / "out2", signature_keys=["nope"])


def test_refuses_to_clobber(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tf1_to_tf2(CONVERT / "simple_save", out)
    before = (out / "saved_model.pb").read_bytes()
    with pytest.raises(PolicyError, match="overwrite"):
        tf1_to_tf2(CONVERT / "builder_ref", out)
    assert (out / "saved_model.pb").read_bytes() == before
    tf1_to_tf2(CONVERT / "builder_ref", out, overwrite=True)
    assert (out / "saved_model.pb").read_bytes() != before


def test_blockers_stop_the_conversion(tmp_path: Path) -> None:
    source = tmp_path / "src"
    proto = sm.read_saved_model(CONVERT / "while_loop")
    del proto.meta_graphs[0].signature_def["serving_default"].inputs["n"]
    (source / "variables").mkdir(parents=True)
    sm.write_saved_model_proto(proto, source)
    for f in (CONVERT / "while_loop" / "variables").iterdir():
        (source / "variables" / f.name).write_bytes(f.read_bytes())
    report = plan(source)
    assert not report.ok
    assert any("placeholder 'n'" in b for b in report.blockers)
    with pytest.raises(ConversionError, match="placeholder 'n'"):
        tf1_to_tf2(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _copy_model(source: Path, target: Path, proto: object) -> None:
    (target / "variables").mkdir(parents=True)
    sm.write_saved_model_proto(proto, target)
    for f in (source / "variables").iterdir():
        (target / "variables" / f.name).write_bytes(f.read_bytes())


def test_init_op_work_is_reported(tmp_path: Path) -> None:
    """An init op doing more than initialising tables and the variables the checkpoint lacks:
    the report (and --dry-run --json) says what the converted model will not do."""
    proto = sm.read_saved_model(CONVERT / "local_var")
    graph = proto.meta_graphs[0].graph_def
    value = graph.node.add(name="seven", op="Const")
    value.attr["dtype"].type = 1
    value.attr["value"].tensor.CopyFrom(tensor_format.from_numpy(np.float32(7.0), 1))
    assign = graph.node.add(name="reset_scale", op="Assign", input=["scale", "seven"])
    assign.attr["T"].type = 1
    graph.node.add(name="stamp", op="Timestamp")
    init = next(n for n in graph.node if n.name == "init_2")
    init.input.extend(["^reset_scale", "^stamp"])
    _copy_model(CONVERT / "local_var", tmp_path / "src", proto)
    report = tf1_to_tf2(tmp_path / "src", tmp_path / "out")
    assert report.written
    assert any("re-assigns checkpointed variables" in w and "scale" in w for w in report.warnings)
    assert any("does not run: stamp (Timestamp)" in w for w in report.warnings)
    assert plan(CONVERT / "local_var").warnings == []  # local variable initialisers convert


def test_tf2_models_are_refused(tmp_path: Path) -> None:
    tf1_to_tf2(CONVERT / "simple_save", tmp_path / "once")
    with pytest.raises(ConversionError, match="already a TF2 SavedModel"):
        tf1_to_tf2(tmp_path / "once", tmp_path / "twice")


@pytest.mark.parametrize("name", REALWORLD)
def test_realworld_models_convert(tmp_path: Path, name: str) -> None:
    case = harness.load_case(FIXTURES / "realworld" / name)
    out = tmp_path / name
    tf1_to_tf2(case.directory, out, tag_set=case.runs[0].meta["tags"])
    model = savedmodel.load(out)
    for run in case.runs:
        if not run.tf_ran:
            continue
        result = model.signatures[run.meta["signature"]](**run.inputs)
        for key, expected in run.expected.items():
            assert_close(result[key], np.asarray(expected), f"{run.label}/{key}")


# ------------------------------------------------------------------------- TensorFlow loads it


@pytest.fixture(scope="module")
def tf_results(tmp_path_factory: pytest.TempPathFactory, converted: dict[str, Path]) -> dict:
    """One TensorFlow process loads every converted model (fixtures and real-world ones)."""
    from tests.conftest import ORACLE_PYTHON, oracle_available

    if not oracle_available():
        pytest.skip("TensorFlow oracle venv not present (see tools/oracle/README.md)")
    root = tmp_path_factory.mktemp("tf_check")
    jobs = {name: {"path": str(converted[name]), "cases": GOLDENS[name]} for name in MODELS}
    for name in REALWORLD:
        case = harness.load_case(FIXTURES / "realworld" / name)
        tf1_to_tf2(case.directory, root / name, tag_set=case.runs[0].meta["tags"])
        runs = [r for r in case.runs if r.tf_ran]
        cases = {r.meta["signature"]: {"inputs": {k: encode(v) for k, v in r.inputs.items()}} for r in runs}
        jobs[name] = {"path": str(root / name), "cases": cases}
    _clashing_model(root / "clash_tf1")
    tf1_to_tf2(root / "clash_tf1", root / "clash")
    jobs["clash"] = {
        "path": str(root / "clash"),
        "cases": {"serving_default": {"inputs": {"x": encode(np.float32([1.0]))}}},
    }
    tf1_to_tf2(CONVERT / "table_asset", root / "frozen", freeze=True)
    jobs["frozen"] = {"path": str(root / "frozen"), "cases": GOLDENS["table_asset"]}
    # an embedding (ResourceGather) and a vocabulary table, frozen
    tf1_to_tf2(CONVERT / "estimator_classifier", root / "frozen_estimator", freeze=True)
    jobs["frozen_estimator"] = {
        "path": str(root / "frozen_estimator"),
        "cases": GOLDENS["estimator_classifier"],
    }
    for name, value in SEED_MODELS.items():
        tf1_to_tf2(FIXTURES / "seed" / name, root / name)
        jobs[name] = {
            "path": str(root / name),
            "cases": {"serving_default": {"inputs": {"input": encode(value)}}},
        }
    # a converted model whose signatures were then edited (renamed, method name changed)
    from savedmodel.convert.signatures import edit_signatures

    edit_signatures(
        converted["examples"],
        root / "edited",
        rename={"predict": "logits"},
        method_names={"regress": "predict"},
    )
    cases = {k: GOLDENS["examples"][v] for k, v in (("logits", "predict"), ("regress", "regress"))}
    jobs["edited"] = {"path": str(root / "edited"), "cases": cases}
    for name in PLAIN:
        tf1_to_tf2(CONVERT / name, root / f"plain_{name}", plain_inputs=True)
        jobs[f"plain_{name}"] = {"path": str(root / f"plain_{name}"), "cases": PLAIN[name]}
    (root / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run(
        [str(ORACLE_PYTHON), str(TF_CHECK), str(root / "jobs.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_both_loaders(got: dict, expected: dict[str, dict[str, np.ndarray]]) -> None:
    assert "error" not in got, got.get("error")
    for loader in ("tf2", "tf1"):
        for key, outputs in expected.items():
            for out, value in outputs.items():
                actual = np.array(
                    got[loader][key][out], dtype=object if value.dtype == object else value.dtype
                )
                if value.dtype == object:
                    actual = np.array([v.encode() for v in actual], dtype=object)
                assert_close(actual, value.reshape(-1), f"{loader}/{key}/{out}")


@pytest.mark.oracle
@pytest.mark.parametrize("name", MODELS)
def test_tensorflow_loads_converted(tf_results: dict, converted: dict[str, Path], name: str) -> None:
    got = tf_results[name]
    expected = {
        key: {out: array(v) for out, v in case["outputs"].items()} for key, case in GOLDENS[name].items()
    }
    _check_both_loaders(got, expected)
    graph = sm.read_saved_model(CONVERT / name).meta_graphs[0].graph_def
    variables = sorted(f"{n.name}:0" for n in graph.node if n.op in ("VariableV2", "VarHandleOp"))
    assert got["variables"] == variables
    assert got["methods"] == {k: _meta(converted[name]).signature_def[k].method_name for k in GOLDENS[name]}


@pytest.mark.oracle
@pytest.mark.parametrize("name", REALWORLD)
def test_tensorflow_loads_converted_realworld(tf_results: dict, name: str) -> None:
    case = harness.load_case(FIXTURES / "realworld" / name)
    runs = [r for r in case.runs if r.tf_ran]
    expected = {r.meta["signature"]: {k: np.asarray(v) for k, v in r.expected.items()} for r in runs}
    _check_both_loaders(tf_results[name], expected)


@pytest.mark.oracle
def test_tensorflow_loads_edited_signatures(tf_results: dict) -> None:
    got = tf_results["edited"]
    expected = {
        "logits": {"logits": array(GOLDENS["examples"]["predict"]["outputs"]["logits"])},
        "regress": {"outputs": array(GOLDENS["examples"]["regress"]["outputs"]["outputs"])},
    }
    _check_both_loaders(got, expected)
    assert got["methods"] == {"logits": "tensorflow/serving/predict", "regress": "tensorflow/serving/predict"}


@pytest.mark.parametrize(
    "name",
    ["tfserving__half_plus_two__2016_27a9c35", "tfserving__half_plus_two_2_versions__2017_be208d5"],
)
def test_session_bundles_convert(tmp_path: Path, name: str) -> None:
    """TF Serving session bundles (export.meta + a V1 or V2 checkpoint) convert too."""
    tf1_to_tf2(FIXTURES / "realworld" / name, tmp_path / "out")
    result = savedmodel.load(tmp_path / "out").signatures["serving_default"](x=np.float32([1.0, 4.0]))
    np.testing.assert_allclose(result["y"], [2.5, 4.0])


@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_migration_guide_models(tmp_path: Path, name: str) -> None:
    tf1_to_tf2(FIXTURES / "seed" / name, tmp_path / name)
    result = savedmodel.load(tmp_path / name).signatures["serving_default"](input=SEED_MODELS[name])
    assert_close(result["output"], SEED_MODELS[name] + 2, name)


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_tensorflow_loads_converted_guide_models(tf_results: dict, name: str) -> None:
    """`tf.saved_model.load(converted)` as the guide's load_tf2 calls it: add_two(5.) == 7."""
    _check_both_loaders(tf_results[name], {"serving_default": {"output": SEED_MODELS[name] + 2}})


def test_conversion_is_deterministic(tmp_path: Path) -> None:
    """Everything but fingerprint.pb's random uuid is the same from one conversion to the next."""
    for name in ("a", "b"):
        tf1_to_tf2(CONVERT / "table_asset", tmp_path / name)
    files = [p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert len(files) >= 5
    for rel in files:
        if rel.name != "fingerprint.pb":
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@pytest.mark.oracle
def test_tensorflow_loads_frozen(tf_results: dict) -> None:
    expected = {k: {o: array(v) for o, v in c["outputs"].items()} for k, c in GOLDENS["table_asset"].items()}
    _check_both_loaders(tf_results["frozen"], expected)
    assert tf_results["frozen"]["variables"] == []
    cases = GOLDENS["estimator_classifier"]
    expected = {k: {o: array(v) for o, v in c["outputs"].items()} for k, c in cases.items()}
    _check_both_loaders(tf_results["frozen_estimator"], expected)


def _clashing_model(path: Path) -> None:
    """A TF1 model (written with savedmodel's own TF1 façade) whose variable names clash with
    scope paths ('a' and 'a/b') and with the root's own children ('variables')."""
    from savedmodel import tf

    tf1 = tf.compat.v1
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, [None], name="x")
        names = {"a": 2.0, "a/b": 3.0, "variables": 1.0, "a_b": 5.0}
        v = {n: tf1.Variable(value, name=n) for n, value in names.items()}
        y = x * v["a"] + v["a/b"] + v["variables"] + v["a_b"]
        sess.run(tf1.global_variables_initializer())
        tf1.saved_model.simple_save(sess, str(path), {"x": x}, {"y": y})


def test_variable_names_that_clash(tmp_path: Path) -> None:
    _clashing_model(tmp_path / "tf1")
    tf1_to_tf2(tmp_path / "tf1", tmp_path / "tf2")
    model = savedmodel.load(tmp_path / "tf2")
    assert model.signatures["serving_default"](x=np.float32([1.0]))["y"].tolist() == [11.0]
    root = _meta(tmp_path / "tf2").object_graph_def.nodes[0]
    names = [c.local_name for c in root.children]
    assert len(names) == len(set(names)) and {"variables", "signatures"} <= set(names)
    assert sorted(v.name for v in model.variables()) == ["a", "a/b", "a_b", "variables"]


@pytest.mark.oracle
def test_tensorflow_loads_clashing_names(tf_results: dict) -> None:
    _check_both_loaders(tf_results["clash"], {"serving_default": {"y": np.float32([11.0])}})
    assert tf_results["clash"]["variables"] == ["a/b:0", "a:0", "a_b:0", "variables:0"]


# ------------------------------------------------------------------------------ --plain_inputs


def _golden_outputs(name: str) -> dict[str, dict[str, np.ndarray]]:
    return {key: {out: array(v) for out, v in GOLDENS[name][key]["outputs"].items()} for key in PLAIN[name]}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_inputs_match_tensorflow(tmp_path: Path, name: str) -> None:
    """Fed the features TF's parse op gives for the golden examples, the plain signatures
    answer what the tf.Example signatures did."""
    report = tf1_to_tf2(CONVERT / name, tmp_path / "out", plain_inputs=True)
    assert any("plain inputs" in c for c in report.changes)
    model = savedmodel.load(tmp_path / "out")
    meta = _meta(tmp_path / "out")
    for key, case in PLAIN[name].items():
        inputs = {k: array(v) for k, v in case["inputs"].items()}
        assert set(meta.signature_def[key].inputs) == set(inputs)
        assert meta.signature_def[key].method_name == "tensorflow/serving/predict"
        result = model.signatures[key](**inputs)
        for out, expected in _golden_outputs(name)[key].items():
            assert_close(result[out], expected, f"plain {name}/{key}/{out}")


def test_plain_inputs_spec_and_defaults() -> None:
    """Dense features keep the parse op's dtype and [batch] + shape; sparse ones are three
    inputs; a dense default is reported (the plain input has to be fed)."""
    report = plan(CONVERT / "estimator_classifier", plain_inputs=True)
    assert report.ok
    assert any(
        "'inputs' -> plain inputs color_dense_shape, color_indices, color_values, x" in c
        for c in report.changes
    )
    out = plan(CONVERT / "estimator_regressor", plain_inputs=True)
    assert any("plain input 'x'" in c and "[0.5, -0.5]" in c for c in out.changes), out.changes


def test_plain_inputs_leave_out_features_a_signature_does_not_use(tmp_path: Path) -> None:
    """TF Serving's half_plus_two parses x and x2 once for several signatures; each plain
    signature takes only the features its outputs need (scores = x / 2 + 2, recorded by TF)."""
    source = FIXTURES / "realworld" / REALWORLD[0]
    report = tf1_to_tf2(source, tmp_path / "out", plain_inputs=True)
    assert "signature 'classify_x_to_y': features its outputs do not use left out: x2" in report.changes
    assert any("signature 'classify_x2_to_y3' parses no tf.Example input" in w for w in report.warnings)
    model = savedmodel.load(tmp_path / "out")
    scores = model.signatures["classify_x_to_y"](x=np.float32([[1.0], [4.0]]))["scores"]
    np.testing.assert_allclose(scores, [[2.5], [4.0]])


def test_plain_inputs_leave_other_signatures(tmp_path: Path) -> None:
    report = tf1_to_tf2(CONVERT / "simple_save", tmp_path / "out", plain_inputs=True)
    assert any("parses no tf.Example input" in w for w in report.warnings)
    result = savedmodel.load(tmp_path / "out").signatures["serving_default"](input=np.float32([1.0]))
    assert result["output"].tolist() == [6.0]


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(PLAIN))
def test_tensorflow_loads_plain_inputs(tf_results: dict, name: str) -> None:
    _check_both_loaders(tf_results[f"plain_{name}"], _golden_outputs(name))
