"""Paths and golden-value helpers shared by the format tests."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FORMAT = FIXTURES / "format"
SEED = FIXTURES / "seed"


@cache
def golden() -> dict:
    return json.loads((FORMAT / "golden.json").read_text())


def bundle_prefixes() -> list[str]:
    return sorted(golden()["bundles"])


def saved_model_dirs() -> list[Path]:
    dirs = [p.parent for p in FORMAT.glob("*/saved_model.pb")] + [
        p.parent for p in SEED.glob("*/saved_model.pb")
    ]
    return sorted(dirs)


def matches_golden(value: np.ndarray, expected: dict) -> bool:
    """Exact comparison with a value described by make_format_fixtures.describe."""
    if list(value.shape) != expected["shape"]:
        return False
    if "strings_hex" in expected:
        return [bytes(v).hex() for v in value.reshape(-1)] == expected["strings_hex"]
    if value.dtype.name in ("int4", "uint4", "int2", "uint2"):
        # only the low bits are significant: compare values, not storage bytes
        np_dtype = value.dtype
        stored = np.frombuffer(bytes.fromhex(expected["hex"]), dtype=np_dtype).reshape(value.shape)
        return bool(np.array_equal(value.astype(np.int16), stored.astype(np.int16)))
    raw = np.ascontiguousarray(value).tobytes()
    if "hex" in expected:
        return raw.hex() == expected["hex"]
    return hashlib.sha256(raw).hexdigest() == expected["sha256"]


CACHE = FIXTURES.parents[1] / ".cache" / "fixtures" / "format"
ORACLE_SCRIPT = FIXTURES.parents[1] / "tools" / "oracle" / "make_format_fixtures.py"


def big_keras_model(oracle_python: Path) -> Path:
    """A tf-keras SavedModel with > 1 MB of weights, made on demand into the gitignored cache."""
    import os
    import subprocess

    target = CACHE / "keras-big"
    if not (target / "saved_model.pb").is_file() or not (CACHE / "keras-big.golden.json").is_file():
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", CUDA_VISIBLE_DEVICES="")
        subprocess.run(
            [str(oracle_python), str(ORACLE_SCRIPT), "--big-keras", str(target)],
            check=True,
            env=env,
            capture_output=True,
            timeout=600,
        )
    return target
