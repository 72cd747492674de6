"""savedmodel's float32 error on a deep Keras application, measured against TensorFlow's own spread,
over several random variants of the model (weights, BatchNormalization statistics, inputs).

    python -m tools.effnet_spread --variants 7                 # EfficientNetB0, 32x32, batch 2
    python -m tools.effnet_spread --variants 12 --app MobileNetV2 --size 32 --no-preprocessing

Per variant it prints the largest |logit|, savedmodel's max abs error against TensorFlow's golden
(oneDNN off, TensorFlow's reference Eigen CPU kernels), TensorFlow's own spread (max abs difference
between its oneDNN-on and -off outputs, TF_ENABLE_ONEDNN_OPTS=1 vs 0) and their ratio; then the
geometric mean of the ratios and how many variants lie outside TensorFlow's spread (ratio > 1).

Variant 0 is the corpus case (tools/corpus/generate.py: seed 1234, statistics from rng(5), images
from rng(0)); variants 1-6 take their statistics from rng(10 + k); from variant 7 on the weights
(seed 1234 + k) and the images (rng(k)) change too. The cases (SavedModel, inputs, TF's outputs with
oneDNN off and on) are generated once with the oracle venv (tools/oracle/.venv, ~1 minute each)
into the gitignored .cache/effnet_spread/ (--dir); later runs only rerun savedmodel.
--tf-gemm-order reruns them with float32 Conv2D/MatMul summed in TensorFlow's order
(tools/tf_gemm_order.py), to show what the remaining error is made of.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ORACLE_PYTHON = ROOT / "tools" / "oracle" / ".venv" / "bin" / "python"
DEFAULT_DIR = ROOT / ".cache" / "effnet_spread"
ONEDNN_OUTPUTS = "outputs_onednn.npz"
BASE_SEED = 1234  # tools/corpus/generate.py's SEED


def variant_seeds(k: int) -> dict[str, int]:
    """The random streams of variant k (see the module docstring)."""
    if k == 0:
        return {"seed": BASE_SEED, "calibration": 5, "images_offset": 0}
    if k < 7:
        return {"seed": BASE_SEED, "calibration": 10 + k, "images_offset": 0}
    return {"seed": BASE_SEED + k, "calibration": 10 + k, "images_offset": k}


def case_name(app: str, k: int) -> str:
    return f"{app.lower()}_v{k}"


# ------------------------------------------------------------------ TensorFlow side (oracle venv)


def _tf_generate(out: Path, app: str, size: int, preprocessing: bool, k: int) -> None:
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # the goldens: TensorFlow's Eigen kernels
    from tools.corpus import generate as g

    g._import_tf()
    build = g._app(app, size, preprocessing, **variant_seeds(k))
    description = f"keras.applications.{app}(weights=None, 10 logits, {size}px, batch 2), variant {k}"
    name = case_name(app, k)
    print(f"{name}: {g.generate(g.Case(name, 'apps', description, build), out, True)}")


def _tf_onednn(case_dir: Path) -> None:
    """TensorFlow's outputs with oneDNN on, loaded and run exactly as the goldens were."""
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    from tools.corpus import generate as g
    from tools.corpus import harness, npzio

    g._import_tf()
    case = harness.load_case(case_dir)
    outputs, _ = g.run_signatures(case.saved_model, case.meta["tags"], case.inputs)
    npzio.save(case_dir / ONEDNN_OUTPUTS, outputs)


def _oracle(*args: str) -> None:
    if not ORACLE_PYTHON.exists():
        raise SystemExit(f"the oracle venv is missing ({ORACLE_PYTHON}): it generates the cases")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    command = [str(ORACLE_PYTHON), "-m", "tools.effnet_spread", *args]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=sys.stderr)


def ensure_case(out: Path, app: str, size: int, preprocessing: bool, k: int) -> Path:
    case_dir = out / case_name(app, k)
    if not (case_dir / "case.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        pre = "--preprocessing" if preprocessing else "--no-preprocessing"
        _oracle("--tf-generate", str(k), "--dir", str(out), "--app", app, "--size", str(size), pre)
    if not (case_dir / ONEDNN_OUTPUTS).exists():
        _oracle("--tf-onednn", str(case_dir))
    return case_dir


# ------------------------------------------------------------------------------ savedmodel side


def measure(case_dir: Path) -> dict[str, float]:
    """Largest |golden|, savedmodel's and TF oneDNN's max abs error against the golden."""
    from tools.corpus import harness, npzio

    case = harness.load_case(case_dir)
    onednn = npzio.split_by_signature(npzio.load(case_dir / ONEDNN_OUTPUTS))
    start = time.perf_counter()
    ours = harness.run_case(case)
    seconds = time.perf_counter() - start
    scale = error = spread = 0.0
    for signature, outputs in case.expected.items():
        for key, golden in outputs.items():
            if golden.dtype.kind != "f":
                continue
            expected = golden.astype(np.float64)
            scale = max(scale, float(np.abs(expected).max()))
            error = max(error, float(np.abs(ours[signature][key].astype(np.float64) - expected).max()))
            spread = max(spread, float(np.abs(onednn[signature][key].astype(np.float64) - expected).max()))
    return {"scale": scale, "error": error, "spread": spread, "seconds": seconds}


def report(rows: list[tuple[int, dict[str, float]]]) -> str:
    header = f"{'variant':>7}  {'max|logit|':>10}  {'savedmodel err':>14}  {'TF spread':>10}  {'ratio':>6}"
    lines = [header + "  err/scale"]
    ratios = []
    for k, m in rows:
        ratio = m["error"] / m["spread"] if m["spread"] else (0.0 if m["error"] == 0 else math.inf)
        ratios.append(ratio)
        lines.append(
            f"{k:>7}  {m['scale']:>10.4g}  {m['error']:>14.4g}  {m['spread']:>10.4g}  {ratio:>6.2f}"
            f"  {m['error'] / m['scale']:.2e}"
        )
    positive = [r for r in ratios if r > 0]
    geomean = math.exp(sum(math.log(r) for r in positive) / len(positive)) if positive else 0.0
    outside = sum(r > 1 for r in ratios)
    lines.append(
        f"ratio (savedmodel error / TF oneDNN on-off spread): geometric mean {geomean:.2f}, "
        f"worst {max(ratios):.2f}, {outside} of {len(ratios)} variants above TensorFlow's spread"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--variants", type=int, default=7, help="how many variants (0..N-1)")
    parser.add_argument("--first", type=int, default=0, help="the first variant")
    parser.add_argument("--app", default="EfficientNetB0", help="a keras.applications factory")
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    parser.add_argument(
        "--preprocessing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the model rescales raw 0-255 pixels itself (EfficientNet, MobileNetV3); else inputs in [-1, 1]",
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the cases are cached")
    parser.add_argument(
        "--tf-gemm-order",
        action="store_true",
        help="what-if: float32 Conv2D/MatMul summed in TensorFlow's CPU order (tools/tf_gemm_order.py)",
    )
    parser.add_argument("--tf-generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tf-onednn", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_generate is not None:
        _tf_generate(args.dir, args.app, args.size, args.preprocessing, args.tf_generate)
        return 0
    if args.tf_onednn is not None:
        _tf_onednn(args.tf_onednn)
        return 0
    if args.tf_gemm_order:
        from tools import tf_gemm_order

        tf_gemm_order.install()
    rows = []
    for k in range(args.first, args.first + args.variants):
        case_dir = ensure_case(args.dir, args.app, args.size, args.preprocessing, k)
        rows.append((k, measure(case_dir)))
        m = rows[-1][1]
        print(f"variant {k}: err {m['error']:.4g}, spread {m['spread']:.4g}", file=sys.stderr)
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
