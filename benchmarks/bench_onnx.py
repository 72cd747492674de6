"""Steady-state speed of the onnxruntime backend beside TensorFlow, on full-size models.

    python benchmarks/bench_onnx.py [--models resnet50,bert_encoder] [--rounds 3] [--numpy] [--json]

Models (written on first use by benchmarks/bench_onnx_models.py in the oracle venv, into the
gitignored .cache/bench_onnx/): ResNet50, DenseNet121, EfficientNetB0, MobileNetV2 at 224x224x3 and a
BERT-style encoder (4 layers, width 256, 128 tokens). Each side runs in its own worker process
(TensorFlow 2.21 from tools/oracle/.venv with its defaults, oneDNN on; savedmodel with
backend="onnxruntime", or "numpy" with --numpy), both loaded once; measurements alternate between
the sides, and each is the median per-call time of `--calls` calls after two warm-up calls. The
ratio is TensorFlow's time over ours (> 1: we are faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
CACHE = ROOT / ".cache" / "bench_onnx"
MODELS = ["resnet50", "densenet121", "efficientnet_b0", "mobilenet_v2", "bert_encoder"]
BATCHES = (1, 32)

# Runs in either interpreter: argv[1] is 'tf', 'onnxruntime' or 'numpy'. Reads one JSON request a
# line ({"model", "batch", "calls"}) and answers {"seconds": median per call} (or {"error"}).
WORKER = r"""
import json, os, statistics, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
side = sys.argv[1]
if side == "tf":
    import tensorflow as tf
    def load(path):
        fn = tf.saved_model.load(path).signatures["serving_default"]
        (name, spec), = fn.structured_input_signature[1].items()
        return fn, name, list(spec.shape), spec.dtype.as_numpy_dtype
    wrap = tf.constant
else:
    import savedmodel
    def load(path):
        fn = savedmodel.load(path, backend=side).signatures["serving_default"]
        spec, = fn.inputs
        return fn, spec.name, list(spec.shape), spec.dtype
    wrap = lambda a: a
models = {}
for line in sys.stdin:
    request = json.loads(line)
    try:
        if request["model"] not in models:
            models[request["model"]] = load(request["model"])
        fn, name, shape, dtype = models[request["model"]]
        shape = [request["batch"]] + [d for d in shape[1:]]
        rng = np.random.default_rng(0)
        if np.dtype(dtype).kind == "f":
            value = rng.uniform(0, 1, shape).astype(dtype)
        else:
            value = rng.integers(1, 1000, shape).astype(dtype)
        value = wrap(value)
        for _ in range(2):
            fn(**{name: value})
        times = []
        for _ in range(request["calls"]):
            start = time.perf_counter()
            fn(**{name: value})
            times.append(time.perf_counter() - start)
        answer = {"seconds": statistics.median(times)}
    except Exception as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
"""


class Worker:
    def __init__(self, python: str, side: str) -> None:
        self.process = subprocess.Popen(
            [python, "-c", WORKER, side],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_environment(),
        )

    def measure(self, model: Path, batch: int, calls: int) -> float | None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"model": str(model), "batch": batch, "calls": calls}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or '{"error": "worker died"}')
        if "error" in answer:
            print(f"  {model.name} b{batch}: {answer['error']}", file=sys.stderr)
            return None
        return float(answer["seconds"])

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def _environment() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_USE_LEGACY_KERAS", "1")
    return env


def ensure_models(names: list[str]) -> None:
    missing = [n for n in names if not (CACHE / n / "saved_model.pb").exists()]
    if not missing:
        return
    if not ORACLE.exists():
        raise SystemExit(f"models {', '.join(missing)} are not in {CACHE} and tools/oracle/.venv is absent")
    print(f"writing {', '.join(missing)} into {CACHE} (TensorFlow, a few minutes)", flush=True)
    subprocess.run(
        [str(ORACLE), str(ROOT / "benchmarks" / "bench_onnx_models.py"), str(CACHE), *missing],
        check=True,
        env=_environment(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements per case")
    parser.add_argument("--calls", type=int, default=10, help="timed calls per measurement at batch 1")
    parser.add_argument("--numpy", action="store_true", help="time the NumPy backend instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    ensure_models(names)
    side = "numpy" if args.numpy else "onnxruntime"
    ours = Worker(sys.executable, side)
    theirs = Worker(str(ORACLE), "tf") if ORACLE.exists() else None
    rows: list[dict[str, Any]] = []
    try:
        for name in names:
            for batch in BATCHES:
                calls = args.calls if batch == 1 else max(args.calls // 4, 2)
                tf_times, our_times = [], []
                for _ in range(args.rounds):
                    if theirs is not None:
                        tf_times.append(theirs.measure(CACHE / name, batch, calls))
                    our_times.append(ours.measure(CACHE / name, batch, calls))
                row = _row(name, batch, side, tf_times, our_times)
                rows.append(row)
                if not args.json:
                    print(_line(row), flush=True)
    finally:
        ours.close()
        if theirs is not None:
            theirs.close()
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _row(name: str, batch: int, side: str, tf_times: list, our_times: list) -> dict[str, Any]:
    tf_s, our_s = _median(tf_times), _median(our_times)
    ratio = tf_s / our_s if tf_s and our_s else None
    return {
        "model": name,
        "batch": batch,
        "backend": side,
        "tf_ms": tf_s and tf_s * 1e3,
        "ours_ms": our_s and our_s * 1e3,
        "ratio": ratio,
    }


def _line(row: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return f"{value:9.1f} ms" if value is not None else "        -   "

    ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
    return (
        f"{row['model']:16s} b{row['batch']:<3d} TensorFlow {ms(row['tf_ms'])}   "
        f"savedmodel[{row['backend']}] {ms(row['ours_ms'])}   TF/ours {ratio}"
    )


if __name__ == "__main__":
    sys.exit(main())
