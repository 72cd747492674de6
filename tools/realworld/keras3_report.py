"""Convert every tf-keras SavedModel (a directory with keras_metadata.pb) under the given
roots to a Keras 3 .keras file, load it with Keras 3 and compare its outputs with tf-keras's
on the same random inputs (both from the oracle venv, tools/oracle/.venv).

    python -m tools.realworld.keras3_report ROOT... [--json]

One line per model: PASS (outputs within rtol 1e-5 / atol 1e-5), MISMATCH (the largest
difference), BLOCKED (the converter refuses: the layers it names), ERROR (conversion, loading
or running failed; tf-keras failing to load the original counts here too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from savedmodel.convert import ConversionError
from savedmodel.convert.keras3 import to_keras3
from savedmodel.errors import SavedModelError

ROOT = Path(__file__).resolve().parents[2]
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
CHECK = ROOT / "tools" / "oracle" / "keras3_check.py"


def _run_check(jobs: dict, workdir: Path, *flags: str) -> dict:
    job_file = workdir / f"jobs{'_'.join(flags)}.json"
    job_file.write_text(json.dumps(jobs))
    done = subprocess.run(
        [str(ORACLE), str(CHECK), *flags, str(job_file)], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{CHECK.name} failed: {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def _compare(ours: list[dict], theirs: list[dict]) -> tuple[bool, float]:
    if len(ours) != len(theirs):
        return False, float("inf")
    worst = 0.0
    ok = True
    for a, b in zip(ours, theirs, strict=True):
        x, y = np.asarray(a["value"], dtype=np.float64), np.asarray(b["value"], dtype=np.float64)
        if a["shape"] != b["shape"]:
            return False, float("inf")
        if x.size:
            worst = max(worst, float(np.max(np.abs(x - y))))
            ok = ok and bool(np.allclose(x, y, rtol=1e-5, atol=1e-5))
    return ok, worst


def survey(roots: list[Path]) -> list[dict]:
    models = sorted({p.parent for root in roots for p in root.rglob("keras_metadata.pb")})
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        jobs = {}
        for index, model in enumerate(models):
            row = {"model": str(model), "status": "", "detail": ""}
            rows.append(row)
            target = workdir / f"m{index}.keras"
            try:
                report = to_keras3(model, target)
                row["layers"] = len(report.layers)
                jobs[str(model)] = {"path": str(target), "inputs": None}
            except ConversionError as exc:
                row["status"], row["detail"] = "BLOCKED", exc.report.blockers[0]
            except SavedModelError as exc:
                row["status"], row["detail"] = "ERROR", str(exc)
        if not jobs:
            return rows
        keras3 = _run_check(jobs, workdir)
        reference = {
            name: {"path": name, "inputs": result["inputs"]}
            for name, result in keras3.items()
            if "inputs" in result
        }
        tf_keras = _run_check(reference, workdir, "--tf-keras") if reference else {}
        for row in rows:
            if row["status"]:
                continue
            ours, theirs = keras3.get(row["model"], {}), tf_keras.get(row["model"], {})
            if "error" in ours or "error" in theirs:
                which, failed = ("keras 3", ours) if "error" in ours else ("tf-keras", theirs)
                row["status"], row["detail"] = "ERROR", f"{which}: {failed['error'][:300]}"
                continue
            ok, worst = _compare(ours["outputs"], theirs["outputs"])
            row["status"] = "PASS" if ok else "MISMATCH"
            row["detail"] = f"max |diff| {worst:.3g}"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = survey(args.roots)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        print(f"{row['status']:9} {row['model']}  {row['detail']}")
    print(dict(Counter(row["status"] for row in rows)))


if __name__ == "__main__":
    main()
