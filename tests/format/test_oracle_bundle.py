"""TensorFlow reads the bundles and checkpoints savedmodel writes (needs the oracle venv)."""

from __future__ import annotations

import json
import os
import subprocess

import ml_dtypes
import numpy as np
import pytest

from savedmodel.format import checkpoint
from savedmodel.format.bundle import BundleWriter

pytestmark = pytest.mark.oracle

TENSORS = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3) / 3,
    "f64/scalar": np.array(np.pi),
    "f16": np.array([1.5, -0.0, 65504], np.float16),
    "bf16": np.array([1.0, -2.5, 3e38], ml_dtypes.bfloat16),
    "i8": np.array([-128, 127], np.int8),
    "u8": np.array([[0, 255]], np.uint8),
    "i16": np.array([-3], np.int16),
    "u16": np.array([65535], np.uint16),
    "i32": np.array(7, np.int32),
    "i64": np.array([2**62, -1], np.int64),
    "u32": np.array([2**32 - 1], np.uint32),
    "u64": np.array([2**64 - 1], np.uint64),
    "bool": np.array([True, False]),
    "c64": np.array([1 + 2j], np.complex64),
    "c128": np.array([[-1j]], np.complex128),
    "empty": np.zeros((0, 2), np.float32),
    "str": np.array([b"a", b"", b"\x00\xffz", "\u00e9".encode()], dtype=object),
    "str/scalar": np.array(b"hello", dtype=object),
    "a.dotted/name": np.ones(3, np.float32),
}

TF_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
prefix = sys.argv[1]
reader = tf.train.load_checkpoint(prefix)
dtypes = reader.get_variable_to_dtype_map()
out = {}
for name, shape in tf.train.list_variables(prefix):
    value = reader.get_tensor(name)
    if isinstance(value, bytes) or (isinstance(value, np.ndarray) and value.dtype == object):
        flat = [bytes(v).hex() for v in np.asarray(value, dtype=object).reshape(-1)]
        out[name] = {"dtype": dtypes[name].name, "shape": list(shape), "strings_hex": flat}
    else:
        raw = np.ascontiguousarray(value).tobytes().hex()
        out[name] = {"dtype": dtypes[name].name, "shape": list(shape), "hex": raw}
print(json.dumps(out))
"""

TF_RESTORE_SCRIPT = r"""
import sys
import numpy as np
import tensorflow as tf
dense = tf.Module()
dense.kernel = tf.Variable(tf.zeros([2, 3]))
dense.bias = tf.Variable(tf.zeros([3]))
ckpt = tf.train.Checkpoint(dense=dense, step=tf.Variable(0, dtype=tf.int64))
ckpt.read(sys.argv[1]).assert_consumed()
print(dense.kernel.numpy().tolist(), dense.bias.numpy().tolist(), int(ckpt.step.numpy()))
"""


def run_tf(oracle_python, script: str, *args: str) -> str:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [str(oracle_python), "-c", script, *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def tf_dtype_name(value: np.ndarray) -> str:
    return "string" if value.dtype == object else str(value.dtype)


def test_tf_reads_what_we_wrote(oracle_python, tmp_path) -> None:
    prefix = tmp_path / "ours" / "model.ckpt"
    full = np.arange(24, dtype=np.float32).reshape(6, 4)
    with BundleWriter(prefix, num_shards=2) as writer:
        for name, value in TENSORS.items():
            writer.add(name, value)
        writer.add_slice("part", [6, 4], [(0, 2), (0, 4)], full[:2])
        writer.add_slice("part", [6, 4], [(2, 4), (0, None)], full[2:])
    seen = json.loads(run_tf(oracle_python, TF_SCRIPT, str(prefix)))
    assert sorted(seen) == sorted([*TENSORS, "part"])
    for name, value in [*TENSORS.items(), ("part", full)]:
        got = seen[name]
        assert got["dtype"] == tf_dtype_name(value), name
        assert got["shape"] == list(value.shape), name
        if value.dtype == object:
            assert got["strings_hex"] == [bytes(v).hex() for v in value.reshape(-1)], name
        else:
            assert got["hex"] == np.ascontiguousarray(value).tobytes().hex(), name


def test_tf_restores_our_object_checkpoint(oracle_python, tmp_path) -> None:
    prefix = checkpoint.write_object_checkpoint(
        tmp_path / "ckpt-1",
        {
            "dense/kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
            "dense/bias": np.array([0.5, 1.5, 2.5], np.float32),
            "step": np.array(9, np.int64),
        },
    )
    out = run_tf(oracle_python, TF_RESTORE_SCRIPT, str(prefix))
    assert out == "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] [0.5, 1.5, 2.5] 9"
