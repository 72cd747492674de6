"""`savedmodel variables` against what TensorFlow's checkpoint reader reports.

Golden: tests/fixtures/show/variables.json (tools/oracle/make_show_fixtures.py):
for each model or checkpoint, tf.train.load_checkpoint's names, dtypes, shapes
and (numeric) values.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from savedmodel.cli.main import main
from savedmodel.format import dtypes
from savedmodel.inspect import OBJECT_GRAPH_KEY, describe_variables
from tests.conftest import FIXTURES

SHOW = FIXTURES / "show"
GOLDEN = json.loads((SHOW / "variables.json").read_text())


def _path(name: str) -> Path:
    return FIXTURES / name if name.startswith("seed/") else SHOW / name


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_matches_tensorflow_checkpoint_reader(name: str) -> None:
    want = GOLDEN[name]
    got = describe_variables(_path(name), include_object_graph=True)
    assert [(v.name, v.dtype, v.shape) for v in got] == [(w["name"], w["dtype"], w["shape"]) for w in want]
    for variable in got:
        if variable.dtype == "string":
            assert variable.bytes > 0
        else:
            itemsize = dtypes.as_numpy_dtype(dtypes.from_name(variable.dtype)).itemsize
            assert variable.bytes == int(np.prod(variable.shape, dtype=np.int64)) * itemsize


def test_object_graph_left_out_by_default() -> None:
    names = [v.name for v in describe_variables(SHOW / "poly")]
    assert OBJECT_GRAPH_KEY not in names
    assert names == [
        "count/.ATTRIBUTES/VARIABLE_VALUE",
        "label/.ATTRIBUTES/VARIABLE_VALUE",
        "matrix/.ATTRIBUTES/VARIABLE_VALUE",
        "v/.ATTRIBUTES/VARIABLE_VALUE",
    ]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "variables", "--dir", str(SHOW / "multi-tag"))
    assert rc == 0, err
    assert out == (
        "name   dtype    shape   bytes\n"
        "-----  -------  ------  -----\n"
        "bias   float64  []          8\n"
        "steps  int64    []          8\n"
        "w      float32  [3, 1]     12\n"
        "3 variables, 28 bytes\n"
    )


@pytest.mark.parametrize("suffix", ["", ".index"])
def test_checkpoint_prefix(suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(
        capsys, "variables", "--dir", str(FIXTURES / "seed" / f"multiply_values.ckpt{suffix}")
    )
    assert rc == 0
    assert out.splitlines()[2].split() == ["v", "float32", "[]", "4"]


def test_variables_dir_itself(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "variables", "--dir", str(SHOW / "vars-a" / "variables" / "variables"))
    assert rc == 0 and "3 variables, 32 bytes" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "variables", "--dir", str(SHOW / "poly"), "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["count"] == 4
    matrix = next(v for v in doc["variables"] if v["name"].startswith("matrix/"))
    assert matrix == {
        "name": "matrix/.ATTRIBUTES/VARIABLE_VALUE",
        "dtype": "float16",
        "shape": [2, 3],
        "bytes": 12,
    }
    assert doc["total_bytes"] == sum(v["bytes"] for v in doc["variables"])


def test_model_without_variables(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "variables", "--dir", str(FIXTURES / "seed" / "saved-model-builder"))
    assert rc == 0 and out == "No variables.\n"


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, err = run_cli(capsys, "variables", "--dir", str(tmp_path / "nothing"))
    assert rc == 1 and out == "" and len(err.strip().splitlines()) == 1 and "nothing" in err


def test_corrupt_index(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(SHOW / "vars-a", model)
    index = model / "variables" / "variables.index"
    index.write_bytes(index.read_bytes()[:-20])
    rc, _, err = run_cli(capsys, "variables", "--dir", str(model))
    assert rc == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
