"""TensorFlow's own numeric spread: rerun corpus cases in TensorFlow with oneDNN ON and compare with
the goldens (written with oneDNN OFF, TensorFlow's reference Eigen kernels).

    tools/oracle/.venv/bin/python -m tools.corpus.tf_spread [--only a,b] [DIR]

TensorFlow documents that oneDNN "may give slightly different numerical results due to
floating-point round-off errors from different computation orders"; the difference between its two
CPU paths is a yardstick for savedmodel's own float32 mismatches on deep networks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.corpus import harness  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("dir", nargs="?", type=Path, default=harness.CACHE_DIR)
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args(argv)
    import tensorflow as tf

    cases = harness.discover(args.dir)
    names = args.only.split(",") if args.only else sorted(cases)
    for name in names:
        case = harness.load_case(cases[name])
        actual: dict = {}
        with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
            meta_graph = tf.compat.v1.saved_model.loader.load(sess, case.meta["tags"], str(case.saved_model))
            for key in sorted(case.meta["signatures"]):
                signature = meta_graph.signature_def[key]
                feeds = {signature.inputs[k].name: v for k, v in case.inputs[key].items()}
                actual[key] = sess.run({k: signature.outputs[k].name for k in signature.outputs}, feeds)
        mismatches = harness.compare(case, actual)
        print(f"{name:28s} {harness.worst_float_error(case, actual) or 'no float outputs'}", flush=True)
        for m in mismatches:
            print(f"{'':28s}   outside tolerance: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
