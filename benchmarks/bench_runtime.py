"""Runtime speed: cold start and steady-state call latency, beside TensorFlow when the oracle venv exists.

    python benchmarks/bench_runtime.py [--repeat 3] [--calls 2000]

Cold start: a new process that imports the library, loads the seed tf2-save model
and runs its signature once (wall time of the whole process, and its CPU time, which
a busy machine disturbs less); also `savedmodel run` on examples/add_two, `savedmodel --help`,
and the floor every NumPy program pays (`python -c "import numpy"`). Bytecode is cached
as an installed package has it (one unmeasured run first; PYTHONDONTWRITEBYTECODE is
dropped), or every run would time the compilation of each module.
Steady state: median per-call latency of `signatures['serving_default']` after
warm-up, for the seed tf2-save model (scalar input) and the Keras MLP / CNN
fixtures at batch 1 and 32. Targets: cold start >= 10x faster than TF;
per call faster than TF's ~0.19 ms on small graphs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


ADD_TWO_RUN = [
    "-m", "savedmodel", "run", "--dir", "examples/add_two", "--tag_set", "serve",
    "--signature_def", "serving_default", "--input_exprs", "input=10",
]  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_start(python: str, args: list[str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `python ARGS` in a new process, bytecode cached."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([python, *args], check=True, capture_output=True, cwd=ROOT, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, start = _children_cpu(), time.perf_counter()
        subprocess.run([python, *args], check=True, capture_output=True, cwd=ROOT, env=env)
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def print_cold_starts(path: str, repeat: int, with_tf: bool) -> None:
    rows = [
        ("savedmodel.load + call (tf2-save)", sys.executable, ["-c", COLD_OURS.format(path=path)]),
        ("savedmodel run (add_two)", sys.executable, ADD_TWO_RUN),
        ("savedmodel --help", sys.executable, ["-m", "savedmodel", "--help"]),
        ("floor: python -c 'import numpy'", sys.executable, ["-c", "import numpy"]),
    ]
    if with_tf:
        rows.append(("TensorFlow load + call (tf2-save)", str(ORACLE), ["-c", COLD_TF.format(path=path)]))
    print(f"{'cold start, new process to result':36s} {'wall':>8s} {'cpu':>8s}")
    for label, python, args in rows:
        wall, cpu = cold_start(python, args, repeat)
        print(f"{label:36s} {wall * 1e3:6.0f}ms {cpu * 1e3:6.0f}ms")


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
    parser.add_argument("--repeat", type=int, default=5, help="cold-start runs (median)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per steady-state sample")
    args = parser.parse_args()
    with_tf = ORACLE.exists()
    path = str(SEED / "tf2-save")
    print_cold_starts(path, args.repeat, with_tf)
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
