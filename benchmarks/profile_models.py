"""Where savedmodel's time goes on the real models of bench_models.py, next to TensorFlow's total.

    python benchmarks/profile_models.py [--models resnet50,bert] [--batches 1,32] [--rounds 3]
        [--threads 1] [--no-tf] [--top 12]

Every step of the compiled plans is timed (exclusive of nested function calls) and grouped by op
(a fused chain counts as its producer, marked `+fused`); the time inside BLAS matrix products
(`np.matmul`, also Einsum's) is measured apart, with their FLOPs. All times are CPU
times (the machine may be shared), one thread each by default. Per model and batch it prints:
the call's median time, its BLAS GEMM time and GFLOP/s, the rest, TensorFlow's
median CPU time (its own worker process, timed alternately with ours as bench_models.py does), and
the ops taking the most time outside GEMM. A standalone sgemm of one of the model's largest
products gives OpenBLAS's speed here. When the GEMM time alone exceeds TensorFlow's total, NumPy
cannot reach TensorFlow on that model without a faster matrix product.
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_models  # noqa: E402

# CPU time of this thread: on a shared machine, wall time mostly measures the other jobs (with one
# BLAS thread, everything runs on this one).
CLOCK = time.thread_time


class Meter:
    """Per-op exclusive times of plan steps and the BLAS time inside them."""

    def __init__(self) -> None:
        # per op: total, GEMM, calls, system time (page faults of fresh memory, mostly), minor faults
        self.ops: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0.0, 0])
        self.gemm_time = 0.0
        self.gemm_flops = 0.0
        self.shapes: dict[tuple[int, int, int], float] = defaultdict(float)
        self._stack: list[list[float]] = []  # [time, GEMM time] of the nested steps of those being run

    def reset(self) -> None:
        self.ops.clear()
        self.shapes.clear()
        self.gemm_time = self.gemm_flops = 0.0

    def step(self, label: str, run: Any) -> Any:
        def timed(ctx: Any, *args: Any) -> Any:
            gemm0 = self.gemm_time
            self._stack.append([0.0, 0.0, 0.0, 0])
            usage = resource.getrusage(resource.RUSAGE_THREAD)
            start = CLOCK()
            try:
                return run(ctx, *args)
            finally:
                elapsed, gemm = CLOCK() - start, self.gemm_time - gemm0
                after = resource.getrusage(resource.RUSAGE_THREAD)
                system, faults = after.ru_stime - usage.ru_stime, after.ru_minflt - usage.ru_minflt
                child = self._stack.pop()
                if self._stack:
                    for k, value in enumerate((elapsed, gemm, system, faults)):
                        self._stack[-1][k] += value
                entry = self.ops[label]
                entry[0] += elapsed - child[0]
                entry[1] += gemm - child[1]
                entry[2] += 1
                entry[3] += system - child[2]
                entry[4] += faults - child[3]

        return timed

    def blas(self, fn: Any, shape_of: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = CLOCK()
            out = fn(*args, **kwargs)
            self.gemm_time += CLOCK() - start
            mkn = shape_of(args, out)
            if mkn:
                self.gemm_flops += 2.0 * mkn[0] * mkn[1] * mkn[2]
                self.shapes[mkn] += 1
            return out

        return timed


def _matmul_mkn(args: Any, out: Any) -> tuple[int, int, int] | None:
    a, b = args[0], args[1]
    if getattr(a, "ndim", 0) < 2 or getattr(b, "ndim", 0) < 2:
        return None
    batch = max(1, out.size // (out.shape[-1] * out.shape[-2]))
    return (batch * a.shape[-2], a.shape[-1], b.shape[-1])


def _label(step: Any) -> str:
    run = step.run
    if "_fused_step" in getattr(run, "__qualname__", ""):
        producer = inspect.getclosurevars(run).nonlocals.get("producer")
        return f"{producer.op}+fused" if producer is not None else f"{step.op}+fused"
    return step.op


def install(meter: Meter) -> None:
    """Time every plan step and every BLAS product from now on."""
    import numpy as np
    from numpy._core import einsumfunc

    from savedmodel.runtime import plan

    fuse_steps = plan.fuse_steps  # every straight plan's steps pass through it once, when compiled

    def timed_steps(*args: Any, **kwargs: Any) -> list[Any]:
        return [replace(step, run=meter.step(_label(step), step.run)) for step in fuse_steps(*args, **kwargs)]

    plan.fuse_steps = timed_steps
    np.matmul = einsumfunc.matmul = meter.blas(np.matmul, _matmul_mkn)


def sgemm_gflops(m: int, k: int, n: int, seconds: float = 0.5) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    np.matmul(a, b, out=out)
    calls, start = 0, CLOCK()
    while CLOCK() - start < seconds:
        np.matmul(a, b, out=out)
        calls += 1
    return 2.0 * m * k * n * calls / (CLOCK() - start) / 1e9


def profile_model(
    name: str, batches: list[int], rounds: int, with_tf: bool, threads: int | None, top: int
) -> None:
    import savedmodel

    directory = bench_models.model_dir(bench_models.DEFAULT_CACHE, name, 224)
    spec = __import__("json").loads((directory / "input.json").read_text())
    fn = savedmodel.load(str(directory / "saved_model")).signatures["serving_default"]
    key = fn.inputs[0].name
    tf_worker = bench_models.Worker("tf", directory, threads) if with_tf else None
    try:
        for batch in batches:
            args = {key: bench_models.make_input(spec, batch)}
            fn(**args)
            if tf_worker:
                tf_worker.ask(f"warm {batch} 1")
            ours, theirs, metered = [], [], []
            for _ in range(rounds):
                METER.reset()
                start = CLOCK()
                fn(**args)
                ours.append(CLOCK() - start)
                metered.append(
                    (ours[-1], METER.gemm_time, METER.gemm_flops, dict(METER.ops), dict(METER.shapes))
                )
                if tf_worker:
                    theirs.append(float(tf_worker.ask(f"time {batch} 1").split()[1]))  # CPU
            total, gemm, flops, ops, shapes = sorted(metered, key=lambda m: m[0])[len(metered) // 2]
            tf_ms = statistics.median(theirs) * 1e3 if theirs else float("nan")
            biggest = max(shapes, key=lambda s: s[0] * s[1] * s[2] * shapes[s])
            alone = sgemm_gflops(*biggest)
            print(
                f"{name} b{batch}: ours {total * 1e3:.1f} ms = GEMM {gemm * 1e3:.1f} ms"
                f" ({flops / 1e9:.2f} GFLOP, {flops / max(gemm, 1e-9) / 1e9:.0f} GFLOP/s)"
                f" + rest {(total - gemm) * 1e3:.1f} ms; TF {tf_ms:.1f} ms"
                f" ({flops / (tf_ms / 1e3) / 1e9 if theirs else float('nan'):.0f} GFLOP/s of our GEMM FLOPs);"
                f" sgemm alone {biggest} {alone:.0f} GFLOP/s",
                flush=True,
            )
            rows = sorted(ops.items(), key=lambda kv: -(kv[1][0] - kv[1][1]))
            system = sum(v[3] for v in ops.values())
            print(f"    (system time, page faults of fresh memory mostly: {system * 1e3:.1f} ms)")
            for op, (t, g, calls, sys_t, _faults) in rows[:top]:
                times = f"{t * 1e3:8.1f} ms  (GEMM {g * 1e3:7.1f}, rest {(t - g) * 1e3:7.1f}"
                times += f"; system {sys_t * 1e3:6.1f})"
                print(f"    {op:34s} {calls:5d} calls {times}")
    finally:
        if tf_worker:
            tf_worker.close()


METER = Meter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(bench_models.MODELS))
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--no-tf", action="store_true")
    args = parser.parse_args()
    if args.threads:
        for variable in bench_models.BLAS_THREAD_VARIABLES:
            os.environ[variable] = str(args.threads)
    with_tf = bench_models.ORACLE.exists() and not args.no_tf
    install(METER)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; threads {args.threads}")
    for name in args.models.split(","):
        profile_model(
            name, [int(b) for b in args.batches.split(",")], args.rounds, with_tf, args.threads, args.top
        )


if __name__ == "__main__":
    main()
