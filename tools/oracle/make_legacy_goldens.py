"""Goldens for legacy TF1 behaviour: missing/legacy input shapes, feed dtypes, ref-variable
ordering and variable-update shape checks.

Run: TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_legacy_goldens.py
Writes tests/fixtures/legacy/:
- golden.json: what TensorFlow (tf.compat.v1 sessions) returns or raises for
  * TF Serving's saved_model_half_plus_three (real file under tests/fixtures/realworld/),
  * tf2onnx's assign model (several runs in a row: the variable's state persists),
  * a Placeholder with `shape {}` in GraphDefs of producer 21 and 22,
  * each case of variable_shapes/ below, fed values of several shapes;
- variable_shapes/: a TF1 SavedModel, one signature per variable-update case;
- ref_aliasing/: a TF1 SavedModel reading variables through `read` before and after updates.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import text_format

tf1 = tf.compat.v1
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "legacy"
REALWORLD = ROOT / "tests" / "fixtures" / "realworld"
HALF_PLUS_THREE = REALWORLD / "tfserving__saved_model_half_plus_three__2017_6058fd6"
ASSIGN = REALWORLD / "tf2onnx__assign__x_66161eb"

# Fed shapes per variable case (the variable itself has shape [2]).
FEEDS = {"same": [1.5, -2.0], "longer": [1.0, 2.0, 3.0], "scalar": 4.0, "row": [[1.0, 2.0]]}


def _error(exc: Exception) -> dict:
    lines = [line.strip() for line in str(getattr(exc, "message", exc)).splitlines() if line.strip()]
    detail = [line for line in lines if any(w in line for w in ("shape", "lhs", "must"))] or lines
    return {"error": type(exc).__name__, "message": detail[0][:300]}


def _value(array) -> dict:
    array = np.asarray(array)
    return {"dtype": str(array.dtype), "shape": list(array.shape), "value": array.tolist()}


def _example(x: float) -> bytes:
    feature = tf.train.Feature(float_list=tf.train.FloatList(value=[x]))
    return tf.train.Example(features=tf.train.Features(feature={"x": feature})).SerializeToString()


def half_plus_three() -> dict:
    out: dict = {}
    with tf.Graph().as_default() as graph, tf1.Session() as sess:
        tf1.saved_model.load(sess, ["serve"], str(HALF_PLUS_THREE))
        out["static_shapes"] = {
            name: str(graph.get_tensor_by_name(name).shape) for name in ("x:0", "x2:0", "tf_example:0")
        }
        vector, column = [1.0, 2.0, 5.0], [[1.0], [2.0], [5.0]]
        out["x2_vector"] = {"feed": vector, "y2": _value(sess.run("y2:0", {"x2:0": vector}))}
        out["x_column"] = {"feed": column, "y": _value(sess.run("y:0", {"x:0": column}))}
        examples = [2.0, -1.0, 10.0]
        out["regress"] = {
            "x": examples,
            "outputs": _value(sess.run("Identity:0", {"tf_example:0": [_example(x) for x in examples]})),
        }
    return out


def assign_runs() -> dict:
    runs = []
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(ASSIGN))
        sig = meta.signature_def["serving_default"]
        for x in (5, 5, 5, -2, 0):
            output = sess.run(sig.outputs["output"].name, {sig.inputs["X"].name: x})
            runs.append({"X": x, "output": _value(output), "variable_after": _value(sess.run("Variable:0"))})
    return {"runs": runs}


LEGACY_GRAPH = """
node { name: "p" op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { } } } }
node { name: "one" op: "Const"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { } float_val: 1.0 } } } }
node { name: "y" op: "Add" input: "p" input: "one" attr { key: "T" value { type: DT_FLOAT } } }
versions { producer: %d }
"""


def legacy_placeholder() -> dict:
    out = {}
    for producer in (21, 22):
        graph_def = tf1.GraphDef()
        text_format.Merge(LEGACY_GRAPH % producer, graph_def)
        with tf.Graph().as_default(), tf1.Session() as sess:
            p, y = tf1.import_graph_def(graph_def, return_elements=["p:0", "y:0"], name="")
            entry = {"static_shape": str(p.shape)}
            try:
                entry["vector"] = _value(sess.run(y, {p: [1.0, 2.0]}))
            except Exception as exc:  # noqa: BLE001
                entry["vector"] = _error(exc)
            entry["scalar"] = _value(sess.run(y, {p: 3.0}))
        out[str(producer)] = entry
    return out


def _ref_case(kind: str, value):
    v = tf1.Variable([10.0, 20.0], use_resource=False, name=f"{kind}_var")
    if kind == "assign":
        op = tf1.assign(v, value, validate_shape=True)
    elif kind == "assign_no_validate":
        op = tf1.assign(v, value, validate_shape=False)
    elif kind == "assign_add":
        op = tf1.assign_add(v, value)
    else:
        op = tf1.assign_sub(v, value)
    with tf.control_dependencies([op]):
        return tf.identity(v.read_value())


def _resource_case(kind: str, value):
    v = tf1.Variable([10.0, 20.0], use_resource=True, name=f"{kind}_var")
    raw = tf.raw_ops
    if kind == "assign_variable":
        op = raw.AssignVariableOp(resource=v.handle, value=value)
    elif kind == "assign_variable_validate":
        op = raw.AssignVariableOp(resource=v.handle, value=value, validate_shape=True)
    elif kind == "assign_add_variable":
        op = raw.AssignAddVariableOp(resource=v.handle, value=value)
    else:
        op = raw.AssignSubVariableOp(resource=v.handle, value=value)
    with tf.control_dependencies([op]):
        return tf.identity(raw.ReadVariableOp(resource=v.handle, dtype=tf.float32))


REF_CASES = ("assign", "assign_no_validate", "assign_add", "assign_sub")
RESOURCE_CASES = ("assign_variable", "assign_variable_validate", "assign_add_variable", "assign_sub_variable")


def variable_shapes() -> dict:
    target = OUT / "variable_shapes"
    shutil.rmtree(target, ignore_errors=True)
    with tf.Graph().as_default(), tf1.Session() as sess:
        signatures = {}
        for kind in REF_CASES + RESOURCE_CASES:
            x = tf1.placeholder(tf.float32, shape=None, name=f"{kind}_x")
            y = _ref_case(kind, x) if kind in REF_CASES else _resource_case(kind, x)
            signatures[kind] = tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
        sess.run(tf1.global_variables_initializer())
        builder = tf1.saved_model.Builder(str(target))
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=signatures)
        builder.save()
    cases: dict = {}
    for kind in REF_CASES + RESOURCE_CASES:
        for feed_name, feed in FEEDS.items():
            # A fresh session per run: the variable starts at [10, 20].
            with tf.Graph().as_default(), tf1.Session() as sess:
                meta = tf1.saved_model.load(sess, ["serve"], str(target))
                sig = meta.signature_def[kind]
                try:
                    result = _value(sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: feed}))
                except Exception as exc:  # noqa: BLE001
                    result = _error(exc)
            cases.setdefault(kind, {})[feed_name] = {"feed": feed, **result}
    return cases


def ref_aliasing() -> dict:
    """Reads of TF1 variables through their `read` Identity, before and after in-place updates
    (ordered by control dependencies), and after an Assign that changes the variable's size."""
    target = OUT / "ref_aliasing"
    shutil.rmtree(target, ignore_errors=True)
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[2], name="x")
        v = tf1.Variable([1.0, 2.0], use_resource=False, name="v")
        w = tf1.Variable([1.0, 2.0], use_resource=False, name="w")
        v_read, w_read = v.read_value(), w.read_value()  # Identity of the ref
        v_before = tf.add(v_read, 0.0, name="v_before")
        w_before = tf.add(w_read, 0.0, name="w_before")
        with tf.control_dependencies([v_before, w_before]):
            add = tf1.assign_add(v, x)
            grow = tf1.assign(w, tf.concat([w_read, x], 0), validate_shape=False)
        with tf.control_dependencies([add, grow]):
            v_after = tf.add(v_read, 0.0, name="v_after")
            w_after = tf.add(w_read, 0.0, name="w_after")
        outputs = {"v_before": v_before, "v_after": v_after, "v_read": v_read}
        outputs.update({"w_before": w_before, "w_after": w_after, "w_read": w_read})
        signature = tf1.saved_model.predict_signature_def({"x": x}, outputs)
        sess.run(tf1.global_variables_initializer())
        builder = tf1.saved_model.Builder(str(target))
        builder.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map={"serving_default": signature}
        )
        builder.save()
    runs = []
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(target))
        sig = meta.signature_def["serving_default"]
        names = {k: v.name for k, v in sig.outputs.items()}
        for feed in ([10.0, 20.0], [1.0, 1.0]):
            values = sess.run(names, {sig.inputs["x"].name: feed})
            runs.append({"x": feed, **{k: _value(v) for k, v in values.items()}})
    return {"runs": runs}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    golden = {
        "half_plus_three": half_plus_three(),
        "assign": assign_runs(),
        "legacy_placeholder": legacy_placeholder(),
        "variable_shapes": variable_shapes(),
        "ref_aliasing": ref_aliasing(),
    }
    (OUT / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
