"""Cost of summing float32 Conv2D/MatMul in TensorFlow's order (savedmodel/ops/_gemm_order.py)
against NumPy's plain matrix products, on the models of benchmarks/bench_models.py.

    python benchmarks/bench_gemm_order.py [--models efficientnet_b0,resnet50] [--batches 1,32]
        [--rounds 5] [--size 224]

One process, one loaded model; the two modes run alternately, call by call, so that a shared
machine's load hits both alike. Prints the median wall and CPU milliseconds per call of each mode,
their ratio (ordered / plain), and the largest difference between the two outputs relative to the
output's scale. The models come from bench_models.py's cache (generated there on first use).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_models  # noqa: E402
import numpy as np  # noqa: E402

import savedmodel  # noqa: E402
from savedmodel.ops import _gemm_order  # noqa: E402

ORDERED = _gemm_order._machine


def _plain() -> None:
    return None


def run(fn, inputs: dict, ordered: bool) -> tuple[float, float, np.ndarray]:
    _gemm_order._machine = ORDERED if ordered else _plain
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(**inputs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, np.asarray(result[sorted(result)[0]])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="efficientnet_b0,resnet50")
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--cache", type=Path, default=bench_models.DEFAULT_CACHE)
    args = parser.parse_args()
    if ORDERED() is None:
        print("TensorFlow's order is not modelled on this machine: both modes are NumPy's")
    columns = ("plain ms", "ordered ms", "ratio", "cpu ratio", "max rel")
    print(f"{'model':>16} {'batch':>5} " + " ".join(f"{c:>10}" for c in columns))
    for name in args.models.split(","):
        directory = bench_models.model_dir(args.cache, name, args.size)
        spec = json.loads((directory / "input.json").read_text())
        fn = savedmodel.load(str(directory / "saved_model")).signatures["serving_default"]
        key = fn.inputs[0].name
        for batch in (int(b) for b in args.batches.split(",")):
            inputs = {key: bench_models.make_input(spec, batch)}
            run(fn, inputs, False), run(fn, inputs, True)  # warm-up
            samples: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            outputs = {}
            for _ in range(args.rounds):
                for ordered in (False, True):
                    wall, cpu, outputs[ordered] = run(fn, inputs, ordered)
                    samples[ordered].append((wall, cpu))
            plain, ours = (statistics.median(w for w, _ in samples[o]) * 1e3 for o in (False, True))
            plain_cpu, ours_cpu = (statistics.median(c for _, c in samples[o]) * 1e3 for o in (False, True))
            scale = float(np.abs(outputs[False]).max()) or 1.0
            rel = float(np.abs(outputs[True].astype(np.float64) - outputs[False]).max()) / scale
            print(
                f"{name:>16} {batch:>5} {plain:>10.1f} {ours:>10.1f} {ours / plain:>10.2f}"
                f" {ours_cpu / plain_cpu:>10.2f} {rel:>10.1e}",
                flush=True,
            )
    _gemm_order._machine = ORDERED
    return 0


if __name__ == "__main__":
    sys.exit(main())
