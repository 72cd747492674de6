"""Loading under the safety policy, object-graph variables, and the low-level GraphSession."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.api.tf.saver import read_meta_graph_file
from savedmodel.errors import PolicyError
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format.bundle import BundleReader
from savedmodel.policy import Policy
from savedmodel.proto import meta_graph_pb2
from savedmodel.runtime.session import GraphSession
from tests.conftest import FIXTURES, SEED
from tests.graph_builder import node, type_attr


def _multiply_meta_graph() -> meta_graph_pb2.MetaGraphDef:
    return read_meta_graph_file(str(SEED / "multiply.pb"))


def test_restore_outside_model_is_refused_by_default() -> None:
    meta_graph = _multiply_meta_graph()
    sess = GraphSession(meta_graph.graph_def, op_list=meta_graph.meta_info_def.stripped_op_list)
    feeds = {"save/Const:0": np.asarray(str(SEED / "multiply_values.ckpt").encode(), dtype=object)}
    with pytest.raises(PolicyError, match="allow_file_access"):
        sess.run([], feeds, targets=["save/restore_all"])


def test_restore_allowed_with_file_access() -> None:
    meta_graph = _multiply_meta_graph()
    sess = GraphSession(
        meta_graph.graph_def,
        op_list=meta_graph.meta_info_def.stripped_op_list,
        policy=Policy(allow_file_access=True),
    )
    feeds = {"save/Const:0": np.asarray(str(SEED / "multiply_values.ckpt").encode(), dtype=object)}
    sess.run([], feeds, targets=["save/restore_all"])
    assert sess.run("y:0", {"x:0": 5.0}) == np.float32(15)


def _copy_model(tmp_path: Path, name: str) -> tuple[Path, object]:
    target = tmp_path / name
    shutil.copytree(SEED / name, target)
    return target, saved_model_format.read_saved_model(target)


def test_file_access_ops_refused_at_load(tmp_path: Path) -> None:
    target, proto = _copy_model(tmp_path, "saved-model-builder")
    proto.meta_graphs[0].graph_def.node.append(node("leak", "ReadFile", "Const"))
    saved_model_format.write_saved_model_proto(proto, target)
    with pytest.raises(PolicyError, match="ReadFile"):
        savedmodel.load(target)


def test_asset_escaping_model_dir_refused(tmp_path: Path) -> None:
    target, proto = _copy_model(tmp_path, "saved-model-builder")
    meta_graph = proto.meta_graphs[0]
    meta_graph.graph_def.node.append(node("asset", "Placeholder", dtype=type_attr(7)))
    asset = meta_graph.asset_file_def.add(filename="../../outside.txt")
    asset.tensor_info.name = "asset:0"
    meta_graph.collection_def["legacy_init_op"].node_list.value.append("asset")
    saved_model_format.write_saved_model_proto(proto, target)
    with pytest.raises(PolicyError, match="escapes"):
        savedmodel.load(target)


def test_unsupported_op_fails_at_load_listing_all(tmp_path: Path) -> None:
    target, proto = _copy_model(tmp_path, "saved-model-builder")
    graph = proto.meta_graphs[0].graph_def
    for n in graph.node:
        if n.op == "AddV2":
            n.op = "MadeUpOp"
    saved_model_format.write_saved_model_proto(proto, target)
    with pytest.raises(savedmodel.UnsupportedOpError, match="MadeUpOp"):
        savedmodel.load(target)


def test_object_graph_variables_match_checkpoint() -> None:
    path = FIXTURES / "runtime" / "keras_mlp"
    loaded = savedmodel.load(path)
    kernel = getattr(loaded, "layer_with_weights-0").kernel
    with BundleReader(path / "variables" / "variables") as reader:
        expected = reader.read("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(kernel.numpy(), expected)
    assert sorted(v.name for v in loaded.variables()) == [
        "dense/bias",
        "dense/kernel",
        "dense_1/bias",
        "dense_1/kernel",
    ]


def test_restored_function_rejects_bad_arguments() -> None:
    loaded = savedmodel.load(SEED / "tf2-save")
    with pytest.raises(savedmodel.InvalidInputError, match="no concrete function"):
        loaded("not a number")
    with pytest.raises(savedmodel.InvalidInputError, match="no concrete function"):
        loaded(1.0, 2.0)
