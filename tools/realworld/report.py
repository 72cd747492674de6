"""Pass-rate report over the real-world models: `python -m tools.realworld.report [--verbose]`.

Prints one line per run that is not a PASS, then the counts by kind and by the year the model
was committed to its source repository. `--root DIR` reports on a collection kept outside the repository:
tools/realworld/wide_collection.json and wide2_collection.json name the 39 + 18 models of the wider
collections measured so far (repository, commit, path; fetch them into DIR/<folder>/, then make goldens with
`tools/oracle/make_realworld_goldens.py --root DIR`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tools.realworld import harness


def _model_status(statuses: list[str]) -> str:
    if not statuses:
        return "TensorFlow runs none"
    return "all pass" if all(s == "PASS" for s in statuses) else "some fail"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print passing runs too")
    parser.add_argument("--root", type=Path, default=harness.FIXTURES, help="folder of model folders")
    args = parser.parse_args(argv)
    by_year: dict[str, Counter] = defaultdict(Counter)
    by_kind: dict[str, Counter] = defaultdict(Counter)
    total: Counter = Counter()
    models: Counter = Counter()
    for directory in harness.discover(args.root).values():
        case = harness.load_case(directory)
        statuses = []
        for outcome in harness.evaluate(case):
            statuses.append(outcome.status)
            by_year[case.year][outcome.status] += 1
            by_kind[case.meta["kind"]][outcome.status] += 1
            total[outcome.status] += 1
            if args.verbose or outcome.status != "PASS":
                print(f"{outcome.status:8} {outcome.run.label}: {outcome.detail}")
        ran = [s for s in statuses if s != "TF_ERROR"]
        models[_model_status(ran)] += 1
    print()
    print("year  " + "  ".join(f"{s:>8}" for s in ("PASS", "FAIL", "ERROR", "TF_ERROR")))
    for key, counts in sorted(by_year.items()) + [("", Counter())] + sorted(by_kind.items()):
        if key:
            print(f"{key:14} " + "  ".join(f"{counts[s]:>8}" for s in ("PASS", "FAIL", "ERROR", "TF_ERROR")))
    compared = total["PASS"] + total["FAIL"] + total["ERROR"]
    print(
        f"\n{total['PASS']}/{compared} runs that TensorFlow executes match "
        f"({total['TF_ERROR']} runs TensorFlow itself fails); models: {dict(models)}"
    )
    return 0 if compared == total["PASS"] else 1


if __name__ == "__main__":
    sys.exit(main())
