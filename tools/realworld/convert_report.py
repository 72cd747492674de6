"""Convert every real-world TF1 SavedModel and session bundle to a TF2-style SavedModel and
replay TensorFlow's recorded runs on the result with savedmodel.

    python -m tools.realworld.convert_report [--json]

One line per (model, tag set): PASS (every recorded run matches), MISMATCH, BLOCKED (the
converter refuses: the report's first blocker; TF2 models are refused by design), ERROR
(conversion or loading failed). Session bundles' runs feed and fetch tensor names: they are
mapped to the signature that binds those tensors.

`--tensorflow` also loads every converted model that passes with TensorFlow 2.21 (the oracle
venv, tools/oracle/.venv): `tf.saved_model.load` and TF1's loader must both reproduce the
recorded outputs (column "tf").
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

import savedmodel
from savedmodel.convert import ConversionError, tf1_to_tf2
from savedmodel.errors import SavedModelError
from savedmodel.format import saved_model as sm
from tools.realworld import harness


def _bind_bundle_runs(case: harness.Case) -> None:
    """Give session-bundle runs (feeds/fetches) the signature that binds their tensors."""
    meta = sm.read_saved_model(case.directory).meta_graphs[0]
    for run in case.runs:
        if "tags" in run.meta:
            continue
        run.meta["tags"] = ["serve"]
        run.meta["signature"] = None
        for key, sig in meta.signature_def.items():
            inputs = {v.name: k for k, v in sig.inputs.items()}
            outputs = {v.name: k for k, v in sig.outputs.items()}
            if set(run.meta["feeds"]) == set(inputs) and set(run.meta["fetches"]) <= set(outputs):
                run.meta["signature"] = key
                run.inputs = {inputs[t]: v for t, v in run.inputs.items()}
                run.expected = {outputs[t]: v for t, v in run.expected.items()}
                break


def _same(actual: np.ndarray, expected: np.ndarray) -> bool:
    if actual.shape != expected.shape:
        return False
    if expected.dtype == object:
        return actual.tolist() == expected.tolist()
    return bool(np.allclose(actual, expected, rtol=1e-4, atol=1e-5, equal_nan=True))


def _replay(model: savedmodel.LoadedModel, runs: list[harness.Run]) -> list[str]:
    bad = []
    for run in runs:
        key = run.meta.get("signature")
        if key is None:
            bad.append(f"{run.id}: no signature binds its tensors")
            continue
        try:
            result = model.signatures[key](**run.inputs)
        except SavedModelError as exc:
            bad.append(f"{key}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        bad += [
            f"{key}/{k}" for k, v in run.expected.items() if not _same(np.asarray(result[k]), np.asarray(v))
        ]
    return bad


ROOT = Path(__file__).resolve().parents[2]
TF_CHECK = ROOT / "tests" / "convert" / "tf_check.py"
ORACLE_PYTHON = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"


def _encode(value: np.ndarray) -> dict:
    value = np.asarray(value)
    if value.dtype == object:
        flat = [base64.b64encode(v).decode() for v in value.ravel()]
        return {"dtype": "base64", "shape": list(value.shape), "value": flat}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def _tf_job(path: Path, runs: list[harness.Run]) -> tuple[dict, dict]:
    """tf_check.py's job for a converted model (each signature's first run), and what it expects."""
    cases: dict = {}
    expected: dict = {}
    for run in runs:
        key = run.meta.get("signature")
        if key is None or key in cases:
            continue
        cases[key] = {"inputs": {k: _encode(v) for k, v in run.inputs.items()}}
        expected[key] = {k: np.asarray(v) for k, v in run.expected.items()}
    return {"path": str(path), "cases": cases}, expected


def _tf_verdict(got: dict, expected: dict) -> str:
    if "error" in got:
        return "ERROR " + got["error"][:160]
    bad = []
    for loader in ("tf2", "tf1"):
        for key, outputs in expected.items():
            for name, value in outputs.items():
                actual = got[loader][key][name]
                if value.dtype == object:
                    same = [v.encode() for v in actual] == [bytes(v) for v in value.ravel()]
                else:
                    same = _same(np.asarray(actual, dtype=value.dtype), value.reshape(-1))
                if not same:
                    bad.append(f"{loader}:{key}/{name}")
    return "PASS" if not bad else "MISMATCH " + "; ".join(bad[:3])


def check_case(directory: Path, work: Path, jobs: dict | None = None) -> list[dict]:
    case = harness.load_case(directory)
    if case.meta["kind"] == "session_bundle":
        _bind_bundle_runs(case)
    out = []
    for tags in sorted({tuple(r.meta["tags"]) for r in case.runs}):
        runs = [r for r in case.runs if tuple(r.meta["tags"]) == tags and r.tf_ran]
        target = work / f"{case.name}-{'_'.join(tags)}"
        row = {"case": case.name, "tags": list(tags), "status": "PASS", "detail": ""}
        try:
            tf1_to_tf2(directory, target, tag_set=list(tags))
            bad = _replay(savedmodel.load(target), runs)
            if bad:
                row.update(status="MISMATCH", detail="; ".join(bad[:3]))
            elif jobs is not None:
                jobs[f"{case.name}[{','.join(tags)}]"] = _tf_job(target, runs)
        except ConversionError as exc:
            row.update(status="BLOCKED", detail=exc.report.blockers[0])
        except SavedModelError as exc:
            row.update(status="ERROR", detail=f"{type(exc).__name__}: {str(exc)[:160]}")
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tensorflow", action="store_true", help="also load the results with TensorFlow")
    args = parser.parse_args()
    rows = []
    jobs: dict | None = {} if args.tensorflow else None
    with tempfile.TemporaryDirectory() as work:
        for _name, directory in harness.discover().items():
            case = json.loads((directory / "case.json").read_text())
            if case["kind"] in ("saved_model", "session_bundle"):
                rows += check_case(directory, Path(work), jobs)
        if jobs:
            _run_tensorflow(jobs, rows, Path(work))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        tf = f" tf={row['tf']}" if "tf" in row else ""
        print(f"{row['status']:9} {row['case']} [{','.join(row['tags'])}]{tf} {row['detail']}")
    print(dict(Counter(r["status"] for r in rows)))
    if jobs:
        print("tensorflow:", dict(Counter(r["tf"].split()[0] for r in rows if "tf" in r)))


def _run_tensorflow(jobs: dict, rows: list[dict], work: Path) -> None:
    expected = {}
    for label, (job, wanted) in list(jobs.items()):
        jobs[label] = job
        expected[label] = wanted
    (work / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run(
        [str(ORACLE_PYTHON), str(TF_CHECK), str(work / "jobs.json")], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"TensorFlow check failed: {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for row in rows:
        label = f"{row['case']}[{','.join(row['tags'])}]"
        if label in results:
            row["tf"] = _tf_verdict(results[label], expected[label])


if __name__ == "__main__":
    main()
