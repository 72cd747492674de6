"""`savedmodel convert --add_signature` and `--b64`: signature edits that touch nothing else;
a `_bytes` alias served as {"b64": ...} by savedmodel's REST server, as TF Serving does;
TensorFlow loads the results."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main
from savedmodel.convert import tf1_to_tf2
from savedmodel.convert.signatures import SignatureSpec, edit_signatures, parse_signature_spec
from savedmodel.errors import InvalidInputError, NotFoundError
from savedmodel.format import saved_model as sm
from tests.conftest import FIXTURES, run_oracle_json

CONVERT = FIXTURES / "convert"
TABLE = CONVERT / "table_asset"
GOLDEN = json.loads((CONVERT / "goldens.json").read_text())["table_asset"]
WORDS = np.array([v.encode() for v in GOLDEN["serving_default"]["inputs"]["words"]["value"]], dtype=object)
IDS = np.array(GOLDEN["labels"]["inputs"]["ids"]["value"], np.int64)
WORD_IDS = GOLDEN["serving_default"]["outputs"]["ids"]["value"]  # TF's answers
LABELS = GOLDEN["labels"]["outputs"]["labels"]["value"]
BOTH = "both:words=words,ids=ids->word_ids=word_ids,labels=labels@predict"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _meta(path: Path):  # noqa: ANN202
    return sm.read_saved_model(path).meta_graphs[0]


def test_spec_syntax() -> None:
    spec = parse_signature_spec("k:a=x,b=y:1->out=z:0@classify")
    assert spec == {
        "k": SignatureSpec({"a": "x:0", "b": "y:1"}, {"out": "z:0"}, "tensorflow/serving/classify")
    }
    assert parse_signature_spec("k:->y=y")["k"].method_name == "tensorflow/serving/predict"
    for bad, message in (
        ("nokey", "KEY:INPUTS->OUTPUTS"),
        ("k:x=x", "one '->'"),
        ("k:x=x->", "at least one output"),
        ("k:x->y=y", "'x' is not ALIAS=TENSOR"),
        ("k:x=a,x=b->y=y", "'x' given twice"),
    ):
        with pytest.raises(InvalidInputError, match=message):
            parse_signature_spec(bad)


def test_add_signature_touches_nothing_else(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["convert", "--dir", str(TABLE), "--output_dir", str(out), "--add_signature", BOTH]) == 0
    assert "added signature 'both'" in capsys.readouterr().out
    before, after = _files(TABLE), _files(out)
    assert sorted(k for k in before if before[k] != after[k]) == ["saved_model.pb"]
    signature = _meta(out).signature_def["both"]
    assert signature.inputs["words"].dtype == 7 and signature.outputs["word_ids"].dtype == 9
    assert [d.size for d in signature.inputs["ids"].tensor_shape.dim] == [-1]
    result = savedmodel.load(out).signatures["both"](words=WORDS, ids=IDS)
    assert result["word_ids"].tolist() == WORD_IDS
    assert [v.decode() for v in result["labels"]] == LABELS


def test_add_signature_from_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"ids_only": {"inputs": {"w": "words"}, "outputs": {"i": "word_ids:0"}}}))
    report = edit_signatures(TABLE, tmp_path / "out", add=parse_signature_spec(f"@{spec}"))
    assert report.signatures["ids_only"] == "tensorflow/serving/predict"
    assert savedmodel.load(tmp_path / "out").signatures["ids_only"](w=WORDS)["i"].tolist() == WORD_IDS
    with pytest.raises(InvalidInputError, match="already exists"):
        edit_signatures(TABLE, None, add={"labels": SignatureSpec({}, {"y": "labels:0"})})
    with pytest.raises(NotFoundError, match="no node 'nope'"):
        edit_signatures(TABLE, None, add={"k": SignatureSpec({}, {"y": "nope:0"})})
    with pytest.raises(InvalidInputError, match="has 1 outputs, not 3"):
        edit_signatures(TABLE, None, add={"k": SignatureSpec({}, {"y": "labels:2"})})
    args = ["convert", "--dir", str(TABLE), "--output_dir", str(tmp_path / "x")]
    assert main([*args, "--add_signature", f"@{tmp_path / 'missing.json'}"]) == 1
    assert "missing.json" in capsys.readouterr().err
    assert main([*args, "--add_signature", "k:x=x"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "'->'" in err


def test_b64_aliases(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = edit_signatures(TABLE, out, b64={"serving_default": ["words"], "labels": ["labels"]})
    assert (
        "signature 'serving_default': input 'words' -> 'words_bytes'" in report.changes[0] + report.changes[1]
    )
    meta = _meta(out)
    assert set(meta.signature_def["serving_default"].inputs) == {"words_bytes"}
    assert set(meta.signature_def["labels"].outputs) == {"labels_bytes"}
    before, after = _files(TABLE), _files(out)
    assert sorted(k for k in before if before[k] != after[k]) == ["saved_model.pb"]
    with pytest.raises(InvalidInputError, match="'ids' is not a string tensor"):
        edit_signatures(TABLE, None, b64={"labels": ["ids"]})
    with pytest.raises(NotFoundError, match="no input or output 'nope'"):
        edit_signatures(TABLE, None, b64={"labels": ["nope"]})


TF2_MODULE = FIXTURES / "runtime" / "tf2_module"  # written by tf.saved_model.save


def test_b64_on_a_tensorflow_written_tf2_model(tmp_path: Path) -> None:
    """The signature function's argument and output are renamed with the SignatureDef."""
    edit_signatures(TF2_MODULE, tmp_path / "out", b64={"strings": ["s", "upper"]})
    result = savedmodel.load(tmp_path / "out").signatures["strings"](
        s_bytes=np.array([b"ab", b"c"], dtype=object)
    )
    assert result["upper_bytes"].tolist() == [b"AB", b"C"] and result["joined"].tolist() == [b"ab!", b"c!"]
    meta = _meta(tmp_path / "out")
    graph = meta.object_graph_def
    names = {c.local_name: c.node_id for n in graph.nodes for c in n.children}
    assert list(graph.nodes[names["strings"]].bare_concrete_function.argument_keywords) == ["s_bytes"]


@pytest.fixture(scope="module")
def b64_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The table model with `_bytes` aliases: edited as TF1, and converted to TF2 then edited."""
    root = tmp_path_factory.mktemp("b64")
    aliases = {"serving_default": ["words"], "labels": ["labels"]}
    edit_signatures(TABLE, root / "tf1" / "1", b64=aliases)
    tf1_to_tf2(TABLE, root / "tf2_plain")
    edit_signatures(root / "tf2_plain", root / "tf2" / "1", b64=aliases)
    return {"tf1": root / "tf1", "tf2": root / "tf2"}


@pytest.mark.parametrize("kind", ["tf1", "tf2"])
def test_b64_through_the_rest_server(b64_models: dict[str, Path], kind: str) -> None:
    """savedmodel serve: {"b64": ...} decoded into the `_bytes` input; the `_bytes` output
    answered as {"b64": ...} (TF Serving's REST rules)."""
    pytest.importorskip("httpx")
    from tests.serving.serving_helpers import model_config, running_server

    with running_server([model_config("m", b64_models[kind])]) as (_server, client):
        instances = [{"b64": base64.b64encode(w).decode()} for w in WORDS]
        response = client.post("/v1/models/m:predict", json={"instances": instances})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == WORD_IDS
        response = client.post(
            "/v1/models/m:predict", json={"signature_name": "labels", "inputs": IDS.tolist()}
        )
        assert response.status_code == 200, response.text
        labels = [base64.b64decode(item["b64"]).decode() for item in response.json()["outputs"]]
        assert labels == LABELS
    model = savedmodel.load(b64_models[kind] / "1")
    assert model.signatures["serving_default"](words_bytes=WORDS)["ids"].tolist() == WORD_IDS


@pytest.mark.oracle
def test_tensorflow_loads_added_and_b64_signatures(
    tmp_path: Path, b64_models: dict[str, Path], oracle_python: Path
) -> None:
    """TF 2.21: the added signature through the TF1 loader, and after converting the edited
    TF1 model, through tf.saved_model.load; the `_bytes` aliases through both loaders."""
    edit_signatures(TABLE, tmp_path / "added", add=parse_signature_spec(BOTH))
    edit_signatures(TF2_MODULE, tmp_path / "module", b64={"strings": ["s", "upper"]})
    tf1_to_tf2(tmp_path / "added", tmp_path / "added_tf2")
    code = """
import json, sys, numpy as np, tensorflow as tf
tf1 = tf.compat.v1
words = np.array(json.loads(sys.argv[4]), dtype=object)
ids = np.array(json.loads(sys.argv[5]), np.int64)
plain = lambda v: [x.decode() if isinstance(x, bytes) else x for x in np.asarray(v).ravel().tolist()]
out = {}
with tf.Graph().as_default(), tf1.Session() as sess:
    sig = tf1.saved_model.load(sess, ["serve"], sys.argv[1]).signature_def["both"]
    names = sorted(sig.outputs)
    feed = {sig.inputs["words"].name: words, sig.inputs["ids"].name: ids}
    got = sess.run([sig.outputs[k].name for k in names], feed)
    out["tf1_added"] = {k: plain(v) for k, v in zip(names, got)}
fn = tf.saved_model.load(sys.argv[2]).signatures["both"]
result = fn(words=tf.constant(words), ids=tf.constant(ids))
out["tf2_added"] = {k: plain(v.numpy()) for k, v in result.items()}
loaded = tf.saved_model.load(sys.argv[3])
out["tf2_b64"] = plain(loaded.signatures["serving_default"](words_bytes=tf.constant(words))["ids"].numpy())
out["tf2_b64_labels"] = plain(loaded.signatures["labels"](ids=tf.constant(ids))["labels_bytes"].numpy())
module = tf.saved_model.load(sys.argv[6]).signatures["strings"]
out["module"] = {k: plain(v.numpy()) for k, v in module(s_bytes=tf.constant([b"ab", b"c"])).items()}
print(json.dumps(out))
"""
    words = json.dumps([w.decode() for w in WORDS])
    args = [str(tmp_path / "added"), str(tmp_path / "added_tf2"), str(b64_models["tf2"] / "1"), words]
    got = run_oracle_json(code, *args, json.dumps(IDS.tolist()), str(tmp_path / "module"))
    for label in ("tf1_added", "tf2_added"):
        assert got[label] == {"word_ids": WORD_IDS, "labels": LABELS}, label
    assert got["tf2_b64"] == WORD_IDS and got["tf2_b64_labels"] == LABELS
    assert got["module"] == {"upper_bytes": ["AB", "C"], "joined": ["ab!", "c!"], "length": [3, 2]}


def test_b64_rename_that_would_reorder_a_tf2_function_is_refused() -> None:
    """A TF2 signature function takes its arguments in the sorted order of their names: 'a'
    before 'a_a', but 'a_bytes' after it."""
    from savedmodel.convert.report import Report
    from savedmodel.convert.signatures import _Editor

    editor = _Editor(_meta(TF2_MODULE), Report("m"), "m")
    with pytest.raises(InvalidInputError, match="would reorder the arguments"):
        editor._rename_in_function("strings", "a", "a_bytes", ["a", "a_a"])
