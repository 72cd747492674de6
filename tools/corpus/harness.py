"""Run corpus cases with savedmodel and compare with TensorFlow's outputs (no TensorFlow needed).

Used by tests/corpus/test_corpus.py and by `python -m tools.corpus.pass_rate`.

Comparison rules (the team's conventions):
- dtype and shape must equal TensorFlow's exactly;
- floating point: |actual - expected| <= atol + rtol * |expected| elementwise, NaNs where TF has NaNs;
  float32/float64 default rtol 1e-5, atol 1e-6; a case may loosen one output (or all, key "*")
  in case.json "tolerances", always with a "reason" (only where TF documents nondeterminism or
  the dtype's own precision bounds the result); "atol_scaled" sets atol to that fraction of the
  output's largest |value|;
- integers, bools and strings: exact (unless case.json gives an integer atol, with a reason).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from tools.corpus import npzio

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_DIR = ROOT / "tests" / "fixtures" / "corpus"
CACHE_DIR = Path(os.environ.get("SAVEDMODEL_CORPUS_CACHE", ROOT / ".cache" / "corpus"))

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6
FLOAT_KINDS = "fc"


@dataclass
class CorpusCase:
    name: str
    directory: Path
    meta: dict[str, Any]
    inputs: dict[str, dict[str, np.ndarray]]
    expected: dict[str, dict[str, np.ndarray]]

    @property
    def saved_model(self) -> Path:
        return self.directory / "saved_model"

    def tolerance(self, signature: str, output: str) -> dict[str, Any]:
        tolerances = self.meta.get("tolerances", {})
        return tolerances.get(f"{signature}/{output}") or tolerances.get("*") or {}


@dataclass
class Mismatch:
    output: str  # "signature/output"
    problem: str  # "values", "dtype", "shape", "missing", "unexpected"
    max_abs: float = 0.0
    max_rel: float = 0.0
    detail: str = ""

    def __str__(self) -> str:
        if self.problem == "values":
            return f"{self.output}: max abs {self.max_abs:.3g}, max rel {self.max_rel:.3g}{self.detail}"
        return f"{self.output}: {self.problem} {self.detail}".rstrip()


@dataclass
class Result:
    name: str
    status: str  # PASS, FAIL, UNSUPPORTED, ERROR
    detail: str = ""
    missing_ops: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    seconds: float = 0.0


def discover(*directories: Path) -> dict[str, Path]:
    """Case name -> case directory; a name found in an earlier directory wins."""
    found: dict[str, Path] = {}
    for directory in directories:
        if not directory.is_dir():
            continue
        for case_json in sorted(directory.glob("*/case.json")):
            found.setdefault(case_json.parent.name, case_json.parent)
    return found


def load_case(directory: Path) -> CorpusCase:
    meta = json.loads((directory / "case.json").read_text())
    inputs = npzio.split_by_signature(npzio.load(directory / "inputs.npz"))
    expected = npzio.split_by_signature(npzio.load(directory / "outputs.npz"))
    for signature in meta["signatures"]:
        inputs.setdefault(signature, {})
    return CorpusCase(meta["name"], directory, meta, inputs, expected)


def run_case(case: CorpusCase, loaded: Any = None) -> dict[str, dict[str, np.ndarray]]:
    """savedmodel's outputs for every signature (savedmodel errors propagate)."""
    import savedmodel

    if loaded is None:
        loaded = savedmodel.load(case.saved_model, case.meta.get("tags") or None)
    return {
        signature: {
            k: np.asarray(v) for k, v in loaded.signatures[signature](**case.inputs[signature]).items()
        }
        for signature in sorted(case.meta["signatures"])
    }


def _errors(actual: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    a = actual.astype(np.float64) if actual.dtype.kind != "c" else actual.astype(np.complex128)
    e = expected.astype(np.float64) if expected.dtype.kind != "c" else expected.astype(np.complex128)
    both_nan = np.isnan(a) & np.isnan(e)
    diff = np.where(both_nan, 0.0, np.abs(a - e))
    if diff.size == 0:
        return 0.0, 0.0
    max_abs = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        magnitude = np.abs(e)
        rel = np.where(
            magnitude == 0, np.where(diff == 0, 0.0, np.inf), diff / np.where(magnitude == 0, 1, magnitude)
        )
    max_rel = float(np.nanmax(np.where(np.isnan(rel), np.inf, rel)))
    return max_abs, max_rel


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind in FLOAT_KINDS or dtype == ml_dtypes.bfloat16


def compare_output(
    name: str, actual: np.ndarray, expected: np.ndarray, tolerance: dict[str, Any]
) -> Mismatch | None:
    if actual.dtype != expected.dtype:
        return Mismatch(name, "dtype", detail=f"{actual.dtype} != TensorFlow's {expected.dtype}")
    if actual.shape != expected.shape:
        return Mismatch(name, "shape", detail=f"{actual.shape} != TensorFlow's {expected.shape}")
    if expected.dtype == object:
        bad = [i for i, (a, e) in enumerate(zip(actual.ravel(), expected.ravel(), strict=True)) if a != e]
        if bad:
            i = bad[0]
            return Mismatch(
                name,
                "strings",
                detail=f"{len(bad)} of {expected.size} differ; first at flat index "
                f"{i}: {actual.ravel()[i]!r:.60} != {expected.ravel()[i]!r:.60}",
            )
        return None
    if _is_float(expected.dtype):
        rtol = float(tolerance.get("rtol", DEFAULT_RTOL))
        atol = float(tolerance.get("atol", DEFAULT_ATOL))
        if "atol_scaled" in tolerance and expected.size:  # a fraction of the output's largest magnitude
            atol = max(
                atol, float(tolerance["atol_scaled"]) * float(np.max(np.abs(expected.astype(np.float64))))
            )
    else:
        rtol, atol = 0.0, float(tolerance.get("atol", 0))
    a = actual.astype(np.float64) if expected.dtype.kind != "c" else actual
    e = expected.astype(np.float64) if expected.dtype.kind != "c" else expected
    if expected.dtype.kind in "iub" and atol == 0:
        ok = np.array_equal(actual, expected)
    else:
        ok = bool(np.all(np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)))
    if ok:
        return None
    max_abs, max_rel = _errors(actual, expected)
    bad = int(np.sum(~np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)))
    return Mismatch(
        name,
        "values",
        max_abs,
        max_rel,
        f" ({bad} of {expected.size} elements outside rtol={rtol:g} atol={atol:g})",
    )


def compare(case: CorpusCase, actual: dict[str, dict[str, np.ndarray]]) -> list[Mismatch]:
    mismatches: list[Mismatch] = []
    for signature, expected_outputs in sorted(case.expected.items()):
        got = actual.get(signature, {})
        for key, expected in sorted(expected_outputs.items()):
            name = f"{signature}/{key}"
            if key not in got:
                mismatches.append(Mismatch(name, "missing"))
                continue
            problem = compare_output(name, got[key], expected, case.tolerance(signature, key))
            if problem is not None:
                mismatches.append(problem)
        mismatches.extend(
            Mismatch(f"{signature}/{k}", "unexpected") for k in sorted(set(got) - set(expected_outputs))
        )
    return mismatches


def summarize(mismatches: list[Mismatch]) -> str:
    worst = max((m for m in mismatches if m.problem == "values"), key=lambda m: m.max_rel, default=None)
    first = worst or mismatches[0]
    more = f" (+{len(mismatches) - 1} more outputs)" if len(mismatches) > 1 else ""
    return f"{first}{more}"


def evaluate(directory: Path) -> Result:
    """Load, run and compare one case; never raises for savedmodel failures."""
    import time

    from savedmodel.errors import SavedModelError, UnsupportedOpError

    start = time.perf_counter()
    name = directory.name
    try:
        case = load_case(directory)
        actual = run_case(case)
    except UnsupportedOpError as exc:
        ops = sorted(exc.missing)
        return Result(name, "UNSUPPORTED", ", ".join(ops), ops, seconds=time.perf_counter() - start)
    except SavedModelError as exc:
        return Result(
            name, "ERROR", f"{type(exc).__name__}: {_short(exc)}", seconds=time.perf_counter() - start
        )
    except Exception as exc:  # untyped: a savedmodel bug by the project's rules
        return Result(
            name, "ERROR", f"untyped {type(exc).__name__}: {_short(exc)}", seconds=time.perf_counter() - start
        )
    mismatches = compare(case, actual)
    seconds = time.perf_counter() - start
    if mismatches:
        return Result(name, "FAIL", summarize(mismatches), mismatches=mismatches, seconds=seconds)
    return Result(name, "PASS", worst_float_error(case, actual), seconds=seconds)


def worst_float_error(case: CorpusCase, actual: dict[str, dict[str, np.ndarray]]) -> str:
    """ "max abs A, max rel R over N float outputs" for a passing case ("" when it has none)."""
    worst_abs = worst_rel = 0.0
    count = 0
    for signature, outputs in case.expected.items():
        for key, expected in outputs.items():
            if _is_float(expected.dtype) and expected.size:
                max_abs, max_rel = _errors(actual[signature][key], expected)
                worst_abs, worst_rel = max(worst_abs, max_abs), max(worst_rel, max_rel)
                count += 1
    if not count:
        return ""
    return f"max abs {finite(worst_abs)}, max rel {finite(worst_rel)} over {count} float outputs"


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finite(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.3g}"
