"""Corpus pass rate: run every corpus model with savedmodel and compare with TensorFlow's outputs.

    python -m tools.corpus.pass_rate [DIR ...] [--only a,b] [--markdown FILE] [--timeout S]

DIRs default to tests/fixtures/corpus (committed subset) and .cache/corpus (the full corpus,
written by `tools/corpus/generate.py`). Prints one line per model:
    PASS | FAIL (max abs/rel error) | UNSUPPORTED (missing ops) | ERROR (typed error message)
then the pass rate, the missing ops ranked by how many models need them, and the numeric
mismatches. --markdown also writes that report as Markdown. Needs no TensorFlow.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections import Counter
from pathlib import Path
from types import FrameType

from tools.corpus import harness


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


def evaluate_with_timeout(directory: Path, seconds: int) -> harness.Result:
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        return harness.evaluate(directory)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        return harness.evaluate(directory)
    except _Timeout:
        return harness.Result(
            directory.name, "ERROR", f"timeout: still running after {seconds}s", seconds=float(seconds)
        )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def line(result: harness.Result) -> str:
    return f"{result.name:28s} {result.status:11s} {result.seconds:6.1f}s  {result.detail}".rstrip()


def report(results: list[harness.Result]) -> list[str]:
    """The Markdown report: table, pass rate, ranked missing ops, numeric mismatches, errors."""
    passed = sum(r.status == "PASS" for r in results)
    counts = Counter(r.status for r in results)
    out = [
        f"**Pass rate: {passed}/{len(results)} ({100 * passed / max(len(results), 1):.0f}%)** "
        + ", ".join(f"{k} {counts[k]}" for k in ("PASS", "FAIL", "UNSUPPORTED", "ERROR") if counts[k]),
        "",
        "| model | status | time | detail |",
        "|---|---|---|---|",
    ]
    for r in results:
        detail = r.detail.replace("|", "\\|")
        out.append(f"| {r.name} | {r.status} | {r.seconds:.1f}s | {detail} |")
    needed: Counter[str] = Counter()
    users: dict[str, list[str]] = {}
    for r in results:
        for op in r.missing_ops:
            needed[op] += 1
            users.setdefault(op, []).append(r.name)
    out += ["", "### Missing ops (op -> number of models needing it)", ""]
    if needed:
        out += [
            f"{i}. `{op}`: {n} ({', '.join(users[op])})"
            for i, (op, n) in enumerate(sorted(needed.items(), key=lambda kv: (-kv[1], kv[0])), 1)
        ]
    else:
        out.append("none")
    out += ["", "### Numeric and value mismatches (model, output, error)", ""]
    mismatches = [(r.name, m) for r in results for m in r.mismatches]
    if mismatches:
        out += ["| model | output | problem | max abs | max rel | detail |", "|---|---|---|---|---|---|"]
        for name, m in sorted(mismatches, key=lambda nm: (-nm[1].max_rel, nm[0], nm[1].output)):
            detail = m.detail.strip().replace("|", "\\|")
            out.append(
                f"| {name} | {m.output} | {m.problem} | {harness.finite(m.max_abs)} | "
                f"{harness.finite(m.max_rel)} | {detail} |"
            )
    else:
        out.append("none")
    errors = [r for r in results if r.status == "ERROR"]
    out += ["", "### Errors", ""]
    out += [f"- {r.name}: {r.detail}" for r in errors] or ["none"]
    return out


def expectations(results: list[harness.Result]) -> str:
    """The known-gap tables of tests/corpus/test_corpus.py for these results (paste to update)."""
    unsupported = {r.name: set(r.missing_ops) for r in results if r.status == "UNSUPPORTED"}
    mismatch = {r.name: r.detail for r in results if r.status == "FAIL"}
    error = {r.name: r.detail for r in results if r.status == "ERROR"}
    lines = ["EXPECTED_UNSUPPORTED: dict[str, set[str]] = {"]
    lines += [
        f"    {name!r}: {sorted(ops)!r},".replace("[", "{").replace("]", "}")
        for name, ops in unsupported.items()
    ]
    lines += ["}", "", "EXPECTED_MISMATCH: dict[str, str] = {"]
    lines += [f"    {name!r}: {detail!r}," for name, detail in mismatch.items()]
    lines += ["}", "", "EXPECTED_ERROR: dict[str, str] = {"]
    lines += [f"    {name!r}: {detail!r}," for name, detail in error.items()]
    return "\n".join([*lines, "}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dirs", nargs="*", type=Path, help="corpus directories (default: committed + cache)")
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown to this file")
    parser.add_argument(
        "--expectations",
        action="store_true",
        help="also print the known-gap tables for tests/corpus/test_corpus.py",
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds per model (0: none)")
    args = parser.parse_args(argv)
    dirs = args.dirs or [harness.COMMITTED_DIR, harness.CACHE_DIR]
    cases = harness.discover(*dirs)
    if args.only:
        wanted = args.only.split(",")
        unknown = [n for n in wanted if n not in cases]
        if unknown:
            parser.error(f"no such cases in {', '.join(map(str, dirs))}: {', '.join(unknown)}")
        cases = {n: cases[n] for n in wanted}
    if not cases:
        print(
            f"no corpus cases found in {', '.join(map(str, dirs))} "
            "(generate them: tools/oracle/.venv/bin/python -m tools.corpus.generate)",
            file=sys.stderr,
        )
        return 2
    results = []
    for directory in cases.values():
        result = evaluate_with_timeout(directory, args.timeout)
        results.append(result)
        print(line(result), flush=True)
    text = report(results)
    print()
    print("\n".join(text[:1] + text[text.index("### Missing ops (op -> number of models needing it)") :]))
    if args.expectations:
        print()
        print(expectations(results))
    if args.markdown:
        args.markdown.write_text("\n".join(text) + "\n")
    return 0 if all(r.status == "PASS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
