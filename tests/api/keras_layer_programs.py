"""Programs building Keras models with the supported layers (tests/fixtures/api/keras_layers), run
both with savedmodel.tf and with TensorFlow + tf-keras (tools/oracle/make_keras_layer_goldens.py);
each program sets known weights (fill_weights in _prelude.txt), defines INPUTS and saves to OUT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES

PROGRAM_DIR = FIXTURES / "api" / "keras_layers"
GOLDENS = PROGRAM_DIR / "goldens.json"
PRELUDE = (PROGRAM_DIR / "_prelude.txt").read_text()
PROGRAMS = {path.stem: PRELUDE + path.read_text() for path in sorted(PROGRAM_DIR.glob("[!_]*.txt"))}


def run_program(tf: Any, name: str, out: Path) -> dict[str, Any]:
    """Run program NAME with `tf` writing its model to OUT; returns its namespace (model, INPUTS)."""
    tf.keras.backend.clear_session()  # default layer names (the weights' seeds) as in a fresh process
    namespace: dict[str, Any] = {"tf": tf, "OUT": str(out), "__name__": "__program__"}
    exec(compile(PROGRAMS[name], str(PROGRAM_DIR / f"{name}.txt"), "exec"), namespace)
    return namespace
