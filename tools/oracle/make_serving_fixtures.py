"""Write tests/fixtures/serving: two versions of a small TF1 SavedModel for `savedmodel serve`,
plus goldens computed by TensorFlow with TF Serving's request semantics.

Run with the oracle venv:

    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_serving_fixtures.py

Models (version 1: n = 2, version 2: n = 3). `half_plus_n`, predict signatures:
  serving_default   predict   x: float [-1]          -> y = 0.5 * x + n
  multi             predict   a: float [-1, 2], s: string [-1]
                                                     -> sum = reduce_sum(a, 1), doubled = int32(a * 2),
                                                        s_bytes = s (a DT_STRING output ending in _bytes)
`examples_n`, the same serving_default plus tf.Example signatures (kept apart so
the predict model needs no ParseExampleV2 kernel):
  classify_x_to_y   classify  tf.Example "x" (float [1])      -> scores [-1, 1] = 0.5 * x + n
  classify_labels   classify  tf.Example "x"                  -> classes [-1, 2] ("pos", "neg"),
                                                                 scores [-1, 2] = (x, -x)
  regress_x_to_y    regress   tf.Example "x"                  -> outputs [-1, 1] = 0.5 * x + n
  regress_x_plus_k  regress   tf.Example "x", "k" (default 0) -> outputs [-1] = x + k
TF Serving feeds classify/regress signatures the serialized examples, each
prefixed by the serialized "context" example (so the example's features win);
goldens.json holds, per case, the REST body and the values TF computes for it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "tests" / "fixtures" / "serving"


def build(path: Path, n: float, with_examples: bool) -> dict:
    shutil.rmtree(path, ignore_errors=True)
    graph = tf.Graph()
    with graph.as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[None], name="x")
        y = tf.add(tf.multiply(x, 0.5), n, name="y")

        a = tf1.placeholder(tf.float32, shape=[None, 2], name="a")
        s = tf1.placeholder(tf.string, shape=[None], name="s")
        total = tf.reduce_sum(a, axis=1, name="sum")
        doubled = tf.cast(a * 2.0, tf.int32, name="doubled")
        s_out = tf.identity(s, name="s_out")

        tensors = {}
        example_signatures = {}
        if with_examples:
            serialized = tf1.placeholder(tf.string, shape=[None], name="tf_example")
            features = tf1.io.parse_example(
                serialized,
                {
                    "x": tf1.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
                    "k": tf1.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
                },
            )
            fx = features["x"]
            half = tf.add(tf.multiply(fx, 0.5), n, name="half")
            pair_scores = tf.concat([fx, -fx], axis=1, name="pair_scores")
            labels = tf.constant([["pos", "neg"]])
            pair_classes = tf.tile(labels, tf.stack([tf.shape(fx)[0], 1]), name="pair_classes")
            x_plus_k = tf.reshape(fx + features["k"], [-1], name="x_plus_k")

        predict_signatures = {
            "serving_default": tf1.saved_model.predict_signature_def(inputs={"x": x}, outputs={"y": y}),
            "multi": tf1.saved_model.predict_signature_def(
                inputs={"a": a, "s": s}, outputs={"sum": total, "doubled": doubled, "s_bytes": s_out}
            ),
        }
        if with_examples:
            example_signatures = {
                "serving_default": predict_signatures["serving_default"],
                "classify_x_to_y": tf1.saved_model.classification_signature_def(serialized, None, half),
                "classify_labels": tf1.saved_model.classification_signature_def(
                    serialized, pair_classes, pair_scores
                ),
                "regress_x_to_y": tf1.saved_model.regression_signature_def(serialized, half),
                "regress_x_plus_k": tf1.saved_model.regression_signature_def(serialized, x_plus_k),
            }
            tensors.update(
                serialized=serialized,
                half=half,
                pair_scores=pair_scores,
                pair_classes=pair_classes,
                x_plus_k=x_plus_k,
            )
        signatures = example_signatures if with_examples else predict_signatures
        builder = tf1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=signatures)
        builder.save()
        tensors.update(x=x, y=y, a=a, s=s, sum=total, doubled=doubled, s_bytes=s_out, sess_graph=graph)
        return tensors


def example_bytes(features: dict) -> bytes:
    feature = {}
    for name, value in features.items():
        values = value if isinstance(value, list) else [value]
        if all(isinstance(v, float) for v in values):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        elif all(isinstance(v, int) for v in values):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        else:
            feature[name] = tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[v.encode() for v in values])
            )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def serving_inputs(body: dict) -> list[bytes]:
    context = example_bytes(body["context"]) if "context" in body else b""
    return [context + example_bytes(e) for e in body["examples"]]


def as_json(value: np.ndarray):
    if value.dtype == object:
        return [v.decode() for v in value.ravel()] if value.ndim else value.item().decode()
    return value.tolist()


def goldens_for(predict_path: Path, examples_path: Path, n: float) -> dict:
    cases = {}
    example_tensors = build(examples_path, n, with_examples=True)
    tensors = build(predict_path, n, with_examples=False)
    with tf1.Session(graph=tensors["sess_graph"]) as sess:
        # predict, row and columnar (same values)
        xs = [1.0, 2.0, 5.0]
        cases["predict"] = {
            "body": {"instances": xs},
            "predictions": sess.run(tensors["y"], {tensors["x"]: xs}).tolist(),
        }
        a = [[1.0, 2.0], [3.5, -1.0]]
        s = ["hello", "world"]
        out = sess.run(
            {k: tensors[k] for k in ("sum", "doubled", "s_bytes")}, {tensors["a"]: a, tensors["s"]: s}
        )
        cases["multi"] = {
            "body": {"signature_name": "multi", "inputs": {"a": a, "s": s}},
            "outputs": {k: as_json(v) for k, v in out.items()},
        }
    with tf1.Session(graph=example_tensors["sess_graph"]) as sess:
        tensors = example_tensors
        for name, signature, body in (
            ("classify_x_to_y", "half", {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]}),
            (
                "classify_labels",
                None,
                {"signature_name": "classify_labels", "examples": [{"x": 1.5}, {"x": -2.0}]},
            ),
            ("regress_x_to_y", "half", {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}),
            (
                "regress_x_plus_k",
                "x_plus_k",
                {
                    "signature_name": "regress_x_plus_k",
                    "context": {"k": 10.0},
                    "examples": [{"x": 1.0}, {"x": 2.0, "k": 100.0}, {}],
                },
            ),
        ):
            feed = {tensors["serialized"]: serving_inputs(body)}
            if name == "classify_labels":
                classes, scores = sess.run([tensors["pair_classes"], tensors["pair_scores"]], feed)
                results = [
                    [[c.decode(), float(sc)] for c, sc in zip(crow, srow, strict=True)]
                    for crow, srow in zip(classes, scores, strict=True)
                ]
            elif name.startswith("classify"):
                scores = sess.run(tensors[signature], feed)
                results = [[["", float(sc)] for sc in row] for row in scores]
            else:
                results = [float(v) for v in np.ravel(sess.run(tensors[signature], feed))]
            cases[name] = {"body": body, "results": results}
    return cases


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    goldens = {}
    for version, n in ((1, 2.0), (2, 3.0)):
        goldens[str(version)] = goldens_for(
            OUT / "half_plus_n" / str(version), OUT / "examples_n" / str(version), n
        )
    (OUT / "goldens.json").write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
