"""Frozen GraphDefs through the TF façade: TensorFlow's own recipes, with only the import changed.

Each program in tests/fixtures/graphdef/programs/ is run here with `import tensorflow as tf`
replaced by `from savedmodel import tf`; tools/oracle/make_graphdef_goldens.py ran the
same text under TensorFlow 2.21 and stored what it computed in goldens.json.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from savedmodel import tf
from savedmodel.errors import FormatError, InvalidInputError, NotFoundError, SavedModelError
from tests.conftest import FIXTURES, assert_matches_golden, golden_array

GRAPHDEF = FIXTURES / "graphdef"
MODELS = FIXTURES / "realworld"
PROGRAMS = sorted((GRAPHDEF / "programs").glob("*.txt"))
GOLDENS = json.loads((GRAPHDEF / "goldens.json").read_text())["programs"]
# The only lines a program changes: TensorFlow's imports become savedmodel's.
IMPORTS = {
    "import tensorflow as tf\n": "from savedmodel import tf\n",
    "import tensorflow.compat.v1 as tf\n": "import savedmodel.compat.v1 as tf\n",
}
# float32 recurrences (28 steps of 784-wide matmuls) sum in another order than Eigen does.
RECURRENT = ("gru", "lstm")


def run_program(text: str, name: str) -> dict:
    assert sum(text.count(line) for line in IMPORTS) == 1
    source = text
    for line, ours in IMPORTS.items():
        source = source.replace(line, ours)
    namespace = {"MODELS": str(MODELS), "FIXTURES": str(GRAPHDEF), "RESULT": {}, "__name__": "__program__"}
    exec(compile(source, name, "exec"), namespace)
    return namespace["RESULT"]


@pytest.fixture
def eager_restored():
    yield
    tf.compat.v1.enable_eager_execution()
    tf.compat.v1.reset_default_graph()


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_program_matches_tensorflow(program, eager_restored):
    result = run_program(program.read_text(), str(program))
    golden = GOLDENS[program.stem]
    assert sorted(result) == sorted(golden)
    for key, entry in golden.items():
        what = f"{program.stem}: {key}"
        if any(word in key for word in RECURRENT):
            actual, expected = np.asarray(result[key]), golden_array(entry)
            assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), what
            np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5, err_msg=what)
        else:
            assert_matches_golden(result[key], entry, what)


def _graph_def(name: str = "tf2onnx__ae0__2018_c6dca6c/frozen.pb"):
    graph_def = tf.compat.v1.GraphDef()
    with tf.io.gfile.GFile(str(MODELS / name), "rb") as f:
        graph_def.ParseFromString(f.read())
    return graph_def


def test_import_graph_def_fills_default_attrs_and_legacy_placeholder_shapes():
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(_graph_def("tf2onnx__gru__2018_909ad50/frozen.pb"))
    x = graph.get_tensor_by_name("import/X:0")
    # producer 0 wrote an unknown shape as a scalar one: TensorFlow reads it as unknown
    assert x.shape.dims is None
    matmul = next(op for op in graph.get_operations() if op.type == "MatMul")
    assert "transpose_a" in matmul.node_def.attr


def test_import_graph_def_errors_are_typed():
    graph_def = _graph_def()
    with tf.Graph().as_default():
        with pytest.raises(InvalidInputError, match="not found in graph_def"):
            tf.compat.v1.import_graph_def(graph_def, input_map={"nope:0": tf.constant(1.0)})
        with pytest.raises(InvalidInputError, match="return_element 'nope:0'"):
            tf.compat.v1.import_graph_def(graph_def, return_elements=["nope:0"])
    with pytest.raises(TypeError):
        tf.compat.v1.import_graph_def(b"not a proto")


def test_gfile_is_local_only(tmp_path):
    with pytest.raises(FormatError, match="only local files"):
        tf.io.gfile.GFile("gs://bucket/frozen.pb", "rb")
    with pytest.raises(NotFoundError):
        tf.compat.v1.gfile.GFile(str(tmp_path / "missing.pb"), "rb")
    path = tmp_path / "a.txt"
    with tf.io.gfile.GFile(str(path), "w") as f:
        f.write("hello")
    assert tf.io.gfile.exists(str(path)) and tf.compat.v1.gfile.Exists(str(path))
    with tf.compat.v1.gfile.FastGFile(str(path), "rb") as f:
        assert f.read() == b"hello" and f.size() == 5


def test_session_feeds_checked_and_unfed_placeholder_named():
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(_graph_def(), name="m")
    with tf.compat.v1.Session(graph=graph) as sess:
        with pytest.raises(SavedModelError, match="m/X"):
            sess.run("m/output:0")
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            sess.run("m/output:0", {"m/X:0": np.zeros((2, 3), np.float32)})


def test_import_meta_graph_without_op_defs_knows_every_output(tmp_path):
    """A MetaGraphDef whose stripped_op_list is empty: the outputs of Split, Unique, TopKV2,
    FusedBatchNormV3... come from TensorFlow's OpDefs shipped with savedmodel."""
    from google.protobuf import text_format

    from savedmodel.proto import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    text_format.Merge((GRAPHDEF / "multi_output.pbtxt").read_text(), meta.graph_def)
    path = tmp_path / "model.meta"
    path.write_bytes(meta.SerializeToString())
    golden = GOLDENS["tf1_import_options"]
    fetches = sorted(key.split("/", 1)[1] for key in golden if key.startswith("plain/"))
    with tf.Graph().as_default() as graph:
        tf.compat.v1.train.import_meta_graph(str(path))
        with tf.compat.v1.Session(graph=graph) as sess:
            values = sess.run(fetches, {"values:0": [5.0, 1.0, 3.0, 1.0, 5.0, 2.0]})
    for name, value in zip(fetches, values, strict=True):
        assert_matches_golden(value, golden["plain/" + name], name)
    assert len(graph.get_operation_by_name("bn").outputs) == 6
