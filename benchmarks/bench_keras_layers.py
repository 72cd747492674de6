"""Keras layer models (tests/fixtures/api/keras_layers): how long savedmodel.tf takes to build and
save one, and the per-call latency of its serving_default signature, beside TensorFlow + tf-keras
(building and saving the same program; running the signature of the SavedModel *we* wrote) when the
oracle venv exists. Runs alternate ours / TF per round.

    python benchmarks/bench_keras_layers.py [--rounds 2] [--calls 300] [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
DEFAULT = ["cnn_sequential", "text_functional"]

# Run in the oracle venv: write the program with TF (timed), then time calls of OUR SavedModel.
TF_SCRIPT = """
import json, os, sys, time, statistics
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"; os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np, tensorflow as tf
source, ours, out, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
ns = {"tf": tf, "OUT": out, "__name__": "__program__"}
exec(compile(open(source).read(), source, "exec"), ns)
write = time.perf_counter() - start
fn = tf.saved_model.load(ours).signatures["serving_default"]
specs = fn.structured_input_signature[1]
given = ns["INPUTS"] if isinstance(ns["INPUTS"], list) else [ns["INPUTS"]]
names = [t.name.split(":")[0] for t in ns["model"].inputs]
feeds = {k: tf.constant(x, dtype=specs[k].dtype) for k, x in zip(names, given)}
fn(**feeds)
times = []
for _ in range(calls):
    t = time.perf_counter(); fn(**feeds); times.append(time.perf_counter() - t)
print(json.dumps({"write": write, "call": statistics.median(times)}))
"""


def ours(name: str, directory: Path, calls: int) -> dict[str, float]:
    import savedmodel
    from savedmodel import tf
    from tests.api.keras_layer_programs import run_program

    start = time.perf_counter()
    namespace = run_program(tf, name, directory)
    write = time.perf_counter() - start
    signature = savedmodel.load(directory).signatures["serving_default"]
    given = namespace["INPUTS"] if isinstance(namespace["INPUTS"], list) else [namespace["INPUTS"]]
    names = [t.name for t in namespace["model"].inputs]
    feeds = dict(zip(names, given, strict=True))
    signature(**feeds)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        signature(**feeds)
        times.append(time.perf_counter() - t)
    return {"write": write, "call": statistics.median(times)}


def tensorflow(name: str, saved: Path, scratch: Path, calls: int) -> dict[str, float]:
    from tests.api.keras_layer_programs import PROGRAMS

    source = scratch / f"{name}.py"
    source.write_text(PROGRAMS[name])
    proc = subprocess.run(
        [str(ORACLE), "-c", TF_SCRIPT, str(source), str(saved), str(scratch / f"tf-{name}"), str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for name in args.names:
            results: dict[str, list[dict[str, float]]] = {"ours": [], "tf": []}
            for round_ in range(args.rounds):
                saved = scratch / f"ours-{name}-{round_}"
                results["ours"].append(ours(name, saved, args.calls))
                if ORACLE.exists():
                    results["tf"].append(tensorflow(name, saved, scratch, args.calls))
            for what in ("write", "call"):
                mine = min(r[what] for r in results["ours"])
                line = f"{name:18s} {what:5s} ours {mine * 1e3:9.2f} ms"
                if results["tf"]:
                    theirs = min(r[what] for r in results["tf"])
                    line += f"   TensorFlow {theirs * 1e3:9.2f} ms   TF/ours {theirs / mine:5.2f}x"
                print(line)


if __name__ == "__main__":
    main()
