"""Write the format layer's fixtures (tests/fixtures/format/) with real TensorFlow 2.21.

Run with the oracle venv:

    TF_USE_LEGACY_KERAS=1 tools/oracle/.venv/bin/python tools/oracle/make_format_fixtures.py [OUT_DIR]
    tools/oracle/.venv/bin/python tools/oracle/make_format_fixtures.py --big-keras DIR  # > 1 MB model

OUT_DIR defaults to tests/fixtures/format. It receives small SavedModels and
checkpoints, `<name>.show_all.txt` (saved_model_cli show --all, PYTHONHASHSEED=0)
beside each SavedModel, and golden.json:

    {"bundles": {<prefix relative to OUT_DIR>: {
         "list_variables": [[name, shape], ...],            # tf.train.list_variables
         "tensors": {name: {"dtype", "shape", "hex" | "sha256", "strings_hex"?}}}},
     "fingerprints": {<saved model dir>: {field: value}}}

Numeric values are stored exactly as the hex of their little-endian bytes (or a
sha256 of them when large); strings as the hex of each element.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "format"
HEX_LIMIT = 4096


def configure_cpus(count: int = 3) -> None:
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)


# --------------------------------------------------------------------------- goldens


def describe(value) -> dict:
    if isinstance(value, bytes):  # TF returns scalar strings as bytes, not arrays
        boxed = np.empty((), dtype=object)
        boxed[()] = value
        value = boxed
    value = np.asarray(value)
    out: dict = {"shape": list(value.shape)}
    if value.dtype == object:
        out["dtype"] = "string"
        out["strings_hex"] = [bytes(v).hex() for v in value.reshape(-1)]
        return out
    out["dtype"] = tf.as_dtype(value.dtype).name
    raw = np.ascontiguousarray(value).tobytes()
    if len(raw) <= HEX_LIMIT:
        out["hex"] = raw.hex()
    else:
        out["sha256"] = hashlib.sha256(raw).hexdigest()
    return out


def bundle_golden(prefix: Path, out: Path, golden: dict) -> None:
    reader = tf.train.load_checkpoint(str(prefix))
    dtypes = reader.get_variable_to_dtype_map()
    tensors = {}
    for name, shape in tf.train.list_variables(str(prefix)):
        value = reader.get_tensor(name)
        entry = describe(value)
        entry["dtype"] = dtypes[name].name
        assert entry["shape"] == list(shape), (name, shape, entry["shape"])
        tensors[name] = entry
    golden["bundles"][str(prefix.relative_to(out))] = {
        "list_variables": [[n, list(s)] for n, s in tf.train.list_variables(str(prefix))],
        "tensors": tensors,
    }


def fingerprint_golden(path: Path, out: Path, golden: dict) -> None:
    fp = tf.saved_model.experimental.read_fingerprint(str(path))
    golden["fingerprints"][str(path.relative_to(out))] = {
        "saved_model_checksum": fp.saved_model_checksum,
        "graph_def_program_hash": fp.graph_def_program_hash,
        "signature_def_hash": fp.signature_def_hash,
        "saved_object_graph_hash": fp.saved_object_graph_hash,
        "checkpoint_hash": fp.checkpoint_hash,
        "singleprint": fp.singleprint(),
    }


def show_all(path: Path) -> None:
    cli = Path(sys.executable).with_name("saved_model_cli")
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [str(cli), "show", "--dir", str(path), "--all"], env=env, capture_output=True, text=True, check=True
    )
    path.with_name(path.name + ".show_all.txt").write_text(result.stdout)


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    for stale in path.parent.glob(path.name + ".*"):
        if stale.is_file():
            stale.unlink()
    return path


# --------------------------------------------------------------------------- fixtures


class DtypeModule(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.text = tf.Variable(np.array([b"hello", b"", b"caf\xc3\xa9", b"\x00\xff\x01"], dtype=object))
        self.scalar_text = tf.Variable(b"a scalar string")
        self.empty_text = tf.Variable(tf.zeros([0], tf.string))
        self.half = tf.Variable(np.array([[1.5, -2.25, 65504.0], [0.0, -0.0, 6e-8]], np.float16))
        self.bf16 = tf.Variable(tf.constant([1.0, -3.140625, 1e30, 0.0078125], tf.bfloat16))
        self.int64 = tf.Variable(np.array([0, -1, 2**62, -(2**63)], np.int64))
        self.flags = tf.Variable(np.array([[True, False], [False, True]]))
        self.matrix = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0)
        self.float64 = tf.Variable(np.array([np.pi, -np.e], np.float64))
        self.int8 = tf.Variable(np.array([-128, 0, 127], np.int8))
        self.uint8 = tf.Variable(np.array([0, 255], np.uint8))
        self.complex = tf.Variable(np.array([1 + 2j, -3.5j], np.complex64))
        self.count = tf.Variable(7, dtype=tf.int32)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def __call__(self, x):
        return {"y": tf.matmul(x, self.matrix, transpose_b=True), "n": self.count}


def tf2_dtypes(out: Path, golden: dict) -> None:
    path = fresh(out / "tf2-dtypes")
    module = DtypeModule()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__})
    bundle_golden(path / "variables" / "variables", out, golden)
    fingerprint_golden(path, out, golden)
    show_all(path)


def multi_shard(out: Path, golden: dict) -> None:
    """Several shards: variables on three CPU devices, saved with a max-shard-size policy.

    TF 2.21's default policy shards by task (one shard here); MaxShardSizePolicy
    writes several shards and splits tensors bigger than the limit into slices.
    """
    path = fresh(out / "multi-shard")
    module = tf.Module()
    for i in range(3):
        with tf.device(f"/cpu:{i}"):
            setattr(module, f"v{i}", tf.Variable(np.arange(4 * (i + 1), dtype=np.float32) + i))
            setattr(module, f"s{i}", tf.Variable(f"shard {i}".encode()))
    module.f = tf.function(lambda: module.v0 + 1.0, input_signature=[])
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=40)
    tf.saved_model.save(
        module,
        str(path),
        signatures={"serving_default": module.f},
        options=tf.saved_model.SaveOptions(experimental_sharding_callback=policy),
    )
    bundle_golden(path / "variables" / "variables", out, golden)
    fingerprint_golden(path, out, golden)
    show_all(path)
    ckpt_dir = fresh(out / "multi-shard-ckpt")
    prefix = tf.train.Checkpoint(root=module).write(
        str(ckpt_dir / "ckpt"), options=tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    )
    bundle_golden(Path(prefix), out, golden)


def sliced_initializer(full: np.ndarray):
    """An initializer giving each partition its part of `full`."""

    def init(shape, dtype=None, partition_info=None):
        if partition_info is None:
            return tf.constant(full, dtype=dtype)
        index = tuple(slice(o, o + s) for o, s in zip(partition_info.var_offset, shape, strict=True))
        return tf.constant(full[index], dtype=dtype)

    return init


def tf1_partitioned(out: Path, golden: dict) -> None:
    """A partitioned variable saved by tf1 Saver (checkpoint) and Builder (SavedModel)."""
    ckpt_dir = fresh(out / "tf1-partitioned-ckpt")
    sm_dir = fresh(out / "tf1-partitioned")
    with tf.Graph().as_default():
        values = np.arange(40, dtype=np.float32).reshape(10, 4) * 0.5
        part = tf1.get_variable(
            "part",
            shape=[10, 4],
            initializer=sliced_initializer(values),
            partitioner=tf1.fixed_size_partitioner(3),
        )
        cols = tf1.get_variable(
            "scope/cols",
            shape=[2, 7],
            dtype=tf.int32,
            initializer=sliced_initializer(np.arange(14).reshape(2, 7)),
            partitioner=tf1.fixed_size_partitioner(2, axis=1),
        )
        plain = tf1.get_variable("plain", initializer=tf.constant([1.0, 2.0]))
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        y = tf.matmul(x, tf.transpose(tf.convert_to_tensor(part))) + tf.reduce_sum(plain)
        z = tf.reduce_sum(tf.convert_to_tensor(cols))
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            tf1.train.Saver(save_relative_paths=True).save(sess, str(ckpt_dir / "model.ckpt"))
            builder = tf1.saved_model.Builder(str(sm_dir))
            sig = tf1.saved_model.predict_signature_def(inputs={"x": x}, outputs={"y": y, "z": z})
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()
    bundle_golden(ckpt_dir / "model.ckpt", out, golden)
    bundle_golden(sm_dir / "variables" / "variables", out, golden)
    show_all(sm_dir)


def tf1_checkpoint(out: Path, golden: dict) -> None:
    """A plain TF1 checkpoint (Saver, V2 format) with a `checkpoint` state file."""
    ckpt_dir = fresh(out / "tf1-ckpt")
    with tf.Graph().as_default():
        tf1.get_variable("scope/w", initializer=tf.constant([[1.0, 2.0], [3.0, 4.0]]))
        tf1.get_variable("scope/b.bias", initializer=tf.constant([0.5, -0.5], tf.float64))
        tf1.get_variable("words", initializer=tf.constant([b"x", b"yz"]))
        tf1.train.get_or_create_global_step()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(tf1.assign_add(tf1.train.get_global_step(), 42))
            tf1.train.Saver(save_relative_paths=True).save(sess, str(ckpt_dir / "model.ckpt"), global_step=42)
    bundle_golden(ckpt_dir / "model.ckpt-42", out, golden)


def tf2_checkpoint(out: Path, golden: dict) -> None:
    """A TF2 object-based checkpoint whose names need escaping ('.' and '/')."""
    ckpt_dir = fresh(out / "tf2-ckpt")
    inner = tf.Module()
    inner.kernel = tf.Variable([[1.0, 2.0, 3.0]])
    inner.items = [tf.Variable(1), tf.Variable(2)]
    inner.table = {"a.b": tf.Variable([True]), "c/d": tf.Variable([4.0], dtype=tf.float16)}
    ckpt = tf.train.Checkpoint(**{"net": inner, "odd.name/x": tf.Variable(5.0, dtype=tf.float64)})
    prefix = ckpt.save(str(ckpt_dir / "ckpt"))
    bundle_golden(Path(prefix), out, golden)


def keras_small(out: Path, golden: dict) -> None:
    import tf_keras as keras

    path = fresh(out / "keras-dense")
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.layers.Input([3]), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones([4, 3], np.float32), np.ones([4, 2], np.float32), epochs=1, verbose=0)
    model.save(str(path), save_format="tf")
    bundle_golden(path / "variables" / "variables", out, golden)
    fingerprint_golden(path, out, golden)
    show_all(path)


def tensor_proto_cases() -> list[tuple[str, object, object, object]]:
    """(name, value, dtype, shape) passed to tf.make_tensor_proto."""
    import ml_dtypes
    from tensorflow.python.framework import dtypes as tf_dtypes

    strings = np.array([b"a", b"", b"\x00\xff"], dtype=object)
    return [
        ("float32_scalar", np.float32(1.5), None, None),
        ("float32_matrix", np.arange(6, dtype=np.float32).reshape(2, 3), None, None),
        ("float32_broadcast", np.float32(0.25), None, [2, 3]),
        ("float64_vector", np.array([np.pi, -1.0]), None, None),
        ("float16_scalar", np.float16(-2.5), None, None),
        ("float16_vector", np.array([1.5, -0.0, 65504], np.float16), None, None),
        ("float16_broadcast", np.float16(3.0), None, [4]),
        ("bfloat16_vector", np.array([1.0, -2.5, 3e38], ml_dtypes.bfloat16), tf.bfloat16, None),
        ("bool_vector", np.array([True, False, True]), None, None),
        ("bool_broadcast", np.bool_(True), None, [2, 2]),
        ("complex64_vector", np.array([1 + 2j, -3j], np.complex64), None, None),
        ("complex128_scalar", np.complex128(0.5 - 1j), None, None),
        ("string_vector", strings, None, None),
        ("string_scalar", b"hello", None, None),
        ("string_broadcast", b"x", None, [3]),
        ("int4_vector", np.array([-8, 7, 0], ml_dtypes.int4), tf_dtypes.int4, None),
        ("uint4_vector", np.array([15, 1], ml_dtypes.uint4), tf_dtypes.uint4, None),
        ("int8_matrix", np.array([[-128, 127]], np.int8), None, None),
        ("uint16_vector", np.array([1, 65535], np.uint16), None, None),
        ("int32_scalar", np.int32(-7), None, None),
        ("int64_vector", np.array([2**62, -1], np.int64), None, None),
        ("int64_broadcast", np.int64(5), None, [3]),
        ("uint32_vector", np.array([2**32 - 1, 0], np.uint32), None, None),
        ("uint64_vector", np.array([2**64 - 1], np.uint64), None, None),
        ("float8_vector", np.array([1.0, -2.0], ml_dtypes.float8_e4m3fn), tf_dtypes.float8_e4m3fn, None),
        ("empty_float32", np.zeros([0, 3], np.float32), None, None),
    ]


def handmade_protos() -> list[tuple[str, object]]:
    """Hand-built TensorProtos decoded by TF's C++ Tensor::FromProto (via tf.io.parse_tensor)."""
    from tensorflow.core.framework import tensor_pb2

    def proto(dtype, shape, **fields):
        message = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
        for size in shape:
            message.tensor_shape.dim.add(size=size)
        for field, values in fields.items():
            getattr(message, field).extend(values)
        return message

    return [
        ("repeat_last_float", proto(tf.float32, [5], float_val=[1.0, 2.0])),
        ("zeros_when_empty_int32", proto(tf.int32, [2, 2])),
        ("repeat_last_half", proto(tf.float16, [3], half_val=[0x3C00, 0xC000])),
        ("repeat_last_bfloat16", proto(tf.bfloat16, [3], half_val=[0x3F80])),
        ("repeat_last_string", proto(tf.string, [3], string_val=[b"p", b"q"])),
        ("empty_strings", proto(tf.string, [2])),
        ("repeat_last_complex64", proto(tf.complex64, [2], scomplex_val=[1.0, 2.0])),
        ("repeat_last_bool", proto(tf.bool, [3], bool_val=[False, True])),
        ("int_val_int8", proto(tf.int8, [2], int_val=[-5, 6])),
        ("int64_val_repeat", proto(tf.int64, [3], int64_val=[9])),
    ]


def tensor_protos(golden: dict) -> None:
    cases = {}
    for name, value, dtype, shape in tensor_proto_cases():
        made = tf.make_tensor_proto(value, dtype=dtype, shape=shape)
        back = tf.io.parse_tensor(made.SerializeToString(), out_type=tf.as_dtype(made.dtype)).numpy()
        given = describe(value)
        cases[name] = {
            "input": given,
            "dtype_arg": None if dtype is None else dtype.name,
            "shape_arg": shape,
            "proto_hex": made.SerializeToString(deterministic=True).hex(),
            "tf_value": describe(back),
        }
    for name, message in handmade_protos():
        back = tf.io.parse_tensor(message.SerializeToString(), out_type=tf.as_dtype(message.dtype)).numpy()
        cases[name] = {"proto_hex": message.SerializeToString().hex(), "tf_value": describe(back)}
    golden["tensor_protos"] = cases


def big_keras(target: Path) -> Path:
    """A tf-keras model with > 1 MB of weights (on demand, for the cache)."""
    import tf_keras as keras

    fresh(target)
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [keras.layers.Input([256]), keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(256)]
    )
    model.save(str(target), save_format="tf")
    golden = {"bundles": {}, "fingerprints": {}}
    bundle_golden(target / "variables" / "variables", target.parent, golden)
    fingerprint_golden(target, target.parent, golden)
    (target.parent / (target.name + ".golden.json")).write_text(json.dumps(golden, indent=1, sort_keys=True))
    return target


def main(argv: list[str]) -> None:
    if argv[:1] == ["--big-keras"]:
        big_keras(Path(argv[1]).resolve())
        return
    out = Path(argv[0]).resolve() if argv else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    configure_cpus()
    golden: dict = {"bundles": {}, "fingerprints": {}}
    for make in (tf2_dtypes, multi_shard, tf1_partitioned, tf1_checkpoint, tf2_checkpoint, keras_small):
        make(out, golden)
    tensor_protos(golden)
    (out / "golden.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
