"""Convert every real-world TF1 SavedModel and session bundle to a TF2-style SavedModel and
replay TensorFlow's recorded runs on the result with savedmodel.

    python -m tools.realworld.convert_report [--json]

One line per (model, tag set): PASS (every recorded run matches), MISMATCH, BLOCKED (the
converter refuses: the report's first blocker; TF2 models are refused by design), ERROR
(conversion or loading failed). Session bundles' runs feed and fetch tensor names: they are
mapped to the signature that binds those tensors.
"""

from __future__ import annotations

import argparse
import json
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


def check_case(directory: Path, work: Path) -> list[dict]:
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
        except ConversionError as exc:
            row.update(status="BLOCKED", detail=exc.report.blockers[0])
        except SavedModelError as exc:
            row.update(status="ERROR", detail=f"{type(exc).__name__}: {str(exc)[:160]}")
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for _name, directory in harness.discover().items():
            case = json.loads((directory / "case.json").read_text())
            if case["kind"] in ("saved_model", "session_bundle"):
                rows += check_case(directory, Path(work))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        print(f"{row['status']:9} {row['case']} [{','.join(row['tags'])}] {row['detail']}")
    print(dict(Counter(r["status"] for r in rows)))


if __name__ == "__main__":
    main()
