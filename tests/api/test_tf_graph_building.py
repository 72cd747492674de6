"""savedmodel.tf graph building, eager values and TF1 saving, checked against TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from savedmodel import tf
from savedmodel.errors import InvalidInputError, PolicyError
from savedmodel.format.saved_model import read_saved_model

tf1 = tf.compat.v1


# --- eager values print as TensorFlow prints them (strings taken from TF 2.21) -------------------


def test_eager_printing() -> None:
    seven = tf.constant(5.0) + 2
    assert str(seven) == "tf.Tensor(7.0, shape=(), dtype=float32)"
    assert repr(seven) == "<tf.Tensor: shape=(), dtype=float32, numpy=7.0>"
    matrix = tf.constant([[1.0, 2.5], [3, 4]])
    assert str(matrix) == "tf.Tensor(\n[[1.  2.5]\n [3.  4. ]], shape=(2, 2), dtype=float32)"
    assert repr(matrix) == (
        "<tf.Tensor: shape=(2, 2), dtype=float32, numpy=\narray([[1. , 2.5],\n"
        "       [3. , 4. ]], dtype=float32)>"
    )
    assert repr(tf.constant("hi")) == "<tf.Tensor: shape=(), dtype=string, numpy=b'hi'>"
    assert str(tf.constant([1, 2])) == "tf.Tensor([1 2], shape=(2,), dtype=int32)"
    assert repr(tf.constant(True)) == "<tf.Tensor: shape=(), dtype=bool, numpy=True>"
    assert repr(tf.constant(1.5, tf.float64)) == "<tf.Tensor: shape=(), dtype=float64, numpy=1.5>"
    assert repr(tf.float32) == "tf.float32" and str(tf.float32) == "<dtype: 'float32'>"
    assert (
        repr(tf.TensorShape([None, 3])) == "TensorShape([None, 3])"
        and str(tf.TensorShape([None, 3])) == "(None, 3)"
    )


def test_eager_dtypes_follow_tensorflow() -> None:
    assert (tf.constant([1, 2]) * 3).numpy().dtype == np.int32
    assert tf.reduce_sum(tf.constant([1, 2, 3])).numpy() == 6
    assert tf.reduce_sum(tf.constant([1, 2, 3])).dtype == tf.int32
    assert (tf.constant(1) / 2).dtype == tf.float64
    np.testing.assert_allclose(tf.nn.softmax(tf.constant([0.0, 0.0])).numpy(), [0.5, 0.5])
    v = tf.Variable(3.0)
    assert repr(v) == "<tf.Variable 'Variable:0' shape=() dtype=float32, numpy=3.0>"
    v.assign_add(1.0)
    assert float(v.numpy()) == 4.0


# --- node names ----------------------------------------------------------------------------------


def test_node_names_follow_tensorflow() -> None:
    with tf.Graph().as_default() as g:
        a = tf1.placeholder(tf.float32, shape=[None, 2])
        b = tf1.placeholder(tf.float32, shape=[None, 2])
        c = a + 2
        d = a + b
        e = tf.multiply(c, d)
        with tf.name_scope("block"):
            f = tf.matmul(e, tf.constant([[1.0], [2.0]]))
            g2 = tf.nn.relu(f, name="out")
        h = tf.reduce_sum(g2)
        tf.reduce_mean(g2, axis=1, keepdims=True)
        k = tf.reshape(g2, [-1])
        tf.concat([k, k], 0)
        tf.nn.softmax(f)
        tf.sigmoid(f)
        tf.cast(f, tf.int32)
        tf.add(a, b)
        a / b
        a - 1
        # The names TensorFlow 2.21 gives the same program.
        assert [op.name for op in g.get_operations()] == [
            "Placeholder",
            "Placeholder_1",
            "add/y",
            "add",
            "add_1",
            "Mul",
            "block/Const",
            "block/MatMul",
            "block/out",
            "Const",
            "Sum",
            "Mean/reduction_indices",
            "Mean",
            "Reshape/shape",
            "Reshape",
            "concat/axis",
            "concat",
            "Softmax",
            "Sigmoid",
            "Cast",
            "Add_2",
            "truediv",
            "sub/y",
            "sub",
        ]
    assert a.name == "Placeholder:0" and h.name == "Sum:0"
    assert str(a) == 'Tensor("Placeholder:0", shape=(None, 2), dtype=float32)'
    assert f.shape == [None, 1]


def test_variable_nodes_and_collections() -> None:
    with tf.Graph().as_default() as g:
        v = tf.Variable(3.0, name="v")
        names = [op.name for op in g.get_operations()]
        assert names == [
            "v/Initializer/initial_value",
            "v",
            "v/IsInitialized/VarIsInitializedOp",
            "v/Assign",
            "v/Read/ReadVariableOp",
        ]
        assert g.get_collection("variables") == [v] and g.get_collection("trainable_variables") == [v]
        assert v.name == "v:0" and v.initializer.name == "v/Assign"
        w = tf.Variable(1.0, name="v")
        assert w.name == "v_1:0"


def test_session_errors_are_clear() -> None:
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        y = x * 2
        v = tf.Variable(1.0)
        with tf1.Session() as sess:
            with pytest.raises(InvalidInputError, match="You must feed a value for placeholder tensor 'x'"):
                sess.run(y)
            with pytest.raises(ValueError, match="Cannot feed value of shape"):
                sess.run(y, {x: [1.0, 2.0]})
            with pytest.raises(Exception, match="uninitialized|never initialized"):
                sess.run(v.value())
            assert sess.run({"a": y, "b": [y]}, {x: 2.0}) == {"a": 4.0, "b": [4.0]}


# --- TF1 savers ----------------------------------------------------------------------------------


def _graph_with_variable() -> tuple:
    x = tf1.placeholder(tf.float32, shape=[None], name="x")
    v = tf.Variable([1.0, 2.0], name="v")
    y = tf.add(x * v, 1.0, name="y")
    return x, v, y


def test_builder_with_variables_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "model"
    with tf.Graph().as_default():
        x, v, y = _graph_with_variable()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(v.assign([3.0, 4.0]))
            builder = tf1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(
                sess,
                [tf.saved_model.SERVING],
                signature_def_map={
                    "serving_default": tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
                },
            )
            builder.add_meta_graph(["train"])
            builder.save()
    assert sorted(os.listdir(path)) == ["saved_model.pb", "variables"]
    proto = read_saved_model(path)
    assert [list(m.meta_info_def.tags) for m in proto.meta_graphs] == [["serve"], ["train"]]
    meta = proto.meta_graphs[0]
    assert meta.saver_def.filename_tensor_name == "save/Const:0"
    assert meta.saver_def.save_tensor_name == "save/Identity:0" and meta.saver_def.sharded
    assert {n.name for n in meta.graph_def.node} >= {
        "save/SaveV2",
        "save/RestoreV2",
        "save/restore_all",
        "save/MergeV2Checkpoints",
        "save/ShardedFilename",
    }
    with tf.Graph().as_default():
        with tf1.Session() as sess:
            loaded = tf1.saved_model.load(sess, ["serve"], str(path))
            sig = loaded.signature_def["serving_default"]
            out = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: [1.0, 1.0]})
    np.testing.assert_array_equal(out, np.array([4.0, 5.0], np.float32))


def test_builder_refuses_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(PolicyError, match="already exists, and isn't empty"):
        tf1.saved_model.Builder(str(tmp_path / "taken"))
    (tmp_path / "empty").mkdir()
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, [])
        with tf1.Session() as sess:
            builder = tf1.saved_model.Builder(str(tmp_path / "empty"))
            with pytest.raises(AssertionError):
                builder.add_meta_graph(["serve"])
            builder.add_meta_graph_and_variables(
                sess, ["serve"], {"s": tf1.saved_model.predict_signature_def({"x": x}, {"y": x + 1})}
            )
            builder.save()
    assert (tmp_path / "empty" / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_signature_def_utils() -> None:
    with tf.Graph().as_default():
        examples = tf1.placeholder(tf.string, [None], name="examples")
        scores = tf1.placeholder(tf.float32, [None, 2], name="scores")
        classes = tf1.placeholder(tf.string, [None, 2], name="classes")
        sig = tf1.saved_model.classification_signature_def(examples, classes, scores)
        assert sig.method_name == "tensorflow/serving/classify"
        assert sorted(sig.outputs) == ["classes", "scores"] and sig.inputs["inputs"].name == "examples:0"
        assert tf1.saved_model.is_valid_signature(sig)
        reg = tf1.saved_model.regression_signature_def(examples, scores)
        assert reg.method_name == "tensorflow/serving/regress" and list(reg.outputs) == ["outputs"]
        with pytest.raises(ValueError, match="must be a string Tensor"):
            tf1.saved_model.regression_signature_def(scores, scores)
        with pytest.raises(ValueError, match="cannot be None or empty"):
            tf1.saved_model.predict_signature_def({}, {"s": scores})
        bad = tf1.saved_model.build_signature_def(
            {"inputs": tf1.saved_model.build_tensor_info(scores)},
            {"outputs": tf1.saved_model.build_tensor_info(scores)},
            "tensorflow/serving/regress",
        )
        assert not tf1.saved_model.is_valid_signature(bad)


def test_method_name_updater(tmp_path: Path) -> None:
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, [None])
        with tf1.Session() as sess:
            tf1.saved_model.simple_save(sess, str(tmp_path / "m"), {"x": x}, {"y": x * 2})
    updater = tf1.saved_model.signature_def_utils.MethodNameUpdater(str(tmp_path / "m"))
    updater.replace_method_name("serving_default", "tensorflow/serving/regress", tags="serve")
    with pytest.raises(ValueError, match="does not have a signature_def"):
        updater.replace_method_name("nope", "x", tags=["serve"])
    updater.save(str(tmp_path / "m2"))
    proto = read_saved_model(tmp_path / "m2")
    assert proto.meta_graphs[0].signature_def["serving_default"].method_name == "tensorflow/serving/regress"


def test_saver_global_step_and_state_file(tmp_path: Path) -> None:
    with tf.Graph().as_default():
        x, v, y = _graph_with_variable()
        with tf1.Session() as sess:
            sess.run(v.initializer)
            saver = tf1.train.Saver(max_to_keep=1)
            first = saver.save(sess, str(tmp_path / "ckpt"), global_step=1)
            second = saver.save(sess, str(tmp_path / "ckpt"), global_step=2)
    assert first.endswith("ckpt-1") and second.endswith("ckpt-2")
    state = (tmp_path / "checkpoint").read_text()
    assert state == 'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n'
    assert tf1.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-2")
    with tf.Graph().as_default() as g:
        saver = tf1.train.import_meta_graph(str(tmp_path / "ckpt-2.meta"))
        with tf1.Session() as sess:
            saver.restore(sess, str(tmp_path / "ckpt-2"))
            out = sess.run(g.get_tensor_by_name("y:0"), {g.get_tensor_by_name("x:0"): [2.0, 2.0]})
    np.testing.assert_array_equal(out, [3.0, 5.0])


def test_wrap_function_with_signature() -> None:
    def build(x: object) -> object:
        v = tf.Variable(2.0, name="scale")
        return x * v

    wrapped = tf1.wrap_function(build, [tf.TensorSpec([], tf.float32)])
    assert [v.name for v in wrapped.variables] == ["scale:0"]
    assert repr(wrapped(tf.constant(3.0))) == "<tf.Tensor: shape=(), dtype=float32, numpy=6.0>"


def test_reference_variables_as_tensorflow_writes_them(tmp_path: Path) -> None:
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        v = tf1.Variable(3.0, name="v", use_resource=False)
        y = tf.multiply(x, v, name="y")
        with tf1.Session() as sess:
            sess.run(v.initializer)
            assert sess.run(y, {x: 5}) == 15.0
            saver = tf1.train.Saver()
            meta = saver.export_meta_graph()
            saver.save(sess, str(tmp_path / "ref.ckpt"))
            sess.run(v.assign(7.0))
            assert sess.run(y, {x: 1}) == 7.0
            saver.restore(sess, str(tmp_path / "ref.ckpt"))
            assert sess.run(y, {x: 1}) == 3.0
    # Node names, inputs and attr keys TensorFlow 2.21 writes for the same program.
    nodes = [
        (n.name, n.op, list(n.input), sorted(k for k in n.attr if k not in ("_output_shapes", "value")))
        for n in meta.graph_def.node
    ]
    assert nodes[:6] == [
        ("x", "Placeholder", [], ["dtype", "shape"]),
        ("v/initial_value", "Const", [], ["dtype"]),
        ("v", "VariableV2", [], ["container", "dtype", "shape", "shared_name"]),
        ("v/Assign", "Assign", ["v", "v/initial_value"], ["T", "_class", "use_locking", "validate_shape"]),
        ("v/read", "Identity", ["v"], ["T", "_class"]),
        ("y", "Mul", ["x", "v/read"], ["T"]),
    ]
    assert (
        "save/Assign",
        "Assign",
        ["v", "save/RestoreV2"],
        ["T", "_class", "_has_manual_control_dependencies", "use_locking", "validate_shape"],
    ) in nodes
    assert meta.collection_def["variables"].bytes_list.value == [
        b"\n\003v:0\022\010v/Assign\032\010v/read:02\021v/initial_value:08\001"
    ]


def test_array_op_names_and_values() -> None:
    with tf.Graph().as_default() as g:
        x = tf1.placeholder(tf.float32, shape=[None, 3], name="x")
        tf.zeros([2, 3])
        tf.ones([2])
        e = tf.expand_dims(x, 1)
        t = tf.transpose(x)
        s = tf.squeeze(tf.expand_dims(x, 0), [0])
        sh = tf.shape(x)
        am = tf.argmax(x, 1)
        mx = tf.maximum(x, 0.0)
        w = tf.where(x > 0, x, 0.0 * x)
        # The names TensorFlow 2.21 gives the same program.
        assert [op.name for op in g.get_operations()] == [
            "x",
            "zeros",
            "ones",
            "ExpandDims/dim",
            "ExpandDims",
            "transpose/perm",
            "transpose",
            "ExpandDims_1/dim",
            "ExpandDims_1",
            "Squeeze",
            "Shape",
            "ArgMax/dimension",
            "ArgMax",
            "Maximum/y",
            "Maximum",
            "Greater/y",
            "Greater",
            "mul/x",
            "mul",
            "SelectV2",
        ]
        assert e.shape == [None, 1, 3] and t.shape == [3, None] and s.shape == [None, 3]
        feed = np.array([[1.0, -2.0, 3.0], [-1.0, 5.0, 0.0]], np.float32)
        with tf1.Session() as sess:
            out = sess.run({"sh": sh, "am": am, "mx": mx, "w": w, "t": t}, {x: feed})
    assert out["sh"].tolist() == [2, 3] and out["sh"].dtype == np.int32
    assert out["am"].tolist() == [2, 1] and out["am"].dtype == np.int64
    np.testing.assert_array_equal(out["mx"], np.maximum(feed, 0))
    np.testing.assert_array_equal(out["w"], np.where(feed > 0, feed, 0))
    np.testing.assert_array_equal(out["t"], feed.T)


def test_builder_as_text_and_atomic_failure(tmp_path: Path) -> None:
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, [], name="x")
        with tf1.Session() as sess:
            builder = tf1.saved_model.Builder(str(tmp_path / "text"))
            sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": x * 3})
            builder.add_meta_graph_and_variables(sess, ["serve"], {"serving_default": sig})
            path = builder.save(as_text=True)
            assert path == os.fsencode(str(tmp_path / "text" / "saved_model.pbtxt"))
        with tf1.Session() as sess:
            broken = tf1.saved_model.Builder(str(tmp_path / "broken"))
            with pytest.raises(TypeError):
                broken.add_meta_graph_and_variables(sess, ["serve"], {"bad": "not a SignatureDef"})
    assert not (tmp_path / "broken").exists()
    with tf.Graph().as_default():
        with tf1.Session() as sess:
            meta = tf1.saved_model.load(sess, ["serve"], str(tmp_path / "text"))
            assert sess.run(meta.signature_def["serving_default"].outputs["y"].name, {"x:0": 2.0}) == 6.0
