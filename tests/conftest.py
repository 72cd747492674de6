"""Shared test helpers: fixture paths and the TensorFlow oracle (optional)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
SEED = FIXTURES / "seed"
ORACLE_PYTHON = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"


def oracle_available() -> bool:
    return ORACLE_PYTHON.exists() and not os.environ.get("SAVEDMODEL_NO_ORACLE")


@pytest.fixture
def oracle_python() -> Path:
    """The oracle venv's python (TensorFlow 2.21); skips the test when absent."""
    if not oracle_available():
        pytest.skip("TensorFlow oracle venv not present (see tools/oracle/README.md)")
    return ORACLE_PYTHON


def load_golden(path: Path) -> dict:
    return json.loads(path.read_text())


def golden_array(entry: dict) -> np.ndarray:
    """A value stored by the oracle scripts as {"dtype", "shape", "value"}."""
    value = entry["value"]
    if entry["dtype"] in ("object", "bytes", "string"):
        flat = [v.encode() if isinstance(v, str) else v for v in np.ravel(value)]
        return np.array(flat, dtype=object).reshape(entry["shape"])
    return np.array(value, dtype=entry["dtype"]).reshape(entry["shape"])


def assert_session_call_matches(sess, meta_graph, call: dict, what: str) -> None:
    """Run a golden signature call ({"signature", "inputs", "outputs"}) through a compat.v1
    `sess.run` by the signature's tensor names, and compare every output with its golden."""
    sig = meta_graph.signature_def[call["signature"]]
    feeds = {sig.inputs[k].name: golden_array(v) for k, v in call["inputs"].items()}
    keys = sorted(call["outputs"])
    values = sess.run([sig.outputs[k].name for k in keys], feed_dict=feeds)
    for key, value in zip(keys, values, strict=True):
        assert_matches_golden(value, call["outputs"][key], f"{what}: {key}")


def assert_matches_golden(actual, entry: dict, what: str) -> None:
    """Compare a result with an oracle-stored value: dtype and shape exactly, float32 at
    rtol 1e-5 / atol 1e-6, everything else exactly."""
    expected = golden_array(entry)
    # A Session hands 0-d strings back as bytes, as TensorFlow's does.
    actual = np.asarray(actual, dtype=object) if isinstance(actual, bytes) else np.asarray(actual)
    assert actual.shape == expected.shape, what
    if expected.dtype == object:
        assert actual.dtype == object, what
        assert actual.tolist() == expected.tolist(), what
        return
    assert actual.dtype == expected.dtype, what
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


@pytest.fixture
def seed_dir() -> Path:
    return SEED


def run_oracle_json(code: str, *args: str, timeout: float = 300) -> dict:
    """Run `code` with the oracle python (TensorFlow quiet) and return the JSON its last
    stdout line holds; a failure shows TensorFlow's stderr."""
    import subprocess

    proc = subprocess.run(
        [str(ORACLE_PYTHON), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
