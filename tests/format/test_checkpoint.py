"""CheckpointReader, object graphs and key escaping against TF-written checkpoints."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from savedmodel.errors import FormatError, NotFoundError
from savedmodel.format import checkpoint
from savedmodel.format.checkpoint import CheckpointReader

from .helpers import FORMAT, SEED, golden, matches_golden


@pytest.mark.parametrize(
    "path, golden_prefix",
    [
        (FORMAT / "tf1-ckpt", "tf1-ckpt/model.ckpt-42"),  # directory with a `checkpoint` state file
        (FORMAT / "tf1-ckpt" / "model.ckpt-42", "tf1-ckpt/model.ckpt-42"),
        (FORMAT / "tf2-ckpt", "tf2-ckpt/ckpt-1"),
        (FORMAT / "tf1-partitioned-ckpt", "tf1-partitioned-ckpt/model.ckpt"),
        (FORMAT / "multi-shard-ckpt" / "ckpt", "multi-shard-ckpt/ckpt"),
        (FORMAT / "keras-dense", "keras-dense/variables/variables"),  # SavedModel directory
        (FORMAT / "tf1-partitioned", "tf1-partitioned/variables/variables"),
    ],
    ids=lambda v: str(v).rsplit("format/", 1)[-1],
)
def test_list_variables_and_values(path, golden_prefix) -> None:
    expected = golden()["bundles"][golden_prefix]
    with CheckpointReader(path) as reader:
        assert reader.list_variables() == [(n, s) for n, s in expected["list_variables"]]
        assert checkpoint.list_variables(path) == reader.list_variables()
        for name, want in expected["tensors"].items():
            assert reader.dtype_name(name) == want["dtype"]
            assert matches_golden(reader.get_tensor(name), want), name


def test_seed_checkpoint_prefix() -> None:
    with CheckpointReader(SEED / "multiply_values.ckpt") as reader:
        assert reader.list_variables() == [("v", [])]
        assert reader.get_tensor("v") == np.float32(3.0)
        assert not reader.is_object_based and reader.object_graph() is None
        with pytest.raises(NotFoundError):
            reader.get_tensor("w")


def test_escaping() -> None:
    for raw, escaped in [
        ("a.b", "a..b"),
        ("c/d", "c.Sd"),
        ("odd.name/x", "odd..name.Sx"),
        ("..", "...."),
        ("", ""),
    ]:
        assert checkpoint.escape_local_name(raw) == escaped
        assert checkpoint.unescape_local_name(escaped) == raw
    assert checkpoint.checkpoint_key(["net", "a.b"]) == "net/a..b/.ATTRIBUTES/VARIABLE_VALUE"
    assert checkpoint.split_checkpoint_key("net/table/c.Sd/.ATTRIBUTES/VARIABLE_VALUE") == (
        ("net", "table", "c/d"),
        "VARIABLE_VALUE",
    )
    assert checkpoint.split_checkpoint_key("scope/w") is None


def test_object_graph_of_tf2_checkpoint() -> None:
    with CheckpointReader(FORMAT / "tf2-ckpt") as reader:
        graph = reader.object_graph()
        assert graph is not None and graph.nodes[0].children[0].local_name == "net"
        attributes = checkpoint.object_graph_attributes(graph)
        # every key TF wrote is the escaped first breadth-first path of its object
        for attribute in attributes:
            assert checkpoint.checkpoint_key(attribute.path, attribute.name) == attribute.checkpoint_key
        mapping = reader.variables_of_object_graph()
        assert mapping["net/table/a.b"] == "net/table/a..b/.ATTRIBUTES/VARIABLE_VALUE"
        assert mapping["odd.name/x"] == "odd..name.Sx/.ATTRIBUTES/VARIABLE_VALUE"
        assert reader.get_object_variable("net/items/1") == 2
        assert reader.get_object_variable("odd.name/x") == 5.0


def test_object_graph_of_keras_saved_model() -> None:
    with CheckpointReader(FORMAT / "keras-dense") as reader:
        mapping = reader.variables_of_object_graph()
        assert (
            mapping["layer_with_weights-0/kernel"] == "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
        )
        assert set(mapping.values()) == {k for k, _ in reader.list_variables()} - {
            checkpoint.OBJECT_GRAPH_KEY
        }
        kernel = reader.get_object_variable("layer_with_weights-1/kernel")
        assert kernel.shape == (4, 2) and kernel.dtype == np.float32


def test_write_object_checkpoint_round_trip(tmp_path) -> None:
    values = {
        "dense/kernel": np.ones((2, 3), np.float32),
        "dense/bias": np.zeros(3, np.float32),
        ("odd.name", "x/y"): np.array(b"text", dtype=object),
    }
    graph, keys = checkpoint.build_object_graph(values)
    assert keys["odd.name/x/y"] == "odd..name/x.Sy/.ATTRIBUTES/VARIABLE_VALUE"
    tensors = {keys[p if isinstance(p, str) else "/".join(p)]: v for p, v in values.items()}
    checkpoint.write_checkpoint(tmp_path / "ckpt-1", tensors, graph)
    checkpoint.write_checkpoint_state(tmp_path, "ckpt-1")
    with CheckpointReader(tmp_path) as reader:
        assert reader.is_object_based
        assert reader.variables_of_object_graph() == keys
        np.testing.assert_array_equal(reader.get_object_variable("dense/kernel"), np.ones((2, 3), np.float32))
        assert reader.get_tensor(keys["odd.name/x/y"])[()] == b"text"
    written = checkpoint.write_object_checkpoint(tmp_path / "other", {"a/b": np.arange(3)})
    assert checkpoint.list_variables(written) == [
        ("_CHECKPOINTABLE_OBJECT_GRAPH", []),
        ("a/b/.ATTRIBUTES/VARIABLE_VALUE", [3]),
    ]


def test_object_graph_keys_must_have_tensors(tmp_path) -> None:
    graph, _ = checkpoint.build_object_graph(["a"])
    with pytest.raises(FormatError, match="no tensor"):
        checkpoint.write_checkpoint(tmp_path / "x", {}, graph)


def test_state_file_parsing(tmp_path) -> None:
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "we\\"ird\\\\name"\n'
        'all_model_checkpoint_paths: "old"\nall_model_checkpoint_paths: "we\\"ird\\\\name"\n'
        "last_preserved_timestamp: 1.5\n"
    )
    state = checkpoint.read_checkpoint_state(tmp_path)
    assert state["model_checkpoint_path"] == 'we"ird\\name'
    assert state["all_model_checkpoint_paths"] == ["old", 'we"ird\\name']


def test_state_file_with_moved_absolute_path(tmp_path) -> None:
    for path in (FORMAT / "tf1-ckpt").glob("model.ckpt-42.*"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/gone/model.ckpt-42"\n')
    with CheckpointReader(tmp_path) as reader:
        assert reader.get_tensor("global_step") == 42


def test_missing_variables_dir(tmp_path) -> None:
    shutil.copy(FORMAT / "keras-dense" / "saved_model.pb", tmp_path / "saved_model.pb")
    with pytest.raises(FormatError, match="no variables directory"):
        CheckpointReader(tmp_path)


def test_not_a_checkpoint(tmp_path) -> None:
    with pytest.raises(FormatError, match="checkpoint not found"):
        CheckpointReader(tmp_path / "nothing")
    with pytest.raises(FormatError, match="neither"):
        CheckpointReader(tmp_path)
    (tmp_path / "file.ckpt").write_bytes(b"x")
    with pytest.raises(FormatError, match="V1"):
        CheckpointReader(tmp_path / "file.ckpt")
