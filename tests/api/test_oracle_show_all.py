"""`saved_model_cli show --all` prints the same for what savedmodel.tf writes as for what TensorFlow
writes for the same program, and `savedmodel show --all` prints on our models what TF's does.

TensorFlow's side: the seed notebook's SavedModels (tests/fixtures/seed/<name>.show_all.txt, what
TF's saved_model_cli printed) and, for tests/fixtures/api/programs/*.txt, the same program run by
TF 2.21 (oracle venv, tools/oracle/check_written_models.py write-program). What may differ, and is
normalised (tests/api/written_programs.py):

- numeric suffixes of function names (`__inference_scale_87`);
- the op set line (a Python set: its order is the set's, not TF's), compared as a set;
- the order of the Options of one function: saved_model_cli sorts them by the names TF's loader
  gives the functions (`__inference_scale_106` < `__inference_scale_87`), i.e. by numeric
  suffixes as strings. The options are compared as a multiset (text renumbered), which still
  checks every signature and value.

`savedmodel show --all` on our models is compared with a fresh `saved_model_cli` process per model
(op set as a set, nothing else normalised). Also: tf-keras's `tf.keras.models.load_model` loads our
Dense models with our predictions, and our SavedObjectGraph and keras_metadata.pb equal what TF
and tf-keras write (suffixes and keras's shared_object_id aside).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from savedmodel import tf
from savedmodel.proto import saved_model_pb2
from tests import test_seed_notebook as notebook
from tests.api.written_programs import (
    KERAS,
    KERAS_INPUTS,
    PROGRAM_DIR,
    PROGRAMS,
    SUFFIX,
    keras_batch,
    keras_metadata,
    normalise_show,
    object_graph_text,
    ops_as_set,
    run_program,
)
from tests.conftest import ORACLE_PYTHON, ROOT, SEED, oracle_available

pytestmark = pytest.mark.oracle

CHECK = ROOT / "tools" / "oracle" / "check_written_models.py"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")

SEED_PROGRAMS = {
    "saved-model-builder": notebook.BUILDER,
    "simple-save": notebook.SIMPLE_SAVE,
    "tf2-save": notebook.TF2_SAVE,
    "estimator-model": notebook.ESTIMATOR,
    "keras-model": notebook.KERAS,
}

# --- helpers ------------------------------------------------------------------------------------


def _run_seed_program(program: str, cwd: Path) -> None:
    """A seed notebook cell (it writes relative to the working directory)."""
    namespace: dict = {"__name__": "__program__"}
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        exec(compile(notebook.SETUP, "<setup>", "exec"), namespace)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(program, "<program>", "exec"), namespace)
    finally:
        os.chdir(previous)


def _oracle(python: Path, jobs: list[list[str]], workdir: Path) -> list[dict]:
    jobs_file = workdir / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    proc = subprocess.run(
        [str(python), str(CHECK), "batch", str(jobs_file)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for job, result in zip(jobs, results, strict=True):
        assert "error" not in result, f"{job[0]} {job[1:]}: {result['error']}"
    return results


def _saved_model_cli_show_all(python: Path, directories: list[Path]) -> dict[str, str]:
    """TF's `saved_model_cli show --all`, one fresh process per model as a user runs it: the
    Options of a function come out sorted by the names TF's loader gives them, which depend on a
    process-wide counter, so only a fresh process shows what a user sees."""
    from concurrent.futures import ThreadPoolExecutor

    cli = python.parent / "saved_model_cli"

    def show(directory: Path) -> str:
        proc = subprocess.run(
            [str(cli), "show", "--all", "--dir", str(directory)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    with ThreadPoolExecutor(max_workers=3) as pool:
        texts = list(pool.map(show, directories))
    return {directory.name: text for directory, text in zip(directories, texts, strict=True)}


def _our_cli_show_all(directory: Path) -> str:
    from savedmodel.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["show", "--dir", str(directory), "--all"]) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Our SavedModels and TF's for every program, with what saved_model_cli printed for each."""
    if not oracle_available():
        pytest.skip("TensorFlow oracle venv not present (see tools/oracle/README.md)")
    oracle_python = ORACLE_PYTHON
    root = tmp_path_factory.mktemp("show_all")
    ours, theirs = root / "ours", root / "tf"
    ours.mkdir()
    theirs.mkdir()
    tf.keras.backend.clear_session()  # default layer names as in the notebook's fresh process
    for program in SEED_PROGRAMS.values():
        _run_seed_program(program, ours)
    predictions = {}
    for name in PROGRAMS:
        namespace = run_program(tf, name, ours / name)
        if name in KERAS:
            predictions[name] = namespace["model"].predict(keras_batch(name))
    jobs: list[list[str]] = [
        ["write-program", str(PROGRAM_DIR / f"{name}.txt"), str(theirs / name)] for name in PROGRAMS
    ]
    names = [*SEED_PROGRAMS, *PROGRAMS]
    jobs += [["show-all", str(ours / name)] for name in names]
    jobs += [["show-all", str(theirs / name)] for name in PROGRAMS]
    jobs += [["keras-predict", str(ours / name), json.dumps(KERAS_INPUTS[name])] for name in predictions]
    results = _oracle(oracle_python, jobs, root)[len(PROGRAMS) :]
    shown_ours = {name: r["text"] for name, r in zip(names, results, strict=False)}
    results = results[len(names) :]
    shown_tf = {name: results[i]["text"] for i, name in enumerate(PROGRAMS)}
    for name in SEED_PROGRAMS:
        shown_tf[name] = (SEED / f"{name}.show_all.txt").read_text()
    loaded = dict(zip(predictions, results[len(PROGRAMS) :], strict=True))
    return {
        "cli_ours": _saved_model_cli_show_all(oracle_python, [ours / name for name in names]),
        "ours": ours,
        "tf": theirs,
        "shown_ours": shown_ours,
        "shown_tf": shown_tf,
        "predictions": predictions,
        "tf_keras_predict": loaded,
    }


# --- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SEED_PROGRAMS, *PROGRAMS])
def test_saved_model_cli_show_all_matches_tensorflow(written: dict, name: str) -> None:
    ours, theirs = written["shown_ours"][name], written["shown_tf"][name]
    assert normalise_show(ours) == normalise_show(theirs)


@pytest.mark.parametrize("name", [*SEED_PROGRAMS, *PROGRAMS])
def test_our_show_all_prints_what_saved_model_cli_prints(written: dict, name: str) -> None:
    assert ops_as_set(_our_cli_show_all(written["ours"] / name)) == ops_as_set(written["cli_ours"][name])


@pytest.mark.parametrize("name", KERAS)
def test_tf_keras_load_model_predicts_what_we_predict(written: dict, name: str) -> None:
    result = written["tf_keras_predict"][name]
    assert result["dtype"] == "float32"
    np.testing.assert_allclose(result["value"], written["predictions"][name], rtol=1e-6)


def _object_graph(directory: Path) -> list[str]:
    proto = saved_model_pb2.SavedModel.FromString((directory / "saved_model.pb").read_bytes())
    return object_graph_text(proto.meta_graphs[0].object_graph_def)


@pytest.mark.parametrize("name", KERAS)
def test_keras_metadata_matches_tf_keras(written: dict, name: str) -> None:
    ours = keras_metadata((written["ours"] / name / "keras_metadata.pb").read_bytes())
    assert ours == keras_metadata((written["tf"] / name / "keras_metadata.pb").read_bytes())


@pytest.mark.parametrize("name", [*PROGRAMS, "tf2-save", "keras-model"])
def test_object_graph_matches_tensorflow(written: dict, name: str) -> None:
    """Every node, child and function signature, down to TF's save-time retrace of a `__call__`
    first traced inside the signature function, and tf-keras's per-layer `keras_api` functions."""
    theirs = written["tf"] / name if name in PROGRAMS else SEED / name
    assert _object_graph(written["ours"] / name) == _object_graph(theirs)


def test_module_library_matches_tensorflow(written: dict) -> None:
    name = "polymorphic-module"

    def library(directory: Path) -> list[str]:
        proto = saved_model_pb2.SavedModel.FromString((directory / "saved_model.pb").read_bytes())
        functions = proto.meta_graphs[0].graph_def.library.function
        return sorted(SUFFIX.sub(r"\1_N", f.signature.name) for f in functions)

    assert library(written["ours"] / name) == library(written["tf"] / name)


@pytest.mark.parametrize("name", KERAS)
def test_our_load_model_reads_what_tf_keras_wrote(written: dict, name: str) -> None:
    model = tf.keras.models.load_model(str(written["tf"] / name))
    np.testing.assert_allclose(model.predict(keras_batch(name)), written["predictions"][name], rtol=1e-6)
