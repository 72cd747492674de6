"""RestoreV2/SaveV2 with slices (TF1 partitioned variables), shard merging, and the file ops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES

import savedmodel
from savedmodel.errors import PolicyError
from savedmodel.format.bundle import BundleReader
from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.policy import Policy
from savedmodel.runtime.session import GraphSession
from tests.graph_builder import const, graph, node

PARTITIONED = FIXTURES / "format" / "tf1-partitioned"


def test_partitioned_variable_restored_through_the_models_saver():
    # Golden from TF 2.21: tf.saved_model.load(PARTITIONED).signatures["serving_default"](x=...)
    model = savedmodel.load(PARTITIONED)
    out = model.signatures["serving_default"](x=np.arange(8, dtype=np.float32).reshape(2, 4))
    np.testing.assert_array_equal(
        out["y"],
        np.array(
            [
                [10, 22, 34, 46, 58, 70, 82, 94, 106, 118],
                [22, 66, 110, 154, 198, 242, 286, 330, 374, 418],
            ],
            dtype=np.float32,
        ),
    )
    assert out["z"] == 91 and out["z"].dtype == np.int32


def _file_graph(target) -> object:
    return graph(
        const("name", str(target).encode()),
        const("text", b"hello"),
        node("write", "WriteFile", "name", "text"),
        node("read", "ReadFile", "name", "^write"),
        const("pattern", str(target.parent / "*.txt").encode()),
        node("match", "MatchingFiles", "pattern", "^write"),
    )


def test_file_ops_are_refused_without_file_access(tmp_path):
    session = GraphSession(_file_graph(tmp_path / "out.txt"))
    with pytest.raises(PolicyError):
        session.run(["read:0"], {})
    assert not (tmp_path / "out.txt").exists()


def test_file_ops_with_file_access(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    session = GraphSession(_file_graph(target), policy=Policy(allow_file_access=True))
    read, matched = session.run(["read:0", "match:0"], {})
    assert read == b"hello" and target.read_bytes() == b"hello"
    assert list(matched) == [str(target).encode()]


def test_merge_of_several_shards(tmp_path):
    from savedmodel.format.bundle import BundleWriter

    parts = []
    for i, (key, value) in enumerate([("a", np.arange(3.0)), ("b", np.array([b"x", b"yz"], dtype=object))]):
        prefix = tmp_path / f"tmp_part{i}" / "part"
        with BundleWriter(prefix) as writer:
            writer.add(key, value)
        parts.append(str(prefix))
    dest = tmp_path / "final" / "ckpt"

    class Runtime:
        policy = Policy(allow_file_access=True)

        @staticmethod
        def check_path(path, what):
            return path

    class Ctx:
        runtime = Runtime()

    merge = lookup("MergeV2Checkpoints").prepare(NodeSpec("m", "MergeV2Checkpoints", Attrs({}), 2))
    merge(
        Ctx(),
        np.array([p.encode() for p in parts], dtype=object),
        np.asarray(str(dest).encode(), dtype=object),
    )
    with BundleReader(dest) as reader:
        np.testing.assert_array_equal(reader.read("a"), np.arange(3.0))
        assert list(reader.read("b")) == [b"x", b"yz"]
    assert not (tmp_path / "tmp_part0").exists()


def test_file_ops_match_tensorflow(tmp_path):
    """Golden: tools/oracle/make_file_op_goldens.py (TF 2.21) on the same directory layout."""
    golden = json.loads((FIXTURES / "runtime_ops" / "file_ops.json").read_text())
    for name, text in golden["layout"].items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    model_dir = FIXTURES / "runtime_ops" / "file_ops"
    with pytest.raises(PolicyError):
        savedmodel.load(model_dir)
    model = savedmodel.load(model_dir, policy=Policy(allow_file_access=True))

    def relative(values: np.ndarray) -> list[str]:
        return [Path(v.decode()).relative_to(tmp_path).as_posix() for v in values]

    match = model.signatures["match"](pattern=str(tmp_path / golden["match"]["pattern"]))
    assert relative(match["files"]) == golden["match"]["files"]
    patterns = [str(tmp_path / p) for p in golden["match_many"]["patterns"]]
    many = model.signatures["match_many"](patterns=np.array([p.encode() for p in patterns], dtype=object))
    assert relative(many["files"]) == golden["match_many"]["files"]
    path = tmp_path / golden["write_then_read"]["path"]
    out = model.signatures["write_then_read"](path=str(path), contents="written")
    assert out["contents"] == golden["write_then_read"]["contents"].encode()
