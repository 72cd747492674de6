"""Runtime speed: cold start and steady-state call latency, beside TensorFlow when the oracle venv exists.

    python benchmarks/bench_runtime.py [--repeat 3] [--calls 2000]

Cold start: a new process that imports the library, loads the seed tf2-save model
and runs its signature once (wall time of the whole process).
Steady state: median per-call latency of `signatures['serving_default']` after
warm-up, for the seed tf2-save model (scalar input) and the Keras MLP / CNN
fixtures at batch 1 and 32. Targets: cold start >= 10x faster than TF;
per call faster than TF's ~0.19 ms on small graphs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "fixtures" / "seed"
RUNTIME = ROOT / "tests" / "fixtures" / "runtime"
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"

COLD_OURS = "import savedmodel; m = savedmodel.load({path!r}); m.signatures['serving_default'](input=5.0)"
COLD_TF = (
    "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
    "import tensorflow as tf; m = tf.saved_model.load({path!r}); "
    "m.signatures['serving_default'](tf.constant(5.0))"
)

# (label, model dir, input shape or None for the scalar seed model)
CASES = [
    ("tf2-save scalar", SEED / "tf2-save", None),
    ("keras_mlp batch 1", RUNTIME / "keras_mlp", (1, 4)),
    ("keras_mlp batch 32", RUNTIME / "keras_mlp", (32, 4)),
    ("keras_cnn batch 1", RUNTIME / "keras_cnn", (1, 8, 8, 1)),
    ("keras_cnn batch 32", RUNTIME / "keras_cnn", (32, 8, 8, 1)),
]

# Runs in either interpreter: `backend` is 'ours' or 'tf'; prints JSON {label: seconds per call}.
STEADY = r"""
import json, sys, time, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
backend, calls, cases = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
if backend == "tf":
    import tensorflow as tf
    load = tf.saved_model.load
    wrap = tf.constant
else:
    import savedmodel
    load = savedmodel.load
    wrap = lambda a: a
results = {}
models = {}
for label, path, shape in cases:
    if path not in models:
        models[path] = load(path)
    fn = models[path].signatures["serving_default"]
    if shape is None:
        args = {"input": wrap(np.float32(5.0))}
    else:
        key = (list(fn.structured_input_signature[1]) if backend == "tf" else [s.name for s in fn.inputs])[0]
        args = {key: wrap(np.random.default_rng(0).standard_normal(shape).astype(np.float32))}
    for _ in range(50):
        fn(**args)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn(**args)
        samples.append((time.perf_counter() - start) / calls)
    results[label] = sorted(samples)[len(samples) // 2]
print(json.dumps(results))
"""


def cold_start(python: str, code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def steady(python: str, backend: str, calls: int) -> dict[str, float]:
    cases = [(label, str(path), shape) for label, path, shape in CASES if path.exists()]
    out = subprocess.run(
        [python, "-c", STEADY, backend, str(calls), json.dumps(cases)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold-start runs (median)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per steady-state sample")
    args = parser.parse_args()
    with_tf = ORACLE.exists()
    path = str(SEED / "tf2-save")
    ours_cold = cold_start(sys.executable, COLD_OURS.format(path=path), args.repeat)
    tf_cold = cold_start(str(ORACLE), COLD_TF.format(path=path), args.repeat) if with_tf else None
    print(f"cold start (tf2-save, new process to first result): savedmodel {ours_cold * 1e3:.0f} ms", end="")
    if tf_cold:
        print(f", TensorFlow {tf_cold * 1e3:.0f} ms, speed-up {tf_cold / ours_cold:.1f}x")
    else:
        print(" (TensorFlow oracle venv absent)")
    ours = steady(sys.executable, "ours", args.calls)
    theirs = steady(str(ORACLE), "tf", max(args.calls // 4, 100)) if with_tf else {}
    print(f"{'steady state per call':28s} {'savedmodel':>12s} {'TensorFlow':>12s} {'TF/ours':>8s}")
    for label, seconds in ours.items():
        tf_seconds = theirs.get(label)
        ratio = f"{tf_seconds / seconds:8.1f}" if tf_seconds else "       -"
        tf_text = f"{tf_seconds * 1e6:10.1f}us" if tf_seconds else "           -"
        print(f"{label:28s} {seconds * 1e6:10.1f}us {tf_text} {ratio}")


if __name__ == "__main__":
    main()
