"""Write tests/fixtures/cli: small SavedModels plus what TensorFlow's saved_model_cli prints for them.

Run with the oracle venv:

    tools/oracle/.venv/bin/python tools/oracle/make_cli_fixtures.py [OUT_DIR]

Models:
  tf1-predict    TF1 graph: a `serving_default` predict signature on float/int
                 placeholders and a `greet` signature on strings.
  tf1-examples   TF1 graph: a tf.Example-parsing serving input (ParseExampleV2)
                 with `classify` (classification_signature_def) and `regress`
                 (regression_signature_def) signatures.
  scan-fileops   TF2 module whose signature calls tf.io.read_file and tf.print.
  scan-hidden    TF2 module whose signature is clean but which also saves a
                 tf.function calling tf.io.write_file (reachable only through the
                 object graph: TF's scan does not see it, ours does).
Inputs for `--inputs` go to OUT_DIR/inputs; saved_model_cli runs with OUT_DIR
as its working directory and relative paths, so the goldens hold no absolute
paths. OUT_DIR/cases.json lists every case: argv (after `saved_model_cli`),
the golden stdout file, for --outdir cases the saved .npy values, and flags
savedmodel needs beyond TF's (`savedmodel_extra`, e.g. --allow_file_access).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = HERE.parent.parent / "tests" / "fixtures" / "seed"
MODELS = ("tf1-predict", "tf1-examples", "scan-fileops", "scan-hidden")

EXAMPLES = (
    '[{"x": [1.0, 2.0], "n": [3], "s": ["a"]}, {"x": [0.5, -1.0], "n": [1], "s": [b"bb"]}, {"x": [4.0, 8.0]}]'
)


def tf1_predict(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default(), tf1.Session() as sess:
        x = tf1.placeholder(tf.float32, shape=[None, 2], name="x")
        k = tf1.placeholder(tf.int64, shape=[None], name="k")
        y = tf.add(x * 2.0, 1.0, name="y")
        k2 = tf.multiply(k, k, name="k2")
        total = tf.reduce_sum(x, name="total")

        name = tf1.placeholder(tf.string, shape=[None], name="name")
        greeting = tf.strings.join(["hi ", name], name="greeting")

        signatures = {
            "serving_default": tf1.saved_model.predict_signature_def(
                inputs={"x": x, "k": k}, outputs={"y": y, "k2": k2, "total": total}
            ),
            "greet": tf1.saved_model.predict_signature_def(
                inputs={"name": name}, outputs={"greeting": greeting}
            ),
        }
        builder = tf1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=signatures)
        builder.save()


def tf1_examples(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default(), tf1.Session() as sess:
        serialized = tf1.placeholder(tf.string, shape=[None], name="tf_example")
        features = tf1.io.parse_example(
            serialized,
            {
                "x": tf1.io.FixedLenFeature([2], tf.float32),
                "n": tf1.io.FixedLenFeature([1], tf.int64, default_value=[0]),
                "s": tf1.io.FixedLenFeature([1], tf.string, default_value=[""]),
            },
        )
        scores = features["x"] * tf.constant([2.0, 3.0]) + tf.cast(features["n"], tf.float32)
        classes = tf.identity(features["s"], name="classes")
        regression = tf.reduce_sum(features["x"] * 0.5, axis=1, name="regression")
        signatures = {
            "classify": tf1.saved_model.classification_signature_def(serialized, classes, scores),
            "regress": tf1.saved_model.regression_signature_def(serialized, regression),
        }
        builder = tf1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map=signatures)
        builder.save()


def scan_fileops(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

    class Reader(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def read(self, filename):
            tf.print("reading", filename)
            return {"contents": tf.io.read_file(filename)}

    module = Reader()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.read})


def scan_hidden(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

    class Hidden(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def add(self, x):
            return {"y": x + 1.0}

        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def dump(self, contents):
            tf.io.write_file("/tmp/savedmodel-scan-hidden.txt", contents)
            return contents

    module = Hidden()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.add})


def write_inputs(out: Path) -> None:
    inputs = out / "inputs"
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir()
    np.save(inputs / "x.npy", np.array([[1.5, -2.0], [0.25, 4.0]], dtype=np.float64))
    np.save(inputs / "k.npy", np.array([3, -4, 5], dtype=np.int64))
    np.savez(inputs / "xk.npz", x=np.array([[1.0, 2.0]], dtype=np.float32), k=np.array([7], dtype=np.int32))
    np.savez(inputs / "only_x.npz", values=np.array([[0.5, 0.5], [1.0, 1.0], [2.0, 2.0]], dtype=np.float32))
    np.save(inputs / "names.npy", np.array([b"ann", b"bo"]))
    (inputs / "hello.txt").write_bytes(b"hello\x00world\n")


def run_cases() -> list[dict]:
    """(name, argv after saved_model_cli) of every golden run; `{model}` is replaced by the path."""
    base = ["run", "--dir", "tf1-predict", "--tag_set", "serve"]
    examples = ["run", "--dir", "tf1-examples", "--tag_set", "serve"]
    return [
        {"name": "run_npy", "argv": [*base, "--signature_def", "serving_default",
                                     "--inputs", "x=inputs/x.npy;k=inputs/k.npy"]},
        {"name": "run_npz_named", "argv": [*base, "--signature_def", "serving_default",
                                           "--inputs", "x=inputs/xk.npz[x];k=inputs/xk.npz[k]"]},
        {"name": "run_npz_single", "argv": [*base, "--signature_def", "serving_default",
                                            "--inputs", "x=inputs/only_x.npz;k=inputs/k.npy[ignored]"]},
        {"name": "run_exprs", "argv": [*base, "--signature_def", "serving_default",
                                       "--input_exprs", "x=[[1.5, 2.0], [-3.0, 0.5]];k=[3, 4]"]},
        {"name": "run_override", "argv": [*base, "--signature_def", "serving_default",
                                          "--inputs", "x=inputs/x.npy;k=inputs/k.npy",
                                          "--input_exprs", "k=[10, 20]"]},
        {"name": "run_outdir", "argv": [*base, "--signature_def", "serving_default",
                                        "--inputs", "x=inputs/xk.npz[x];k=inputs/xk.npz[k]",
                                        "--outdir", "out"], "outdir": "out"},
        {"name": "run_greet", "argv": [*base, "--signature_def", "greet",
                                       "--input_exprs", "name=['bob', 'al']"]},
        {"name": "run_greet_npy", "argv": [*base, "--signature_def", "greet",
                                           "--inputs", "name=inputs/names.npy"]},
        {"name": "run_classify", "argv": [*examples, "--signature_def", "classify", "--input_examples",
                                          f"inputs={EXAMPLES}"]},
        {"name": "run_regress", "argv": [*examples, "--signature_def", "regress", "--input_examples",
                                         f"inputs={EXAMPLES}"]},
        {"name": "run_fileops", "argv": ["run", "--dir", "scan-fileops", "--tag_set", "serve",
                                         "--signature_def", "serving_default",
                                         "--input_exprs", "filename='inputs/hello.txt'"],
         "savedmodel_extra": ["--allow_file_access"]},
        {"name": "run_tf2_seed", "argv": ["run", "--dir", "seed:tf2-save", "--tag_set", "serve",
                                          "--signature_def", "serving_default",
                                          "--input_exprs", "input=-1.5"]},
    ]  # fmt: skip


def scan_cases() -> list[dict]:
    cases = []
    for model in (
        "tf1-predict",
        "tf1-examples",
        "scan-fileops",
        "scan-hidden",
        "seed:tf2-save",
        "seed:saved-model-builder",
    ):
        slug = model.replace("seed:", "seed-")
        cases.append({"name": f"scan_{slug}", "argv": ["scan", "--dir", model]})
        cases.append({"name": f"scan_{slug}_tagged", "argv": ["scan", "--dir", model, "--tag_set", "serve"]})
    cases.append(
        {"name": "scan_custom", "argv": ["scan", "--dir", "tf1-predict", "--op_denylist", "AddV2, Mul,Foo"]}
    )
    cases.append(
        {"name": "scan_custom_clean", "argv": ["scan", "--dir", "scan-fileops", "--op_denylist", "Mul"]}
    )
    cases.append(
        {"name": "scan_empty_denylist", "argv": ["scan", "--dir", "scan-fileops", "--op_denylist", ""]}
    )
    return cases


def resolve(argv: list[str], out: Path) -> list[str]:
    return [str(SEED / a[len("seed:") :]) if a.startswith("seed:") else a for a in argv]


def record(out: Path) -> list[dict]:
    cli = str(Path(sys.executable).parent / "saved_model_cli")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    golden = out / "golden"
    shutil.rmtree(golden, ignore_errors=True)
    golden.mkdir()
    cases = run_cases() + scan_cases()
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for name in MODELS + ("inputs",):
                (work / name).symlink_to(out / name)
            proc = subprocess.run(
                [cli, *resolve(case["argv"], out)], cwd=work, capture_output=True, text=True, env=env
            )
            if proc.returncode != 0:
                raise SystemExit(f"{case['name']}: saved_model_cli failed:\n{proc.stderr[-3000:]}")
            (golden / f"{case['name']}.txt").write_text(proc.stdout)
            case["stdout"] = f"golden/{case['name']}.txt"
            case["returncode"] = proc.returncode
            if "outdir" in case:
                saved = {}
                for npy in sorted((work / case["outdir"]).glob("*.npy")):
                    value = np.load(npy, allow_pickle=True)
                    saved[npy.stem] = {"dtype": str(value.dtype), "shape": list(value.shape),
                                       "value": value.tolist()}  # fmt: skip
                case["saved"] = saved
    return cases


def main() -> None:
    out = Path(
        sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent / "tests" / "fixtures" / "cli"
    ).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tf1_predict(out / "tf1-predict")
    tf1_examples(out / "tf1-examples")
    scan_fileops(out / "scan-fileops")
    scan_hidden(out / "scan-hidden")
    write_inputs(out)
    cases = record(out)
    meta = {"tensorflow": tf.__version__, "numpy": np.__version__, "cases": cases}
    (out / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
