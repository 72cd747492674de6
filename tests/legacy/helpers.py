"""Shared pieces of the legacy-format tests: the goldens of tools/oracle/make_legacy_format_goldens.py."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REALWORLD = FIXTURES / "realworld"
LEGACY = FIXTURES / "legacy"


@cache
def goldens() -> dict:
    return json.loads((LEGACY / "goldens.json").read_text())


def decode(entry: dict) -> np.ndarray:
    """A value as the golden script stored it: bytes base64-encoded, everything else as lists."""
    if entry["dtype"] == "bytes_b64":
        flat = [base64.b64decode(v) for v in entry["value"]]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(entry["shape"])
    return np.array(entry["value"], dtype=entry["dtype"]).reshape(entry["shape"])


def assert_equal_golden(actual: object, entry: dict, what: str) -> None:
    """dtype and shape exactly; floats to 1e-6 relative, everything else exactly."""
    expected = decode(entry)
    actual = np.asarray(actual, dtype=object) if isinstance(actual, bytes) else np.asarray(actual)
    assert actual.shape == expected.shape, what
    assert actual.dtype == expected.dtype, f"{what}: {actual.dtype} != {expected.dtype}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=0, err_msg=what)
    else:
        assert actual.tolist() == expected.tolist(), what
