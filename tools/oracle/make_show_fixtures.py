"""Write the models and `saved_model_cli show` goldens used by tests/cli/test_show.py,
test_variables.py and test_diff.py.

Run with the oracle venv:

    tools/oracle/.venv/bin/python tools/oracle/make_show_fixtures.py tests/fixtures/show [--models a,b]

Models written (all small):
- multi-tag: TF1 Builder export with tag sets {serve}, {serve, gpu}, {train};
  predict / classify / regress signatures, unknown-rank and -1 dims, variables.
- composite: TF1 export whose signature has a COO sparse input/output and a
  RaggedTensor (composite_tensor encoding) input/output.
- poly: TF2 tf.Module with polymorphic tf.functions (several concrete functions,
  tuple / dict / list / keyword-only / Python-value arguments, ragged and sparse
  specs), a bare concrete function, a no-argument function and variables of
  several dtypes.
- control-flow: tf.Module with While / If bodies, a lookup table, a saved custom
  gradient and 14 traces of one function.
- many-traces: 40 concrete functions of one tf.function (their listed order follows
  the uids TF's loader gives them, which cross a digit boundary).
- vars-a / vars-b: two tiny TF2 modules that differ in signatures, ops and
  variables (names, dtypes, shapes, values), for `savedmodel diff`.

Goldens: cases.json lists {"model", "args", "golden"}; each golden file holds the
stdout of `saved_model_cli show --dir <model> <args>` (PYTHONHASHSEED=0). Models
from tests/fixtures/seed are referenced as "seed/<name>".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402


def multi_tag(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default():
        x = tf1.placeholder(tf.float32, shape=[None, 3], name="x")
        anything = tf1.placeholder(tf.float32, shape=None, name="anything")
        w = tf1.get_variable("w", initializer=tf.constant([[1.0], [2.0], [3.0]]))
        b = tf1.get_variable("bias", initializer=tf.constant(0.5, dtype=tf.float64))
        steps = tf1.get_variable("steps", initializer=tf.constant(7, dtype=tf.int64))
        y = tf.add(tf.matmul(x, w), tf.cast(b, tf.float32), name="y")
        doubled = tf.multiply(anything, 2.0, name="doubled")
        examples = tf1.placeholder(tf.string, shape=[None], name="examples")
        classes = tf.identity(tf.tile(tf.constant([["a", "b"]]), [tf.shape(examples)[0], 1]), name="classes")
        scores = tf.identity(tf.ones([tf.shape(examples)[0], 2]), name="scores")
        regress_out = tf.identity(tf.ones([tf.shape(examples)[0], 1]), name="regress_out")
        predict = tf1.saved_model.predict_signature_def(
            inputs={"x": x, "anything": anything}, outputs={"y": y, "doubled": doubled}
        )
        classify = tf1.saved_model.classification_signature_def(examples, classes, scores)
        regress = tf1.saved_model.regression_signature_def(examples, regress_out)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            del steps
            builder = tf1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(
                sess,
                ["serve"],
                signature_def_map={"serving_default": predict, "classify_x": classify, "regress_x": regress},
            )
            builder.add_meta_graph(["serve", "gpu"], signature_def_map={"serving_default": predict})
            builder.add_meta_graph(["train"])
            builder.save()


def composite(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    build = tf1.saved_model.utils.build_tensor_info
    with tf.Graph().as_default():
        sp = tf1.sparse_placeholder(tf.float32, shape=[None, 4], name="sp")
        values = tf1.placeholder(tf.int64, shape=[None], name="values")
        splits = tf1.placeholder(tf.int64, shape=[None], name="splits")
        rt = tf.RaggedTensor.from_row_splits(values, splits, validate=False)
        total = tf.sparse.reduce_sum(sp, axis=1)
        doubled = rt * 2
        sig = tf1.saved_model.signature_def_utils.build_signature_def(
            inputs={"sparse": build(sp), "ragged": build(rt)},
            outputs={
                "total": build(total),
                "doubled": build(doubled),
                "sparse_out": build(tf.sparse.reorder(sp)),
            },
            method_name="tensorflow/serving/predict",
        )
        with tf1.Session() as sess:
            builder = tf1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()


class Poly(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.v = tf.Variable([1.0, 2.0], name="v")
        self.count = tf.Variable(3, dtype=tf.int64, name="count")
        self.label = tf.Variable("hello", name="label")
        self.matrix = tf.Variable(tf.ones([2, 3], tf.float16), name="matrix")

    @tf.function
    def __call__(self, x, scale=2.0, training=False):
        y = x * self.v[0] * scale
        return y + 1.0 if training else y

    @tf.function
    def combine(self, pair, named, *, mode="add"):
        a, b = pair
        total = a + tf.reduce_sum(b) + tf.cast(named["k"], tf.float32)
        if mode == "mul":
            total = total * tf.reduce_sum(named["items"][0])
        return {"total": total}

    @tf.function(
        input_signature=[tf.TensorSpec([None, 2], tf.float32, name="features"), tf.TensorSpec([], tf.int32)]
    )
    def fixed(self, features, k):
        return {"scaled": features * self.v, "k": k + 1}

    @tf.function
    def composite_args(self, rt, st):
        return tf.reduce_sum(rt) + tf.sparse.reduce_sum(st)

    @tf.function
    def no_args(self):
        return self.v * 2.0


def poly(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    m = Poly()
    m.__call__.get_concrete_function(tf.TensorSpec([], tf.float32, name="x"))
    m.__call__.get_concrete_function(tf.TensorSpec([None], tf.float32), scale=3, training=True)
    m.__call__.get_concrete_function(tf.TensorSpec([2], tf.float32, name="x"), 4, "yes")
    m.combine.get_concrete_function(
        (tf.TensorSpec([], tf.float32), tf.TensorSpec([None], tf.float32, name="b")),
        {"k": tf.TensorSpec([], tf.int32), "items": [tf.TensorSpec([2], tf.float32), "tag"]},
        mode="mul",
    )
    m.combine.get_concrete_function(
        [tf.TensorSpec([], tf.float32), tf.TensorSpec([3], tf.float32)],
        {"k": tf.TensorSpec([], tf.int64, name="kk"), "items": (1.5, -2, None)},
    )
    m.composite_args.get_concrete_function(
        tf.RaggedTensorSpec([None, None], tf.float32, ragged_rank=1),
        tf.SparseTensorSpec([None, 3], tf.float32),
    )
    m.no_args.get_concrete_function()
    m.bare = tf.function(lambda x, y: x * y).get_concrete_function(
        tf.TensorSpec([3], tf.float32, name="bx"), tf.TensorSpec([3], tf.float32)
    )
    signatures = {
        "serving_default": m.fixed,
        "scaled": m.__call__.get_concrete_function(tf.TensorSpec([None], tf.float32, name="x")),
    }
    tf.saved_model.save(m, str(path), signatures=signatures)


class VarsA(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.v = tf.Variable([1.0, 2.0, 3.0], name="v")
        self.n = tf.Variable(5, dtype=tf.int32, name="n")
        self.same = tf.Variable([[1, 2]], dtype=tf.int64, name="same")

    @tf.function(input_signature=[tf.TensorSpec([3], tf.float32, name="x")])
    def __call__(self, x):
        return {"y": x * self.v}


class VarsB(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.v = tf.Variable([1.0, 2.0, 3.000001], name="v")
        self.n = tf.Variable(5, dtype=tf.int64, name="n")
        self.same = tf.Variable([[1, 2]], dtype=tf.int64, name="same")
        self.w = tf.Variable(tf.zeros([2, 2]), name="w")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def __call__(self, x):
        return {"y": tf.nn.relu(x * self.v), "z": tf.reduce_sum(self.w)}


class ControlFlow(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.v = tf.Variable(2.0)
        init = tf.lookup.KeyValueTensorInitializer(["a", "b"], [1, 2])
        self.table = tf.lookup.StaticHashTable(init, -1)

    @tf.function
    def loop(self, n):
        i = tf.constant(0)
        s = tf.constant(0.0)
        while i < n:
            s += self.v
            i += 1
        return s

    @tf.function
    def branch(self, x, flag=True):
        if x > 0:
            y = x * self.v
        else:
            y = -x
        return y

    @tf.function
    def lookup(self, k):
        return self.table.lookup(k)

    @tf.function
    def grad(self, x):
        @tf.custom_gradient
        def f(x):
            return x * x, lambda dy: dy * 3.0

        return f(x)

    @tf.function
    def many(self, x, k):
        return x * k


def control_flow(path: Path) -> None:
    """While / If bodies, a lookup table, a saved custom gradient and 14 traces of one function."""
    shutil.rmtree(path, ignore_errors=True)
    m = ControlFlow()
    m.loop.get_concrete_function(tf.TensorSpec([], tf.int32))
    for i in range(3):
        m.branch.get_concrete_function(tf.TensorSpec([], tf.float32), flag=bool(i % 2))
    m.lookup.get_concrete_function(tf.TensorSpec([None], tf.string))
    m.grad.get_concrete_function(tf.TensorSpec([], tf.float32))
    for k in range(14):
        m.many.get_concrete_function(tf.TensorSpec([None] * (k % 3), tf.float32), k)
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=True)
    tf.saved_model.save(m, str(path), options=options)


class ManyTraces(tf.Module):
    @tf.function
    def f(self, x, k):
        return x + k


def many_traces(path: Path) -> None:
    """40 concrete functions of one tf.function: their order crosses uid digit boundaries."""
    shutil.rmtree(path, ignore_errors=True)
    m = ManyTraces()
    for k in range(40):
        m.f.get_concrete_function(tf.TensorSpec([None], tf.float32), k)
    tf.saved_model.save(m, str(path))


def vars_models(out: Path) -> None:
    for name, cls in (("vars-a", VarsA), ("vars-b", VarsB)):
        shutil.rmtree(out / name, ignore_errors=True)
        m = cls()
        tf.saved_model.save(m, str(out / name), signatures={"serving_default": m.__call__})


def cases() -> list[tuple[str, list[str]]]:
    result: list[tuple[str, list[str]]] = []
    for name in ("saved-model-builder", "tf2-save", "keras-model", "estimator-model"):
        result += [
            (f"seed/{name}", []),
            (f"seed/{name}", ["--tag_set", "serve"]),
            (f"seed/{name}", ["--tag_set", "serve", "--signature_def", "serving_default"]),
        ]
    result += [
        ("multi-tag", []),
        ("multi-tag", ["--all"]),
        ("multi-tag", ["--tag_set", "serve"]),
        ("multi-tag", ["--tag_set", "serve,gpu"]),
        ("multi-tag", ["--tag_set", "gpu,serve", "--signature_def", "serving_default"]),
        ("multi-tag", ["--tag_set", "serve", "--signature_def", "classify_x"]),
        ("multi-tag", ["--tag_set", "serve", "--signature_def", "regress_x"]),
        ("multi-tag", ["--tag_set", "train"]),
        ("multi-tag", ["--tag_set", "serve", "--list_ops"]),
        ("composite", ["--all"]),
        ("composite", ["--tag_set", "serve", "--signature_def", "serving_default"]),
        ("poly", ["--all"]),
        ("poly", ["--tag_set", "serve"]),
        ("poly", ["--tag_set", "serve", "--signature_def", "serving_default"]),
        ("vars-a", ["--all"]),
        ("vars-b", ["--all"]),
        ("control-flow", ["--all"]),
        ("many-traces", ["--all"]),
    ]
    return result


def golden_name(model: str, args: list[str]) -> str:
    base = model.replace("/", "-")
    if not args:
        return f"{base}.show.txt"
    if args == ["--all"]:
        return f"{base}.show_all.txt"
    parts = [a.lstrip("-").replace(",", "+") for a in args]
    return f"{base}.show_" + "_".join(parts) + ".txt"


def run_cli(out: Path, seed: Path, only: set[str] | None = None) -> None:
    cli = str(Path(sys.executable).parent / "saved_model_cli")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    listing = []
    for model, args in cases():
        model_dir = seed / model.split("/", 1)[1] if model.startswith("seed/") else out / model
        golden = golden_name(model, args)
        listing.append({"model": model, "args": args, "golden": golden})
        if only is not None and model not in only:
            continue
        proc = subprocess.run(
            [cli, "show", "--dir", str(model_dir), *args], capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            raise SystemExit(f"saved_model_cli failed for {model} {args}:\n{proc.stderr}")
        (out / golden).write_text(proc.stdout)
        print("wrote", golden, flush=True)
    (out / "cases.json").write_text(json.dumps(listing, indent=1) + "\n")


def variables_goldens(out: Path, seed: Path) -> None:
    """variables.json: what tf.train.load_checkpoint reports for each model / checkpoint."""
    sources = {
        "seed/estimator-model": seed / "estimator-model" / "variables" / "variables",
        "seed/tf2-save": seed / "tf2-save" / "variables" / "variables",
        "seed/multiply_values.ckpt": seed / "multiply_values.ckpt",
        "multi-tag": out / "multi-tag" / "variables" / "variables",
        "poly": out / "poly" / "variables" / "variables",
        "vars-a": out / "vars-a" / "variables" / "variables",
        "vars-b": out / "vars-b" / "variables" / "variables",
    }
    result = {}
    for name, prefix in sources.items():
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
        types = reader.get_variable_to_dtype_map()
        entries = []
        for key in sorted(shapes):
            entry = {"name": key, "dtype": types[key].name, "shape": list(shapes[key])}
            if key != "_CHECKPOINTABLE_OBJECT_GRAPH" and types[key] != tf.string:
                entry["value"] = reader.get_tensor(key).tolist()
            entries.append(entry)
        result[name] = entries
    (out / "variables.json").write_text(json.dumps(result, indent=1) + "\n")


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    seed = out.parent / "seed"
    out.mkdir(parents=True, exist_ok=True)
    if "--variables-only" in sys.argv:
        variables_goldens(out, seed)
        return
    builders = {
        "multi-tag": multi_tag,
        "composite": composite,
        "poly": poly,
        "control-flow": control_flow,
        "many-traces": many_traces,
    }
    only = None
    if "--models" in sys.argv:  # --models a,b: rebuild only these (and their goldens)
        only = set(sys.argv[sys.argv.index("--models") + 1].split(","))
    if "--cli-only" not in sys.argv:
        for name, build in builders.items():
            if only is None or name in only:
                build(out / name)
        if only is None or {"vars-a", "vars-b"} & only:
            vars_models(out)
    run_cli(out, seed, only)
    variables_goldens(out, seed)


if __name__ == "__main__":
    main()
