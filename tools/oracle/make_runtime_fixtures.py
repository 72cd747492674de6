"""Write the runtime's golden fixtures with real TensorFlow (2.21 oracle venv).

    TF_USE_LEGACY_KERAS=1 tools/oracle/.venv/bin/python \
        tools/oracle/make_runtime_fixtures.py tests/fixtures/runtime [step ...]

Each model is a small SavedModel under OUT_DIR/<name>/; OUT_DIR/golden.json holds,
per case, the signature (or function) called, its inputs and TensorFlow's outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind == "S":
        flat = [
            v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v)
            for v in value.reshape(-1)
        ]
        return {"dtype": "string", "shape": list(value.shape), "value": flat}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def case(golden: dict, key: str, signature: str, inputs: dict, outputs: dict) -> None:
    golden[key] = {"signature": signature, "inputs": jsonable(inputs), "outputs": jsonable(outputs)}


def run_tf1_signature(path: Path, signature: str, inputs: dict) -> dict:
    with tf.Graph().as_default():
        with tf1.Session() as sess:
            meta_graph = tf1.saved_model.load(sess, ["serve"], str(path))
            sig = meta_graph.signature_def[signature]
            feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
            names = sorted(sig.outputs)
            values = sess.run([sig.outputs[k].name for k in names], feed_dict=feeds)
            return dict(zip(names, values, strict=True))


# ------------------------------------------------------------------------------------ TF1 graphs


def tf1_while(out: Path, golden: dict) -> None:
    """Ref variables (VariableV2), tf.cond and a nested tf.while_loop in TF1 control flow (v1)."""
    path = out / "tf1_while"
    shutil.rmtree(path, ignore_errors=True)
    tf1.disable_control_flow_v2()
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[None], name="x")
        n = tf1.placeholder(tf.int32, shape=[], name="n")
        scale = tf1.Variable(1.5, name="scale", use_resource=False)
        offset = tf1.Variable([1.0, -1.0, 0.5], name="offset", use_resource=False)

        def cond(i, acc):
            return i < n

        def body(i, acc):
            def inner_cond(j, a):
                return j < 2

            def inner_body(j, a):
                return j + 1, a + tf.cast(j, tf.float32)

            _, inner = tf1.while_loop(inner_cond, inner_body, [tf.constant(0), acc])
            return i + 1, inner * scale

        _, looped = tf1.while_loop(cond, body, [tf.constant(0), x])
        branch = tf1.cond(
            tf.reduce_sum(x) > 0, lambda: looped + offset[: tf.shape(x)[0]], lambda: looped - 1.0
        )
        total = tf.identity(branch, name="y")
        count = tf.identity(tf.reduce_sum(tf.cast(x > 0, tf.int32)), name="count")
        # A loop inside a cond branch: when the branch is not taken its frame only sees dead values.
        cond_loop = tf1.cond(
            n > 1,
            lambda: tf1.while_loop(
                lambda k, s: k < n, lambda k, s: (k + 1, s + 1.0), [tf.constant(0), tf.reduce_sum(x)]
            )[1],
            lambda: tf.constant(-7.0),
        )
        cond_loop = tf.identity(cond_loop, name="cond_loop")
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(scale.assign(2.0))
            builder = tf1.saved_model.Builder(str(path))
            sig = tf1.saved_model.predict_signature_def(
                {"x": x, "n": n}, {"y": total, "count": count, "cond_loop": cond_loop}
            )
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()
    tf1.enable_control_flow_v2()
    for key, inputs in {
        "positive": {"x": np.array([1.0, 2.0, 3.0], np.float32), "n": np.int32(3)},
        "negative": {"x": np.array([-1.0, -2.0], np.float32), "n": np.int32(2)},
        "zero_iterations": {"x": np.array([0.5, 1.0, 0.0], np.float32), "n": np.int32(0)},
        "one_iteration": {"x": np.array([0.25], np.float32), "n": np.int32(1)},
    }.items():
        case(
            golden,
            f"tf1_while/{key}",
            "serving_default",
            inputs,
            run_tf1_signature(path, "serving_default", inputs),
        )


def tf1_rnn(out: Path, golden: dict) -> None:
    """tf1.nn.dynamic_rnn with an LSTM cell (TensorArrayV3 + while frames)."""
    path = out / "tf1_rnn"
    shutil.rmtree(path, ignore_errors=True)
    tf1.disable_control_flow_v2()
    with tf.Graph().as_default():
        tf1.set_random_seed(1)
        x = tf1.placeholder(tf.float32, shape=[None, 5, 3], name="x")
        cell = tf1.nn.rnn_cell.LSTMCell(4, initializer=tf1.glorot_uniform_initializer(seed=2))
        outputs, state = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            builder = tf1.saved_model.Builder(str(path))
            sig = tf1.saved_model.predict_signature_def(
                {"x": x}, {"outputs": outputs, "h": state.h, "c": state.c}
            )
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()
    tf1.enable_control_flow_v2()
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((2, 5, 3)).astype(np.float32)}
    case(
        golden,
        "tf1_rnn/batch2",
        "serving_default",
        inputs,
        run_tf1_signature(path, "serving_default", inputs),
    )


# ------------------------------------------------------------------------------------ TF2


class Flow(tf.Module):
    def __init__(self):
        super().__init__()
        self.v = tf.Variable([1.0, 2.0, 3.0], name="v")
        self.counter = tf.Variable(0, name="counter")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)])
    def compute(self, x, n):
        y = tf.cond(tf.reduce_sum(x) > 0, lambda: x * self.v[: tf.shape(x)[0]], lambda: x - 1.0)
        i = tf.constant(0)
        acc = y

        def body(i, acc):
            return i + 1, acc * 2.0 + 1.0

        _, looped = tf.while_loop(lambda i, acc: i < n, body, [i, acc])
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for k in tf.range(n):
            ta = ta.write(k, tf.reduce_sum(looped) + tf.cast(k, tf.float32))
        stacked = ta.stack()
        branch = tf.switch_case(
            tf.clip_by_value(n, 0, 2),
            [lambda: tf.constant(10.0), lambda: tf.constant(20.0), lambda: tf.constant(30.0)],
        )
        return {"looped": looped, "stacked": stacked, "case": branch}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def strings(self, s):
        joined = tf.strings.join([s, tf.constant("!")], separator="")
        return {"joined": joined, "length": tf.strings.length(joined), "upper": tf.strings.upper(s)}

    @tf.function
    def poly(self, x):
        return x * 2 + tf.cast(tf.size(x), x.dtype)

    @tf.function(input_signature=[])
    def bump(self):
        self.counter.assign_add(1)
        return self.counter.read_value()


def tf2_module(out: Path, golden: dict) -> None:
    path = out / "tf2_module"
    shutil.rmtree(path, ignore_errors=True)
    module = Flow()
    poly_float = module.poly.get_concrete_function(tf.TensorSpec([None], tf.float32))
    poly_int = module.poly.get_concrete_function(tf.TensorSpec([None], tf.int32))
    tf.saved_model.save(
        module,
        str(path),
        signatures={
            "serving_default": module.compute,
            "strings": module.strings,
            "bump": module.bump,
            "poly_int": poly_int,
            "poly_float": poly_float,
        },
    )
    loaded = tf.saved_model.load(str(path))
    for key, inputs in {
        "positive": {"x": np.array([1.0, 2.0, 3.0], np.float32), "n": np.int32(3)},
        "negative": {"x": np.array([-1.0, -5.0], np.float32), "n": np.int32(1)},
        "no_loop": {"x": np.array([2.0], np.float32), "n": np.int32(0)},
    }.items():
        case(
            golden,
            f"tf2_module/{key}",
            "serving_default",
            inputs,
            loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()}),
        )
    strings = {"s": np.array([b"ab", b"Hello"], dtype=object)}
    case(
        golden,
        "tf2_module/strings",
        "strings",
        strings,
        loaded.signatures["strings"](s=tf.constant(strings["s"].astype(bytes))),
    )
    fresh = tf.saved_model.load(str(path))
    case(golden, "tf2_module/bump", "bump", {}, fresh.signatures["bump"]())
    golden["tf2_module/poly"] = {
        "float": jsonable(loaded.poly(tf.constant([1.5, 2.5], tf.float32))),
        "int": jsonable(loaded.poly(tf.constant([1, 2, 3], tf.int32))),
        "v": jsonable(loaded.v),
    }


def keras_models(out: Path, golden: dict) -> None:
    import tf_keras as keras

    keras.utils.set_random_seed(3)
    mlp = keras.Sequential(
        [
            keras.layers.Dense(8, activation="relu", input_shape=(4,)),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    path = out / "keras_mlp"
    shutil.rmtree(path, ignore_errors=True)
    mlp.save(str(path), save_format="tf")
    loaded = tf.saved_model.load(str(path))
    sig = loaded.signatures["serving_default"]
    input_key = list(sig.structured_input_signature[1])[0]
    rng = np.random.default_rng(1)
    for batch in (1, 5):
        inputs = {input_key: rng.standard_normal((batch, 4)).astype(np.float32)}
        case(
            golden,
            f"keras_mlp/batch{batch}",
            "serving_default",
            inputs,
            sig(**{k: tf.constant(v) for k, v in inputs.items()}),
        )

    cnn = keras.Sequential(
        [
            keras.layers.Conv2D(4, 3, activation="relu", padding="same", input_shape=(8, 8, 1)),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(5),
        ]
    )
    path = out / "keras_cnn"
    shutil.rmtree(path, ignore_errors=True)
    cnn.save(str(path), save_format="tf")
    loaded = tf.saved_model.load(str(path))
    sig = loaded.signatures["serving_default"]
    input_key = list(sig.structured_input_signature[1])[0]
    for batch in (1, 3):
        inputs = {input_key: rng.standard_normal((batch, 8, 8, 1)).astype(np.float32)}
        case(
            golden,
            f"keras_cnn/batch{batch}",
            "serving_default",
            inputs,
            sig(**{k: tf.constant(v) for k, v in inputs.items()}),
        )


def _vocab_file() -> str:
    import tempfile

    directory = Path(tempfile.mkdtemp())
    vocab = directory / "vocab.txt"
    vocab.write_text("apple\nbanana\ncherry\n")
    return str(vocab)


def tf1_table(out: Path, golden: dict) -> None:
    """TF1 lookup tables (text-file asset + key/value) initialized by the main op."""
    path = out / "tf1_table"
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default():
        words = tf1.placeholder(tf.string, shape=[None], name="words")
        table = tf1.lookup.StaticHashTable(
            tf1.lookup.TextFileInitializer(
                _vocab_file(),
                tf.string,
                tf1.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf1.lookup.TextFileIndex.LINE_NUMBER,
            ),
            -1,
        )
        ids = tf.identity(table.lookup(words), name="ids")
        with tf1.Session() as sess:
            sess.run(tf1.tables_initializer())
            builder = tf1.saved_model.Builder(str(path))
            sig = tf1.saved_model.predict_signature_def({"words": words}, {"ids": ids})
            builder.add_meta_graph_and_variables(
                sess,
                ["serve"],
                signature_def_map={"serving_default": sig},
                main_op=tf1.tables_initializer(),
                assets_collection=tf1.get_collection(tf1.GraphKeys.ASSET_FILEPATHS),
            )
            builder.save()
    inputs = {"words": np.array([b"banana", b"kiwi", b"apple"], dtype=object)}
    case(
        golden,
        "tf1_table/lookup",
        "serving_default",
        inputs,
        run_tf1_signature(path, "serving_default", {"words": inputs["words"].astype(bytes)}),
    )


class Tables(tf.Module):
    def __init__(self, vocab: str):
        super().__init__()
        init = tf.lookup.TextFileInitializer(
            vocab,
            tf.string,
            tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64,
            tf.lookup.TextFileIndex.LINE_NUMBER,
        )
        self.vocab = tf.lookup.StaticHashTable(init, -1)
        self.kv = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([1, 2, 3], tf.int64), tf.constant([10.0, 20.0, 30.0])
            ),
            -1.0,
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64)])
    def __call__(self, words, ids):
        return {"word_ids": self.vocab.lookup(words), "values": self.kv.lookup(ids)}


def tf2_table(out: Path, golden: dict) -> None:
    path = out / "tf2_table"
    shutil.rmtree(path, ignore_errors=True)
    module = Tables(_vocab_file())
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    loaded = tf.saved_model.load(str(path))
    inputs = {"words": np.array([b"cherry", b"fig"], dtype=object), "ids": np.array([3, 7, 1], np.int64)}
    case(
        golden,
        "tf2_table/lookup",
        "serving_default",
        inputs,
        loaded.signatures["serving_default"](
            words=tf.constant(inputs["words"].astype(bytes)), ids=tf.constant(inputs["ids"])
        ),
    )


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    golden_path = out / "golden.json"
    golden = json.loads(golden_path.read_text()) if golden_path.exists() else {}
    only = set(sys.argv[2:])
    steps = {
        "tf1_while": tf1_while,
        "tf1_rnn": tf1_rnn,
        "tf2_module": tf2_module,
        "keras": keras_models,
        "tf1_table": tf1_table,
        "tf2_table": tf2_table,
    }
    for name, step in steps.items():
        if not only or name in only:
            step(out, golden)
    golden_path.write_text(json.dumps(dict(sorted(golden.items())), indent=1) + "\n")


if __name__ == "__main__":
    main()
