"""Run a fuzz target: `python fuzz/run.py TARGET --seconds N` (atheris) or `--deterministic N`.

With atheris installed (`pip install -e ".[fuzz]"`), the target runs under
libFuzzer for N seconds, seeded from the committed fixtures (written into a
corpus directory, `fuzz/corpus/TARGET` by default, which libFuzzer also grows).
A crash input is saved as `crash-<sha1>` in the current directory (libFuzzer's
behaviour); re-run it with `python fuzz/run.py TARGET --reproduce FILE`.

Without atheris, `--deterministic N` runs N seeded mutations of the fixtures
(what the CI smoke test does).

    python fuzz/run.py --list
    python fuzz/run.py saved_model --seconds 600
    python fuzz/run.py bundle --deterministic 2000
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.targets import TARGETS, Crash, available, deterministic_inputs, run_one  # noqa: E402


def _write_corpus(name: str, corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in TARGETS[name].seeds():
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)


def _import_target_modules(name: str) -> None:
    """Import what a body imports lazily, so that instrument_all() sees it."""
    import savedmodel.format.bundle  # noqa: F401
    import savedmodel.format.saved_model  # noqa: F401
    import savedmodel.loader  # noqa: F401
    import savedmodel.runtime.dataflow  # noqa: F401

    module = TARGETS[name].module
    if module:
        __import__(module)


def run_atheris(name: str, seconds: int, corpus: Path, extra: list[str], instrument: bool = True) -> int:
    import atheris

    target = TARGETS[name]
    _write_corpus(name, corpus)
    executions = 0

    def test_one_input(data: bytes) -> None:
        nonlocal executions
        executions += 1
        try:
            run_one(target, data)
        except Crash as crash:
            traceback.print_exception(crash.error, file=sys.stderr)
            raise

    _import_target_modules(name)
    if instrument:
        atheris.instrument_all()  # coverage feedback over every loaded module (slow to start)
    args = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        "-rss_limit_mb=4096",
        "-timeout=20",
        "-max_len=200000",
        *extra,
        str(corpus),
    ]
    atheris.Setup(args, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        print(f"{name}: {executions} executions", file=sys.stderr)
    return 0


def run_deterministic(name: str, count: int, timeout_s: float) -> int:
    target = TARGETS[name]
    started = time.perf_counter()
    crashes = 0
    inputs = deterministic_inputs(target, count)
    for data in inputs:
        try:
            run_one(target, data, timeout_s)
        except Crash as crash:
            crashes += 1
            path = Path(f"crash-{name}-{hashlib.sha1(data).hexdigest()[:12]}")
            path.write_bytes(data)
            print(f"CRASH {crash} -> {path}", file=sys.stderr)
            traceback.print_exception(crash.error, limit=-4, file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"{name}: {len(inputs)} executions, {crashes} crashes, {elapsed:.1f} s")
    return 1 if crashes else 0


def reproduce(name: str, path: Path) -> int:
    try:
        run_one(TARGETS[name], path.read_bytes(), 60)
    except Crash as crash:
        traceback.print_exception(crash.error)
        return 1
    print(f"{name}: {path} ran without an untyped error")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", nargs="?", choices=sorted(TARGETS))
    parser.add_argument("--list", action="store_true", help="list the targets")
    parser.add_argument("--seconds", type=int, default=60, help="atheris run time")
    parser.add_argument("--deterministic", type=int, metavar="N", help="N seeded mutations, no atheris")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-input limit (deterministic mode)")
    parser.add_argument("--corpus", type=Path, help="corpus directory (default fuzz/corpus/TARGET)")
    parser.add_argument(
        "--no-instrument",
        action="store_true",
        help="skip coverage instrumentation (starts at once; blind mutation only)",
    )
    parser.add_argument("--reproduce", type=Path, metavar="FILE", help="run one saved input")
    args, extra = parser.parse_known_args(argv)
    if args.list or not args.target:
        for name in sorted(TARGETS):
            print(name + ("" if available(name) else " (module missing)"))
        return 0
    if not available(args.target):
        print(f"{args.target}: the module it exercises is missing", file=sys.stderr)
        return 2
    if args.reproduce:
        return reproduce(args.target, args.reproduce)
    if args.deterministic is not None:
        return run_deterministic(args.target, args.deterministic, args.timeout)
    corpus = args.corpus or Path(__file__).resolve().parent / "corpus" / args.target
    return run_atheris(args.target, args.seconds, corpus, extra, not args.no_instrument)


if __name__ == "__main__":
    sys.exit(main())
