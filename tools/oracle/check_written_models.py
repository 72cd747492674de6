"""Oracle checks for what savedmodel's TF-shaped writing API (savedmodel.api.tf) writes.

Run with the oracle venv (TensorFlow 2.21), never imported by savedmodel:

    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py load-tf1 DIR SIG INPUTS_JSON
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py load-tf2 DIR SIG INPUTS_JSON
        Load a SavedModel we wrote with TF's TF1 loader / tf.saved_model.load, run
        signature SIG on the JSON inputs and print the outputs as JSON.
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py meta-graph META CKPT FEEDS_JSON FETCH
        import_meta_graph + restore + run FETCH with FEEDS (JSON {tensor name: value}).
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py checkpoint PREFIX
        Print every tensor of a checkpoint as JSON (tf.train.load_checkpoint).
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py keras-predict DIR INPUT_JSON
        tf.keras.models.load_model(DIR).predict_on_batch(INPUT) as JSON (tf-keras); INPUT_JSON
        {"inputs": [X1, X2...]} for a model with several inputs.
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py write-program PROGRAM OUT
        Run the Python file PROGRAM with `tf` = TensorFlow (tf-keras as tf.keras) and OUT = the
        directory to write: the TF-written reference for a program we also run with savedmodel.tf.
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py show-all DIR
        What `saved_model_cli show --all --dir DIR` prints (its own _show_all, in this process).
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py api-goldens PROGRAMS OUT
        For each program PROGRAMS/<name>.txt (tests/fixtures/api/programs): write it with TF and
        save OUT/<name>.object_graph.pb (its SavedObjectGraph), OUT/<name>.keras_metadata.pb (Keras
        models) and OUT/<name>.show_all.txt (a fresh `saved_model_cli show --all` on it).
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py print-program PROGRAM OUT
        Run PROGRAM as write-program does; its printed output as {"stdout": text}.
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py guide-goldens GUIDES
        For each program GUIDES/<name>.txt (tests/fixtures/api/guides; TensorFlow's guides as
        programs), in a fresh process: what it prints with TF -> GUIDES/<name>.stdout.txt, and what
        GUIDES/<name>.load.txt prints on the models it wrote -> GUIDES/<name>.load.stdout.txt.
    tools/oracle/.venv/bin/python tools/oracle/check_written_models.py batch JOBS_JSON
        Run many of the above in one process: JOBS_JSON is a file holding a list of
        [command, *args]; prints a JSON list of results ({"error": text} on failure).
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def _jsonable(value):
    import numpy as np

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype == object:
        return {
            "dtype": "object",
            "shape": list(value.shape),
            "value": [v.decode() for v in value.reshape(-1)],
        }
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def load_tf1(path: str, signature: str, inputs: dict) -> dict:
    import tensorflow as tf
    import tensorflow.compat.v1 as tf1

    with tf.Graph().as_default():
        with tf1.Session() as sess:
            meta_graph = tf1.saved_model.load(sess, ["serve"], path)
            sig = meta_graph.signature_def[signature]
            feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
            fetches = {k: t.name for k, t in sig.outputs.items()}
            return _jsonable(sess.run(fetches, feeds))


def load_tf2(path: str, signature: str, inputs: dict) -> dict:
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    fn = loaded.signatures[signature]
    args = {k: tf.constant(v, dtype=fn.structured_input_signature[1][k].dtype) for k, v in inputs.items()}
    return _jsonable(fn(**args))


def meta_graph(meta: str, ckpt: str, feeds: dict, fetch: str) -> dict:
    import tensorflow as tf
    import tensorflow.compat.v1 as tf1

    with tf.Graph().as_default():
        saver = tf1.train.import_meta_graph(meta)
        with tf1.Session() as sess:
            saver.restore(sess, ckpt)
            return _jsonable(sess.run(fetch, feeds))


def checkpoint(prefix: str) -> dict:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: _jsonable(reader.get_tensor(name)) for name in sorted(reader.get_variable_to_shape_map())}


def run_one(command: str, args: list[str]) -> dict:
    if command == "load-tf1":
        return load_tf1(args[0], args[1], json.loads(args[2]))
    if command == "load-tf2":
        return load_tf2(args[0], args[1], json.loads(args[2]))
    if command == "meta-graph":
        return meta_graph(args[0], args[1], json.loads(args[2]), args[3])
    if command == "checkpoint":
        return checkpoint(args[0])
    if command == "keras-predict":
        import numpy as np
        import tensorflow as tf

        model = tf.keras.models.load_model(args[0])
        given = json.loads(args[1])
        if isinstance(given, dict):  # {"inputs": [x1, x2, ...]}: a model with several inputs
            batch = [tf.constant(np.asarray(x, dtype=np.float32)) for x in given["inputs"]]
        else:
            batch = tf.constant(np.asarray(given))
        return _jsonable(model.predict_on_batch(batch))
    if command == "write-program":
        import tensorflow as tf

        with open(args[0]) as handle:
            source = handle.read()
        exec(compile(source, args[0], "exec"), {"tf": tf, "OUT": args[1], "__name__": "__program__"})
        return {"written": args[1]}
    if command == "print-program":
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            run_one("write-program", args)
        return {"stdout": out.getvalue()}
    if command == "show-all":
        import contextlib
        import io

        from tensorflow.python.tools import saved_model_cli

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            saved_model_cli._show_all(args[0])
        return {"text": out.getvalue()}
    if command == "fingerprint":
        import tensorflow as tf

        return {"singleprint": tf.saved_model.experimental.read_fingerprint(args[0]).singleprint()}
    raise SystemExit(f"unknown command {command!r}")


def api_goldens(programs: str, out: str) -> None:
    import pathlib
    import shutil
    import subprocess
    import tempfile

    from tensorflow.core.protobuf import saved_model_pb2

    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    out_dir = pathlib.Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for program in sorted(pathlib.Path(programs).glob("*.txt")):
            name = program.stem
            target = pathlib.Path(tmp) / name
            run_one("write-program", [str(program), str(target)])
            proto = saved_model_pb2.SavedModel.FromString((target / "saved_model.pb").read_bytes())
            graph = proto.meta_graphs[0].object_graph_def
            (out_dir / f"{name}.object_graph.pb").write_bytes(graph.SerializeToString(deterministic=True))
            if (target / "keras_metadata.pb").exists():
                shutil.copyfile(target / "keras_metadata.pb", out_dir / f"{name}.keras_metadata.pb")
            shown = subprocess.run(
                [str(cli), "show", "--all", "--dir", str(target)], capture_output=True, text=True, check=True
            )
            (out_dir / f"{name}.show_all.txt").write_text(shown.stdout)
            print(name)


def guide_goldens(guides: str) -> None:
    import pathlib
    import subprocess
    import tempfile

    folder = pathlib.Path(guides)
    for program in sorted(p for p in folder.glob("*.txt") if p.name.count(".") == 1):
        name = program.stem
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / name
            for source, golden in (
                (program, f"{name}.stdout.txt"),
                (folder / f"{name}.load.txt", f"{name}.load.stdout.txt"),
            ):
                if not source.exists():
                    continue
                result = subprocess.run(
                    [sys.executable, __file__, "print-program", str(source), str(out)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                (folder / golden).write_text(json.loads(result.stdout.splitlines()[-1])["stdout"])
        print(name)


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "guide-goldens":
        guide_goldens(args[0])
        return
    if command == "api-goldens":
        api_goldens(args[0], args[1])
        return
    if command == "batch":
        with open(args[0]) as handle:
            jobs = json.load(handle)
        results = []
        for job in jobs:
            try:
                results.append(run_one(job[0], job[1:]))
            except Exception as exc:  # noqa: BLE001 - report, keep going
                results.append({"error": f"{type(exc).__name__}: {exc}"})
        print(json.dumps(results))
        return
    print(json.dumps(run_one(command, args)))


if __name__ == "__main__":
    main(sys.argv[1:])
