"""TensorFlow's guide "Using the SavedModel format" and the control-flow examples, kept as programs
(tests/fixtures/api/guides/<name>.txt, each naming what it changed from the guide), run with
`from savedmodel import tf`: what they print equals what they printed with TensorFlow 2.21
(<name>.stdout.txt, from `tools/oracle/check_written_models.py guide-goldens`).

<name>.load.txt loads the SavedModels <name>.txt wrote and calls them: run on what savedmodel wrote it
prints what it printed on what TensorFlow wrote, with savedmodel and (oracle) with TensorFlow.

One difference is left out of the comparison: how often a tf.function's Python body runs. TensorFlow
traces a function again when saving it (its "save context"); savedmodel saves the trace it has, so a
`print` in a traced body prints fewer times. The distinct lines printed are compared instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from savedmodel import tf
from tests.conftest import FIXTURES, ROOT

GUIDES = FIXTURES / "api" / "guides"
NAMES = sorted(p.stem for p in GUIDES.glob("*.txt") if p.name.count(".") == 1)
LOADABLE = [name for name in NAMES if (GUIDES / f"{name}.load.txt").exists()]
TRACING = "Tracing with "


def _run(program: Path, out: Path) -> str:
    """What `program` prints when run with savedmodel's tf, writing into `out`."""
    namespace = {"tf": tf, "OUT": str(out), "__name__": "__program__"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(program.read_text(), str(program), "exec"), namespace)
    return printed.getvalue()


def _comparable(text: str) -> tuple[list[str], set[str]]:
    lines = text.splitlines()
    return [line for line in lines if not line.startswith(TRACING)], {
        line for line in lines if line.startswith(TRACING)
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each program run once with savedmodel: (its output directory, what it printed)."""
    root = tmp_path_factory.mktemp("guides")
    return {name: (root / name, _run(GUIDES / f"{name}.txt", root / name)) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_program_prints_what_tensorflow_printed(written: dict, name: str) -> None:
    golden = (GUIDES / f"{name}.stdout.txt").read_text()
    assert _comparable(written[name][1]) == _comparable(golden)


@pytest.mark.parametrize("name", LOADABLE)
def test_what_savedmodel_wrote_loads_as_tensorflow_wrote_it(written: dict, name: str) -> None:
    printed = _run(GUIDES / f"{name}.load.txt", written[name][0])
    assert printed == (GUIDES / f"{name}.load.stdout.txt").read_text()


@pytest.mark.oracle
@pytest.mark.parametrize("name", LOADABLE)
def test_tensorflow_loads_what_savedmodel_wrote(oracle_python: Path, written: dict, name: str) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1")
    result = subprocess.run(
        [
            str(oracle_python),
            str(ROOT / "tools" / "oracle" / "check_written_models.py"),
            "print-program",
            str(GUIDES / f"{name}.load.txt"),
            str(written[name][0]),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout.splitlines()[-1])["stdout"]
    assert printed == (GUIDES / f"{name}.load.stdout.txt").read_text()


def test_control_flow_emits_tf2_functional_ops() -> None:
    """Inside a tf.function, tf.cond/tf.while_loop/tf.map_fn become If/While nodes (stateless where
    their functions are) whose branches and bodies are library functions of the trace."""

    class Control(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.v = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def f(self, x: object) -> object:
            a = tf.cond(x > 0, lambda: x * self.v, lambda: x - 1.0)
            b = tf.cond(x > 0, lambda: x, lambda: -x)
            _, c = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + x), [0, 0.0])
            d = tf.map_fn(lambda e: e * 2.0, tf.stack([x, x]))
            return a, b, c, d

    concrete = Control().f.get_concrete_function()
    ops = {op.type: op for op in concrete.graph.get_operations()}
    assert {"If", "StatelessIf", "StatelessWhile", "TensorListFromTensor", "TensorListStack"} <= set(ops)
    library = concrete.library()
    for op in concrete.graph.get_operations():
        for attr in ("then_branch", "else_branch", "cond", "body"):
            if attr in op.attrs:
                assert op.attrs[attr].func.name in library
    loop = ops["StatelessWhile"]
    assert [t.dtype.name for t in loop.inputs[:2]] == ["int32", "int32"]  # counter, maximum_iterations


def test_eager_control_flow_runs_directly() -> None:
    assert tf.cond(tf.constant(False), lambda: 1, lambda: 2) == 2
    assert tf.while_loop(lambda i: i < 5, lambda i: (i + 2,), [tf.constant(0)])[0].numpy() == 6
    assert tf.case([(tf.constant(False), lambda: 1)], default=lambda: 3) == 3
    assert tf.map_fn(lambda r: r * 10, tf.constant([1, 2])).numpy().tolist() == [10, 20]


def test_function_returning_none_saves_and_loads(tmp_path: Path) -> None:
    class Counter(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n = tf.Variable(0)

        @tf.function(input_signature=[])
        def bump(self) -> None:
            self.n.assign_add(1)

    counter = Counter()
    assert counter.bump() is None
    tf.saved_model.save(counter, str(tmp_path / "m"))
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    assert len(loaded.signatures) == 0  # a function returning nothing is no signature
    loaded.bump()
    loaded.bump()
    assert loaded.n.numpy() == 3
    loaded.n.assign_sub(3)
    assert loaded.n.numpy() == 0


def test_train_example_builders() -> None:
    example = tf.train.Example(
        features=tf.train.Features(
            feature={
                "age": tf.train.Feature(int64_list=tf.train.Int64List(value=[22, 24])),
                "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"])),
                "score": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5])),
            }
        )
    )
    parsed = tf.train.Example.FromString(example.SerializeToString())
    assert list(parsed.features.feature["age"].int64_list.value) == [22, 24]
    assert tf.compat.v1.train.Example is tf.train.Example


def _tf1_control_flow_model(path: Path) -> dict[str, float]:
    """A TF1-style graph with tf.cond and tf.while_loop, run in a Session and simple_saved."""
    tf1 = tf.compat.v1
    with tf.Graph().as_default() as graph:
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        v = tf.Variable(3.0, name="v")
        y = tf.cond(x > 0, lambda: x * v, lambda: -x)
        n = tf.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s * x), [0, 1.0])[1]
        assert {"If", "StatelessWhile"} <= {op.type for op in graph.get_operations()}
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            ours = {"y": float(sess.run(y, {x: 2.0})), "n": float(sess.run(n, {x: 2.0}))}
            assert float(sess.run(y, {x: -5.0})) == 5.0
            tf1.saved_model.simple_save(sess, str(path), {"x": x}, {"y": y, "n": n})
    return ours


def test_control_flow_in_tf1_graphs(tmp_path: Path) -> None:
    assert _tf1_control_flow_model(tmp_path / "m") == {"y": 6.0, "n": 16.0}  # what TF computes


@pytest.mark.oracle
def test_tensorflow_runs_tf1_control_flow_we_write(oracle_python: Path, tmp_path: Path) -> None:
    ours = _tf1_control_flow_model(tmp_path / "m")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [
            str(oracle_python),
            str(ROOT / "tools" / "oracle" / "check_written_models.py"),
            "load-tf1",
            str(tmp_path / "m"),
            "serving_default",
            json.dumps({"x": 2.0}),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.splitlines()[-1])
    assert {k: v["value"] for k, v in outputs.items()} == ours
