"""Real-model speed: savedmodel beside TensorFlow on Keras applications and a BERT-style encoder.

    python benchmarks/bench_models.py [--models resnet50,bert] [--batches 1,32] [--size 224]
        [--rounds 5] [--quick] [--cache DIR] [--profile MODEL]

Models (generated on first use by the TensorFlow oracle venv, random weights with fixed seeds,
cached in the gitignored `.cache/bench-models/`):
    resnet50, densenet121, efficientnet_b0, mobilenet_v2   keras.applications, weights=None, 10 classes,
                                                           BatchNorm statistics calibrated on a random batch
    bert                                                   4-layer encoder, hidden 256, 4 heads, FFN 1024,
                                                           sequence 128 (token ids in, pooled logits out)

For each model two worker processes run side by side: savedmodel (this interpreter) and
TensorFlow (the oracle venv). Both are timed in the same run, sample after sample alternately,
so a shared machine's load hits both alike. Reported per model and batch:
    cold     new process to the first result at batch 1 (import, load, first call)
    steady   median milliseconds per call over `--rounds` samples, after warm-up: wall time, and
             the process's CPU time (user + system, all its threads), steadier on a busy machine
    RSS      the worker's peak resident memory over the whole run (both batches)
    TF/ours  TensorFlow's time over ours: > 1 means savedmodel is faster
and the geometric mean of the steady-state ratios. `max rel` checks that the two agree on the
first output (largest difference over the largest magnitude, batch 1).

`--threads N` gives both sides N threads (OPENBLAS/OMP/MKL_NUM_THREADS for NumPy's BLAS,
TensorFlow's intra- and inter-op pools); on a machine shared with other work a multi-threaded BLAS
loses much of its time waiting for descheduled threads.
`--quick`: 96 px images, batch 1 and 8, 3 rounds (a minute or two). `--profile MODEL` runs
savedmodel alone under cProfile and prints the kernels by total time.
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

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
DEFAULT_CACHE = ROOT / ".cache" / "bench-models"
APPS = {
    "resnet50": "ResNet50",
    "densenet121": "DenseNet121",
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v2": "MobileNetV2",
}
# EfficientNet rescales its input itself (pixels 0..255); the others take [-1, 1].
PIXEL_RANGE = {"efficientnet_b0": (0.0, 255.0)}
BERT = {"layers": 4, "hidden": 256, "heads": 4, "ffn": 1024, "length": 128, "vocab": 1000}
MODELS = [*APPS, "bert"]
# --threads N: TensorFlow's intra- and inter-op pools, NumPy's BLAS pool (read when NumPy loads).
THREADS_VARIABLE = "BENCH_THREADS"
OURS_ROOT_VARIABLE = "BENCH_OURS_ROOT"  # --ours-root: the checkout whose savedmodel is measured
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
QUIET_TF = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


# --------------------------------------------------------------------------- generation (oracle venv)


def _generate_app(name: str, size: int, path: Path) -> dict[str, Any]:
    from tools.corpus import generate

    generate._import_tf()
    low, high = PIXEL_RANGE.get(name, (-1.0, 1.0))
    generate._app(APPS[name], size, name in PIXEL_RANGE)(path, path.parent)
    return {"dtype": "float32", "shape": [size, size, 3], "low": low, "high": high}


def _generate_bert(path: Path) -> dict[str, Any]:
    from tools.corpus import generate

    generate._import_tf()
    generate.seed_all()
    keras, layers, cfg = generate.keras, generate.keras.layers, BERT
    ids = keras.Input((cfg["length"],), dtype="int32", name="input_ids")
    x = layers.Embedding(cfg["vocab"], cfg["hidden"])(ids)
    x = x + layers.Embedding(cfg["length"], cfg["hidden"])(generate.tf.range(cfg["length"]))[None]
    x = layers.LayerNormalization(epsilon=1e-12)(x)
    for _ in range(cfg["layers"]):
        key_dim = cfg["hidden"] // cfg["heads"]
        attention = layers.MultiHeadAttention(cfg["heads"], key_dim)(x, x)
        x = layers.LayerNormalization(epsilon=1e-12)(x + attention)
        hidden = layers.Dense(cfg["ffn"], activation="gelu")(x)
        x = layers.LayerNormalization(epsilon=1e-12)(x + layers.Dense(cfg["hidden"])(hidden))
    pooled = layers.Dense(cfg["hidden"], activation="tanh")(x[:, 0])
    model = keras.Model(ids, {"logits": layers.Dense(2)(pooled), "sequence_output": x})
    generate.save_keras(model, path)
    return {"dtype": "int32", "shape": [cfg["length"]], "low": 1, "high": cfg["vocab"]}


def generate_model(name: str, size: int, out: Path) -> None:
    """Write `out/saved_model` and `out/input.json` (runs in the oracle venv)."""
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "saved_model"
    spec = _generate_bert(saved) if name == "bert" else _generate_app(name, size, saved)
    (out / "input.json").write_text(json.dumps(spec))


def model_dir_path(cache: Path, name: str, size: int) -> Path:
    return cache / (name if name == "bert" else f"{name}-{size}")


def model_dir(cache: Path, name: str, size: int) -> Path:
    """The generated model's directory, generating it first when missing."""
    out = model_dir_path(cache, name, size)
    if not (out / "input.json").exists():
        if not ORACLE.exists():
            sys.exit(f"{out} is missing and the TensorFlow oracle venv (tools/oracle/.venv) is absent")
        print(f"generating {out.name} with TensorFlow ...", file=sys.stderr, flush=True)
        command = [str(ORACLE), __file__, "--_generate", name, "--size", str(size), "--cache", str(cache)]
        subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, **QUIET_TF})
    return out


# --------------------------------------------------------------------------- worker (either interpreter)


def make_input(spec: dict[str, Any], batch: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(batch)
    shape = (batch, *spec["shape"])
    if spec["dtype"] == "int32":
        return rng.integers(spec["low"], spec["high"], shape).astype(np.int32)
    return rng.uniform(spec["low"], spec["high"], shape).astype(np.float32)


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

        fn = savedmodel.load(path).signatures["serving_default"]
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


def agreement(workers: dict[str, Worker]) -> float:
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        for name, w in workers.items():
            w.ask(f"save 1 {tmp}/{name}.npy")
            outs[name] = np.load(f"{tmp}/{name}.npy").astype(np.float64)
    ours, theirs = outs["ours"], outs["tf"]
    return float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30))


def measure(
    directory: Path, batches: list[int], rounds: int, with_tf: bool, threads: int | None
) -> dict[str, Any]:
    workers: dict[str, Worker] = {}
    try:
        workers["ours"] = Worker("ours", directory, threads)
        if with_tf:
            workers["tf"] = Worker("tf", directory, threads)
        result: dict[str, Any] = {"cold": {n: w.cold for n, w in workers.items()}, "steady": {}}
        for batch in batches:
            result["steady"][batch] = steady(workers, batch, rounds)
        result["rss"] = {n: float(w.ask("rss")) for n, w in workers.items()}
        result["max_rel"] = agreement(workers) if with_tf else None
        return result
    finally:
        for w in workers.values():
            w.close()


def _ratio(ours: float, theirs: float | None) -> str:
    """TensorFlow's time over ours (> 1: savedmodel is faster)."""
    return f"{theirs / ours:6.2f}" if theirs else "     -"


HEADER = (
    f"{'model':22s} {'batch':>5s} {'ours ms':>9s} {'TF ms':>9s} {'TF/ours':>7s}"
    f" {'CPU ours/TF ms':>17s} {'TF/ours':>7s}"
    f"   {'cold ours/TF s':>15s} {'RSS ours/TF MiB':>16s} {'max rel':>8s}"
)


def report(name: str, r: dict[str, Any], batches: list[int]) -> list[tuple[float, float]]:
    """Print one model's rows; return its TF/ours steady-state ratios (wall, CPU)."""
    ratios = []
    for i, batch in enumerate(batches):
        s = r["steady"][batch]
        ours, theirs = s["ours"], s.get("tf")
        line = f"{name:22s} {batch:5d} {ours['wall'] * 1e3:9.1f} "
        line += f"{theirs['wall'] * 1e3:9.1f} " if theirs else f"{'-':>9s} "
        line += f"{_ratio(ours['wall'], theirs and theirs['wall']):>7s}"
        cpu = f"{ours['cpu'] * 1e3:.0f}/" + (f"{theirs['cpu'] * 1e3:.0f}" if theirs else "-")
        line += f" {cpu:>17s} {_ratio(ours['cpu'], theirs and theirs['cpu']):>7s}"
        if theirs:
            ratios.append((theirs["wall"] / ours["wall"], theirs["cpu"] / ours["cpu"]))
        if i == 0:
            cold, rss = r["cold"], r["rss"]
            tf_cold = f"{cold['tf']:.1f}" if "tf" in cold else "-"
            tf_rss = f"{rss['tf']:.0f}" if "tf" in rss else "-"
            rel = f"{r['max_rel']:.1e}" if r["max_rel"] is not None else "-"
            line += f"   {cold['ours']:7.1f}/{tf_cold:<7s} {rss['ours']:8.0f}/{tf_rss:<7s} {rel:>8s}"
        print(line, flush=True)
    return ratios


def profile(directory: Path, batch: int, calls: int) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    import savedmodel

    spec = json.loads((directory / "input.json").read_text())
    fn = savedmodel.load(str(directory / "saved_model")).signatures["serving_default"]
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
    parser.add_argument("--no-tf", action="store_true", help="savedmodel only")
    parser.add_argument("--profile", metavar="MODEL", help="cProfile savedmodel on MODEL (first batch)")
    parser.add_argument("--_generate", help=argparse.SUPPRESS)
    parser.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._generate:
        sys.path.insert(0, str(ROOT))
        generate_model(args._generate, args.size, model_dir_path(args.cache, args._generate, args.size))
        return
    if args._worker:
        worker(args._worker[0], Path(args._worker[1]))
        return
    if args.quick:
        args.size, args.batches, args.rounds = 96, "1,8", 3
    batches = [int(b) for b in args.batches.split(",")]
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if args.profile:
        profile(model_dir(args.cache, args.profile, args.size), batches[0], 3)
        return
    with_tf = ORACLE.exists() and not args.no_tf
    if args.ours_root:
        os.environ[OURS_ROOT_VARIABLE] = str(args.ours_root.resolve())
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    threads = f"{args.threads} thread(s) each" if args.threads else "default threads"
    side = "TensorFlow side by side" if with_tf else "savedmodel only"
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {side}; {threads}")
    directories = {name: model_dir(args.cache, name, args.size) for name in names}
    print(HEADER, flush=True)
    ratios = []
    for name, directory in directories.items():
        label = name if name == "bert" else f"{name} {args.size}px"
        ratios += report(label, measure(directory, batches, args.rounds, with_tf, args.threads), batches)
    if ratios:
        wall, cpu = (math.exp(sum(math.log(r[k]) for r in ratios) / len(ratios)) for k in (0, 1))
        print(f"geomean TF/ours over {len(ratios)} steady-state cases: wall {wall:.2f}, CPU {cpu:.2f}")


if __name__ == "__main__":
    main()
