"""Golden for the file-system ops (ReadFile, WriteFile, MatchingFiles) written by TensorFlow.

Run: TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_file_op_goldens.py
Writes tests/fixtures/runtime_ops/file_ops/ (a SavedModel) and file_ops.json: for a fixed
directory layout, what each signature returned, with paths made relative to that directory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "runtime_ops"
LAYOUT = {"b.txt": b"bee", "a.txt": b"ay", "c.log": b"sea", "sub/d.txt": b"dee"}


class FileOps(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def match(self, pattern):
        return {"files": tf.io.matching_files(pattern)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def match_many(self, patterns):
        return {"files": tf.io.matching_files(patterns)}

    @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string)])
    def write_then_read(self, path, contents):
        write = tf.io.write_file(path, contents)
        with tf.control_dependencies([write]):
            return {"contents": tf.io.read_file(path)}


def main() -> None:
    module = FileOps()
    target = OUT / "file_ops"
    shutil.rmtree(target, ignore_errors=True)
    signatures = {
        "match": module.match,
        "match_many": module.match_many,
        "write_then_read": module.write_then_read,
    }
    tf.saved_model.save(module, str(target), signatures=signatures)
    root = Path(tempfile.mkdtemp())
    for name, data in LAYOUT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)

    def relative(values) -> list[str]:
        return [Path(v.decode()).relative_to(root).as_posix() for v in values.numpy().tolist()]

    golden = {
        "layout": {k: v.decode() for k, v in LAYOUT.items()},
        "match": {"pattern": "*.txt", "files": relative(module.match(str(root / "*.txt"))["files"])},
        "match_many": {
            "patterns": ["*.log", "sub/*", "none*"],
            "files": relative(
                module.match_many(tf.constant([str(root / p) for p in ["*.log", "sub/*", "none*"]]))["files"]
            ),
        },
        "write_then_read": {
            "path": "new/dir/out.bin",
            "contents": module.write_then_read(str(root / "new/dir/out.bin"), "written")["contents"]
            .numpy()
            .decode(),
        },
    }
    (OUT / "file_ops.json").write_text(json.dumps(golden, indent=1) + "\n")
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
