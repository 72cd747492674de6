"""tf1.Session over the shared runtime: plan caching, recompiles when the graph grows,
variables kept across recompiles, the safety policy on tf1 loading, one compat.v1."""

from __future__ import annotations

import shutil
from collections import OrderedDict, namedtuple
from pathlib import Path

import numpy as np
import pytest

import savedmodel
import savedmodel.compat.v1 as compat_v1
from savedmodel import tf
from savedmodel.api.tf.eager import run_op
from savedmodel.errors import ExecutionError, NotFoundError, PolicyError, UnsupportedOpError
from savedmodel.format import saved_model as saved_model_format
from savedmodel.policy import Policy
from tests.conftest import SEED
from tests.graph_builder import node

tf1 = tf.compat.v1


def test_compat_v1_is_one_namespace() -> None:
    assert compat_v1 is tf1
    assert savedmodel.compat.v1.Session is tf1.Session
    assert compat_v1.saved_model.load is tf1.saved_model.load


def test_plans_cached_and_recompiled_when_the_graph_grows() -> None:
    with tf.Graph().as_default() as graph, tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        v = tf.Variable(3.0, name="v")
        y = tf.multiply(x, v, name="y")
        sess.run(v.initializer)
        assert sess.run(y, {x: 5.0}) == np.float32(15)
        runtime_session = sess.runtime_session
        plans = len(runtime_session._plans)
        assert sess.run(y, {x: 2.0}) == np.float32(6)
        assert sess.runtime_session is runtime_session and len(runtime_session._plans) == plans
        # Growing the graph recompiles; the variable's value survives.
        version = graph.version
        bump = v.assign_add(1.0)
        assert graph.version != version
        sess.run(bump)
        assert sess.runtime_session is not runtime_session
        assert sess.run(y, {x: 2.0}) == np.float32(8)
        z = tf.add(y, 1.0, name="z")
        assert sess.run(z, {x: 1.0}) == np.float32(5)


def test_nested_fetches_keep_their_structure() -> None:
    pair = namedtuple("pair", ["a", "b"])  # noqa: PYI024
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        y = tf.add(x, 2.0, name="y")
        result = sess.run({"p": pair(y, "x:0"), "o": OrderedDict(y=y), "l": [y, (x,)], "op": y.op}, {x: 1.0})
    assert result["p"] == pair(np.float32(3), np.float32(1)) and isinstance(result["p"], pair)
    assert isinstance(result["o"], OrderedDict) and result["o"]["y"] == np.float32(3)
    assert result["l"][0] == np.float32(3) and result["l"][1] == (np.float32(1),)
    assert result["op"] is None


def test_graph_lookup_errors_are_typed() -> None:
    with tf.Graph().as_default() as graph:
        tf1.placeholder(tf.float32, shape=[], name="x")
    with pytest.raises(NotFoundError, match="not in the graph"):
        graph.get_operation_by_name("missing")
    with pytest.raises(KeyError):
        graph.get_tensor_by_name("missing:0")


def test_eager_ops_use_the_registry_only() -> None:
    assert (tf.constant(5.0) + 2).numpy() == np.float32(7)
    with pytest.raises(UnsupportedOpError, match="NoSuchOp"):
        run_op("NoSuchOp", {}, [])
    with pytest.raises(ExecutionError, match="Incompatible shapes"):
        tf.constant([1.0, 2.0]) + tf.constant([1.0, 2.0, 3.0])


def _model_with_read_file(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(SEED / "saved-model-builder", target)
    proto = saved_model_format.read_saved_model(target)
    proto.meta_graphs[0].graph_def.node.append(node("leak", "ReadFile", "add/y"))
    saved_model_format.write_saved_model_proto(proto, target)
    return target


def test_tf1_load_refuses_file_access_ops_unless_allowed(tmp_path: Path) -> None:
    target = _model_with_read_file(tmp_path)
    with tf.Graph().as_default(), tf1.Session() as sess, pytest.raises(PolicyError, match="ReadFile"):
        tf1.saved_model.load(sess, ["serve"], str(target))
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(target), policy=Policy(allow_file_access=True))
        sig = meta.signature_def["serving_default"]
        assert sess.run(sig.outputs["output"].name, {sig.inputs["input"].name: 1.0}) == np.float32(3)
    with tf.Graph().as_default(), tf1.Session(policy=Policy(allow_file_access=True)) as sess:
        tf1.saved_model.load(sess, ["serve"], str(target))


def test_loaded_model_confines_checkpoints_but_savers_may_use_named_ones(tmp_path: Path) -> None:
    with tf.Graph().as_default() as graph:
        saver = tf1.train.import_meta_graph(str(SEED / "multiply.pb"))
        assert graph.confined
        with tf1.Session() as sess:
            feeds = {"save/Const:0": str(SEED / "multiply_values.ckpt")}
            with pytest.raises(PolicyError, match="allow_file_access"):
                sess.run("save/restore_all", feeds)
            saver.restore(sess, str(SEED / "multiply_values.ckpt"))
            assert sess.run("y:0", {"x:0": 5.0}) == np.float32(15)
            saved = saver.save(sess, str(tmp_path / "out" / "ckpt"), write_meta_graph=False)
    assert Path(saved + ".index").is_file()
    # A graph the user builds is not confined.
    with tf.Graph().as_default() as graph, tf1.Session() as sess:
        v = tf.Variable(2.0, name="v")
        sess.run(v.initializer)
        assert not graph.confined
        user_saver = tf1.train.Saver()
        sess.run(
            user_saver.saver_def.save_tensor_name,
            {user_saver.saver_def.filename_tensor_name: str(tmp_path / "u")},
        )
    assert (tmp_path / "u.index").is_file()
