"""Per-call time of a TF1 `sess.run` as the seed notebook does it (savedmodel.tf.compat.v1).

    python benchmarks/bench_tf1_session.py [--calls N]

Cases: the notebook's `add_two` graph (placeholder + 2), the multiply graph with a
resource variable, and a SavedModel loaded with `tf1.saved_model.load` fed by name.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from savedmodel import tf

tf1 = tf.compat.v1
SEED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seed"


def _per_call(fn, calls: int) -> float:
    fn()  # first call compiles
    best = float("inf")
    for _ in range(9):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def _report(label: str, seconds: float) -> None:
    print(f"{label:45s} {seconds * 1e6:8.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[])
        y = x + 2
        _report("add_two   sess.run(output, {input: 3.})", _per_call(lambda: sess.run(y, {x: 3.0}), calls))
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[], name="x")
        v = tf.Variable(3.0, name="v")
        y = tf.multiply(x, v, name="y")
        sess.run(v.initializer)
        _report(
            "multiply  sess.run(y, feed_dict={x: 5})", _per_call(lambda: sess.run(y, feed_dict={x: 5}), calls)
        )
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta = tf1.saved_model.load(sess, ["serve"], str(SEED / "saved-model-builder"))
        sig = meta.signature_def["serving_default"]
        out, inp = sig.outputs["output"].name, sig.inputs["input"].name
        _report(
            "load_tf1  sess.run(output_name, {name: 5.})", _per_call(lambda: sess.run(out, {inp: 5.0}), calls)
        )


if __name__ == "__main__":
    main()
