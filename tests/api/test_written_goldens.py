"""What savedmodel.tf writes for tests/fixtures/api/programs/*.txt equals what TensorFlow writes for
the same programs (goldens from tools/oracle/check_written_models.py api-goldens; no TF needed):

- `savedmodel show --all` prints what TF's saved_model_cli printed on TF's SavedModel (normalised:
  function-name suffixes, op set as a set, a function's Options as a multiset; see written_programs);
- the SavedObjectGraph is TF's, node for node and function signature for signature;
- keras_metadata.pb is tf-keras's (less its shared_object_id bookkeeping).

The seed notebook's saving cells are checked the same way against tests/fixtures/seed.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from savedmodel import tf
from savedmodel.proto import saved_model_pb2, saved_object_graph_pb2
from tests import test_seed_notebook as notebook
from tests.api.written_programs import (
    API_FIXTURES,
    KERAS,
    PROGRAMS,
    keras_metadata,
    normalise_show,
    object_graph_text,
    run_program,
)
from tests.conftest import SEED

SEED_PROGRAMS = {
    "saved-model-builder": notebook.BUILDER,
    "simple-save": notebook.SIMPLE_SAVE,
    "tf2-save": notebook.TF2_SAVE,
    "estimator-model": notebook.ESTIMATOR,
    "keras-model": notebook.KERAS,
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("written")
    for name in PROGRAMS:
        run_program(tf, name, root / name)
    tf.keras.backend.clear_session()  # default layer names as in the notebook's fresh process
    namespace: dict = {"__name__": "__program__"}
    previous = os.getcwd()
    os.chdir(root)
    try:
        exec(compile(notebook.SETUP, "<setup>", "exec"), namespace)
        with contextlib.redirect_stdout(io.StringIO()):
            for program in SEED_PROGRAMS.values():
                exec(compile(program, "<seed cell>", "exec"), namespace)
    finally:
        os.chdir(previous)
    return root


def _golden(name: str, suffix: str) -> Path:
    return (SEED / f"{name}{suffix}") if name in SEED_PROGRAMS else API_FIXTURES / f"{name}{suffix}"


def _show_all(directory: Path) -> str:
    from savedmodel.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["show", "--dir", str(directory), "--all"]) == 0
    return out.getvalue()


@pytest.mark.parametrize("name", [*SEED_PROGRAMS, *PROGRAMS])
def test_show_all_matches_tensorflow(written: Path, name: str) -> None:
    golden = _golden(name, ".show_all.txt").read_text()
    assert normalise_show(_show_all(written / name)) == normalise_show(golden)


@pytest.mark.parametrize("name", [*PROGRAMS, "tf2-save", "keras-model"])
def test_object_graph_matches_tensorflow(written: Path, name: str) -> None:
    proto = saved_model_pb2.SavedModel.FromString((written / name / "saved_model.pb").read_bytes())
    if name in SEED_PROGRAMS:
        seed = saved_model_pb2.SavedModel.FromString((SEED / name / "saved_model.pb").read_bytes())
        golden = seed.meta_graphs[0].object_graph_def
    else:
        golden = saved_object_graph_pb2.SavedObjectGraph.FromString(
            (API_FIXTURES / f"{name}.object_graph.pb").read_bytes()
        )
    assert object_graph_text(proto.meta_graphs[0].object_graph_def) == object_graph_text(golden)


@pytest.mark.parametrize("name", [*KERAS, "keras-model"])
def test_keras_metadata_matches_tf_keras(written: Path, name: str) -> None:
    ours = keras_metadata((written / name / "keras_metadata.pb").read_bytes())
    golden = (
        SEED / name / "keras_metadata.pb" if name in SEED_PROGRAMS else _golden(name, ".keras_metadata.pb")
    )
    assert ours == keras_metadata(golden.read_bytes())
