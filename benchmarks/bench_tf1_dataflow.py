"""Per-call time of TF1 control-flow SavedModels (the dataflow executor) against TensorFlow.

    python benchmarks/bench_tf1_dataflow.py [MODEL_DIR ...] [--calls 300] [--repeats 5]

Each model's `serving_default` signature is called with inputs of ones (unknown
dimensions = 2): 20 warm-up calls, then `--repeats` timed runs of `--calls` calls;
the best run is reported (the machine may be shared). Defaults: the tf1_while and
tf1_rnn (dynamic_rnn LSTM) fixtures. When the TensorFlow oracle venv exists
(tools/oracle/.venv) the same measurement runs there in a subprocess and the
ratio savedmodel / TensorFlow is printed (<= 1.0 means at least as fast).
Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = [
    ROOT / "tests" / "fixtures" / "runtime" / "tf1_while",
    ROOT / "tests" / "fixtures" / "runtime" / "tf1_rnn",
]
ORACLE_PYTHON = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"


def _signature(path: str, engine: str) -> tuple:
    """The serving_default signature and its feeds of ones."""
    if engine == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        sig = tf.saved_model.load(path).signatures["serving_default"]
        specs = sig.structured_input_signature[1]
        feeds = {}
        for key, spec in specs.items():
            shape = [2 if d is None or d < 0 else d for d in spec.shape.as_list()]
            feeds[key] = tf.constant(np.ones(shape, dtype=spec.dtype.as_numpy_dtype))
        return sig, feeds
    import savedmodel

    sig = savedmodel.load(path).signatures["serving_default"]
    feeds = {}
    for spec in sig.inputs:
        shape = [2 if d is None or d < 0 else d for d in spec.shape]
        feeds[spec.name] = np.ones(shape, dtype=spec.dtype)
    return sig, feeds


def measure(path: str, engine: str, calls: int, repeats: int) -> float:
    """Best-of-`repeats` seconds per call."""
    sig, feeds = _signature(path, engine)
    for _ in range(20):
        sig(**feeds)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            sig(**feeds)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def _measure_tf(path: str, calls: int, repeats: int) -> float | None:
    if not ORACLE_PYTHON.exists():
        return None
    command = [
        str(ORACLE_PYTHON),
        __file__,
        "--worker",
        "tf",
        "--calls",
        str(calls),
        "--repeats",
        str(repeats),
    ]
    done = subprocess.run([*command, path], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  (TensorFlow run failed: {done.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=[str(p) for p in DEFAULT_MODELS])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", choices=["tf", "sm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        seconds = measure(args.models[0], args.worker, args.calls, args.repeats)
        print(json.dumps({"seconds": seconds}))
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'model':<12} {'savedmodel':>12} {'tensorflow':>12} {'ratio':>7}")
    for path in args.models:
        ours = measure(path, "sm", args.calls, args.repeats)
        theirs = _measure_tf(path, args.calls, args.repeats)
        name = Path(path).name
        if theirs is None:
            print(f"{name:<12} {ours * 1e6:>10.0f}us {'-':>12} {'-':>7}")
        else:
            print(f"{name:<12} {ours * 1e6:>10.0f}us {theirs * 1e6:>10.0f}us {ours / theirs:>7.2f}")


if __name__ == "__main__":
    main()
