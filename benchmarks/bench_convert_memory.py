"""Peak memory of `savedmodel convert` (TF1 -> TF2, plain and --freeze) on a generated TF1 model.

    python benchmarks/bench_convert_memory.py [--size-mb 64] [--layers 8] [--tensorflow]

The model (written with savedmodel's own TF1 façade into a temporary directory, never
committed) is a stack of dense layers whose variables hold --size-mb MiB in all. Each
conversion runs in a fresh process and reports its wall time and peak RSS (VmHWM). With
--tensorflow, TensorFlow 2.21 (the oracle venv) loads the model with its TF1 loader and
writes it again with `tf.compat.v1.saved_model.Builder` in a fresh process, for scale
(what TF itself needs just to hold and write the model). Not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"

_MAKE = """
import sys, numpy as np
from savedmodel import tf
tf1 = tf.compat.v1
size_mb, layers, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
width = int((size_mb * (1 << 20) / 4 / layers) ** 0.5)
rng = np.random.default_rng(0)
with tf.Graph().as_default(), tf1.Session() as sess:
    x = tf1.placeholder(tf.float32, [None, width], name="x")
    h = x
    for i in range(layers):
        w = tf1.Variable(rng.normal(size=(width, width)).astype(np.float32) / width, name=f"w{i}")
        h = tf.matmul(h, w)
    sess.run(tf1.global_variables_initializer())
    tf1.saved_model.simple_save(sess, out, {"x": x}, {"y": h})
print(width)
"""

_CONVERT = """
import resource, sys, time
from savedmodel.convert import tf1_to_tf2
start = time.perf_counter()
tf1_to_tf2(sys.argv[1], sys.argv[2], freeze=sys.argv[3] == "1")
wall = time.perf_counter() - start
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(f"{wall:.2f} {int(hwm) / 1024:.0f}")
"""

_TF_RESAVE = """
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
tf1 = tf.compat.v1
start = time.perf_counter()
with tf.Graph().as_default(), tf1.Session() as sess:
    tf1.saved_model.load(sess, ["serve"], sys.argv[1])
    builder = tf1.saved_model.Builder(sys.argv[2])
    builder.add_meta_graph_and_variables(sess, ["serve"])
    builder.save()
wall = time.perf_counter() - start
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(f"{wall:.2f} {int(hwm) / 1024:.0f}")
"""


def _run(python: str, code: str, *args: str) -> str:
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    return proc.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--tensorflow", action="store_true", help="also time TF's own load + re-save")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "tf1"
        start = time.perf_counter()
        width = _run(sys.executable, _MAKE, str(args.size_mb), str(args.layers), str(source))
        made = time.perf_counter() - start
        print(f"model: {args.layers} layers of {width}x{width} float32, made in {made:.1f} s")
        for label, freeze in (("convert", "0"), ("convert --freeze", "1")):
            wall, peak = _run(
                sys.executable, _CONVERT, str(source), str(Path(tmp) / label.replace(" ", "")), freeze
            ).split()
            results[label] = {"seconds": float(wall), "peak_rss_mb": float(peak)}
        if args.tensorflow and ORACLE.exists():
            wall, peak = _run(str(ORACLE), _TF_RESAVE, str(source), str(Path(tmp) / "tf_resave")).split()
            results["tensorflow load + Builder.save"] = {"seconds": float(wall), "peak_rss_mb": float(peak)}
    print(json.dumps(results, indent=1))
    tf = results.get("tensorflow load + Builder.save")
    if tf:
        for label in ("convert", "convert --freeze"):
            ours = results[label]
            print(
                f"{label}: {tf['seconds'] / ours['seconds']:.1f}x faster, "
                f"{tf['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x less peak RSS than TensorFlow's load + save"
            )


if __name__ == "__main__":
    main()
