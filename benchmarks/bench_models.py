"""Real-model speed: savedmodel (NumPy and onnxruntime backends) beside TensorFlow, in one run.

    python benchmarks/bench_models.py [--models resnet50,bert] [--batches 1,32] [--size 224]
        [--backends numpy,onnxruntime] [--rounds 5] [--quick] [--cache DIR] [--profile MODEL]

Models: ResNet50, DenseNet121, EfficientNetB0, MobileNetV2 (224 px) and a BERT-style encoder,
generated on first use by the TensorFlow oracle venv into the gitignored `.cache/bench-models/`
(see benchmarks/real_models.py).

For each model one worker process per side runs: savedmodel on each of `--backends` (this
interpreter; `onnxruntime` needs the `onnx` extra) and TensorFlow (the oracle venv). All are timed
in the same run, sample after sample alternately, so a shared machine's load hits them alike.
Reported per model and batch:
    cold     new process to the first result at batch 1 (import, load, first call), seconds
    steady   median milliseconds per call over `--rounds` samples, after warm-up (wall time)
    CPU      the process's CPU time per call (user + system, all its threads), steadier on a busy machine
    RSS      the worker's peak resident memory over the whole run (both batches), MiB
    TF/x     TensorFlow's time over that backend's: > 1 means savedmodel is faster
and the geometric mean of the steady-state ratios per backend. `max rel` checks that each backend
agrees with TensorFlow on the first output (largest difference over the largest magnitude, batch 1).

`--threads N` gives every side N threads (OPENBLAS/OMP/MKL_NUM_THREADS for NumPy's BLAS,
TensorFlow's intra- and inter-op pools, SAVEDMODEL_ONNX_THREADS for onnxruntime); on a machine
shared with other work a multi-threaded BLAS loses much of its time waiting for descheduled threads.
`--quick`: 96 px images, batch 1 and 8, 3 rounds. `--profile MODEL` runs savedmodel (the first
backend) alone under cProfile and prints the kernels by total time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from real_models import DEFAULT_CACHE, LABELS, MODELS, ORACLE, QUIET_TF, ROOT, make_input, model_dir

BACKENDS = ("numpy", "onnxruntime")
# --threads N: TensorFlow's intra- and inter-op pools, NumPy's BLAS pool (read when NumPy loads).
THREADS_VARIABLE = "BENCH_THREADS"
OURS_ROOT_VARIABLE = "BENCH_OURS_ROOT"  # --ours-root: the checkout whose savedmodel is measured
BLAS_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "SAVEDMODEL_ONNX_THREADS",
)


# --------------------------------------------------------------------------- worker (either interpreter)


def worker(backend: str, directory: Path) -> None:
    """Load the model, run batch 1 once, then answer commands on stdin, one line each:
    `warm B K` (K untimed calls), `time B K` (seconds per call), `save B PATH` (first output as .npy),
    `rss` (peak RSS in MiB), `quit`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np

    spec = json.loads((directory / "input.json").read_text())
    path = str(directory / "saved_model")
    if backend == "tf":
        import tensorflow as tf

        if os.environ.get(THREADS_VARIABLE):
            threads = int(os.environ[THREADS_VARIABLE])
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        fn = tf.saved_model.load(path).signatures["serving_default"]
        key = list(fn.structured_input_signature[1])[0]
        wrap = tf.constant
    else:
        sys.path.insert(0, os.environ.get(OURS_ROOT_VARIABLE, str(ROOT)))
        import savedmodel

        fn = savedmodel.load(path, backend=backend).signatures["serving_default"]
        key = fn.inputs[0].name

        def wrap(a: Any) -> Any:
            return a

    inputs: dict[int, dict[str, Any]] = {}

    def args(batch: int) -> dict[str, Any]:
        if batch not in inputs:
            inputs[batch] = {key: wrap(make_input(spec, batch))}
        return inputs[batch]

    def first_output(batch: int) -> Any:
        result = fn(**args(batch))
        return np.asarray(result[sorted(result)[0]])

    fn(**args(1))
    print("ready", flush=True)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "warm":
            for _ in range(int(rest[1])):
                fn(**args(int(rest[0])))
            reply = "ok"
        elif command == "time":
            batch, calls = int(rest[0]), int(rest[1])
            call_args = args(batch)
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                fn(**call_args)
            reply = f"{(time.perf_counter() - start) / calls!r} {(time.process_time() - cpu) / calls!r}"
        elif command == "save":
            np.save(rest[1], first_output(int(rest[0])))
            reply = "ok"
        elif command == "rss":
            reply = repr(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        else:
            return
        print(reply, flush=True)


class Worker:
    """A worker process driven line by line; `cold` is spawn-to-first-result wall time."""

    def __init__(self, backend: str, directory: Path, threads: int | None) -> None:
        self.backend = backend
        python = str(ORACLE) if backend == "tf" else sys.executable
        env = {**os.environ, **QUIET_TF}
        if threads:
            env[THREADS_VARIABLE] = str(threads)
            env.update(dict.fromkeys(BLAS_THREAD_VARIABLES, str(threads)))
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            [python, __file__, "--_worker", backend, str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        if self._read() != "ready":
            raise RuntimeError(f"{backend} worker failed on {directory.name}")
        self.cold = time.perf_counter() - start

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if not reply:
            raise RuntimeError(f"worker died answering {line!r}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait()


# --------------------------------------------------------------------------- measuring


def steady(workers: dict[str, Worker], batch: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds per call of each worker, samples taken alternately."""
    calls = {}
    for name, w in workers.items():
        w.ask(f"warm {batch} 1")
        once = float(w.ask(f"time {batch} 1").split()[0])
        calls[name] = max(1, min(50, int(0.5 / max(once, 1e-6))))  # ~0.5 s per sample
    samples: dict[str, list[list[float]]] = {name: [] for name in workers}
    for _ in range(rounds):
        for name, w in workers.items():
            samples[name].append([float(v) for v in w.ask(f"time {batch} {calls[name]}").split()])
    return {
        name: {kind: statistics.median(v[k] for v in values) for k, kind in enumerate(("wall", "cpu"))}
        for name, values in samples.items()
    }


def agreement(workers: dict[str, Worker]) -> dict[str, float]:
    """Per backend: largest difference of its first output from TensorFlow's over TF's largest magnitude."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        for name, w in workers.items():
            w.ask(f"save 1 {tmp}/{name}.npy")
            outs[name] = np.load(f"{tmp}/{name}.npy").astype(np.float64)
    theirs = outs.pop("tf")
    scale = max(float(np.max(np.abs(theirs))), 1e-30)
    return {name: float(np.max(np.abs(ours - theirs))) / scale for name, ours in outs.items()}


def measure(
    directory: Path, batches: list[int], rounds: int, backends: list[str], with_tf: bool, threads: int | None
) -> dict[str, Any]:
    """One model: every backend's and TensorFlow's workers, started one after the other (cold
    start alone on the machine), then timed alternately."""
    workers: dict[str, Worker] = {}
    try:
        for backend in [*backends, *(["tf"] if with_tf else [])]:
            workers[backend] = Worker(backend, directory, threads)
        result: dict[str, Any] = {"cold": {n: w.cold for n, w in workers.items()}, "steady": {}}
        for batch in batches:
            result["steady"][batch] = steady(workers, batch, rounds)
        result["rss"] = {n: float(w.ask("rss")) for n, w in workers.items()}
        result["max_rel"] = agreement(workers) if with_tf else {}
        return result
    finally:
        for w in workers.values():
            w.close()


def _ratio(ours: float, theirs: float | None) -> str:
    """TensorFlow's time over ours (> 1: savedmodel is faster)."""
    return f"{theirs / ours:.2f}" if theirs else "-"


def header(backends: list[str]) -> str:
    columns = ["model", "batch", "TF ms"]
    for b in backends:
        columns += [f"{b} ms", f"TF/{b}", f"TF/{b} CPU"]
    columns += ["cold s " + "/".join([*backends, "TF"]), "peak RSS MiB " + "/".join([*backends, "TF"])]
    columns += [f"max rel {b}" for b in backends]
    return "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)


def report(name: str, r: dict[str, Any], batches: list[int], backends: list[str]) -> dict[str, list]:
    """Print one model's rows (a Markdown table); return per backend its TF/ours steady-state
    ratios (wall, CPU)."""
    ratios: dict[str, list] = {b: [] for b in backends}
    for i, batch in enumerate(batches):
        s = r["steady"][batch]
        theirs = s.get("tf")
        cells = [name if i == 0 else "", str(batch), f"{theirs['wall'] * 1e3:.1f}" if theirs else "-"]
        for b in backends:
            ours = s[b]
            cells += [
                f"{ours['wall'] * 1e3:.1f}",
                _ratio(ours["wall"], theirs and theirs["wall"]),
                _ratio(ours["cpu"], theirs and theirs["cpu"]),
            ]
            if theirs:
                ratios[b].append((theirs["wall"] / ours["wall"], theirs["cpu"] / ours["cpu"]))
        sides = [*backends, "tf"]
        if i == 0:
            cells.append(" / ".join(f"{r['cold'][n]:.1f}" if n in r["cold"] else "-" for n in sides))
            cells.append(" / ".join(f"{r['rss'][n]:.0f}" if n in r["rss"] else "-" for n in sides))
            cells += [f"{r['max_rel'][b]:.1e}" if b in r["max_rel"] else "-" for b in backends]
        else:
            cells += [""] * (2 + len(backends))
        print("| " + " | ".join(cells) + " |", flush=True)
    return ratios


def profile(directory: Path, batch: int, calls: int, backend: str) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    import savedmodel

    spec = json.loads((directory / "input.json").read_text())
    fn = savedmodel.load(str(directory / "saved_model"), backend=backend).signatures["serving_default"]
    args = {fn.inputs[0].name: make_input(spec, batch)}
    fn(**args)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn(**args)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    parser.add_argument("--size", type=int, default=224, help="image side of the Keras applications")
    parser.add_argument("--rounds", type=int, default=5, help="timed samples per model, batch and backend")
    parser.add_argument("--quick", action="store_true", help="96 px, batches 1 and 8, 3 rounds")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated models live")
    parser.add_argument(
        "--threads", type=int, help="threads of each side (BLAS pool, TensorFlow op pools); default: theirs"
    )
    parser.add_argument(
        "--ours-root", type=Path, help="measure the savedmodel package of another checkout (e.g. main)"
    )
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="savedmodel backends to time (numpy, onnxruntime)"
    )
    parser.add_argument("--no-tf", action="store_true", help="savedmodel only")
    parser.add_argument("--profile", metavar="MODEL", help="cProfile savedmodel on MODEL (first batch)")
    parser.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._worker:
        worker(args._worker[0], Path(args._worker[1]))
        return
    if args.quick:
        args.size, args.batches, args.rounds = 96, "1,8", 3
    batches = [int(b) for b in args.batches.split(",")]
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(names) - set(MODELS)) + sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(
            f"unknown {', '.join(unknown)}; models: {', '.join(MODELS)}; backends: {', '.join(BACKENDS)}"
        )
    if args.profile:
        profile(model_dir(args.cache, args.profile, args.size), batches[0], 3, backends[0])
        return
    with_tf = ORACLE.exists() and not args.no_tf
    if args.ours_root:
        os.environ[OURS_ROOT_VARIABLE] = str(args.ours_root.resolve())
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    threads = f"{args.threads} thread(s) each" if args.threads else "default threads"
    side = "TensorFlow side by side" if with_tf else "savedmodel only"
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()}; {side}; {threads}")
    directories = {name: model_dir(args.cache, name, args.size) for name in names}
    print(header(backends), flush=True)
    ratios: dict[str, list] = {b: [] for b in backends}
    for name, directory in directories.items():
        label = LABELS[name] + ("" if name == "bert" else f" {args.size}px")
        result = measure(directory, batches, args.rounds, backends, with_tf, args.threads)
        for backend, found in report(label, result, batches, backends).items():
            ratios[backend] += found
    for backend, found in ratios.items():
        if found:
            wall, cpu = (math.exp(sum(math.log(r[k]) for r in found) / len(found)) for k in (0, 1))
            print(
                f"geomean TF/{backend} over {len(found)} steady-state cases: wall {wall:.2f}, CPU {cpu:.2f}"
            )
    print(f"load average at the end {_load()}")


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
