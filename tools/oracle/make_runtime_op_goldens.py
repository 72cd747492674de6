"""Write per-op golden SavedModels for the runtime's op families (TF 2.21 oracle venv).

    tools/oracle/.venv/bin/python tools/oracle/make_runtime_op_goldens.py tests/fixtures/runtime_ops

Covers the ops of the resource, control_flow, tensor_list, lookup, io and core families
that no other golden fixture uses: a TF1 graph (ref variables, v1 control flow, raw
lookup tables, legacy ops) and a TF2 module (TensorList/TensorArray raw ops, Case,
stateful While, IdentityN). OUT_DIR/golden.json holds, per model, the ordered calls
(signature, inputs, TensorFlow's outputs) made on one freshly loaded model, since
several signatures change state.
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


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind == "S":
        flat = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.reshape(-1)]
        return {"dtype": "string", "shape": list(value.shape), "value": flat}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.tolist()}


def strings(*values: str) -> np.ndarray:
    return np.array([v.encode() for v in values], dtype=object)


# ------------------------------------------------------------------------------------ TF1 graph


def _tf1_graph() -> tuple[dict, list]:
    """Build the TF1 graph; returns (signature_def_map, main_op parts)."""
    g = tf1.get_default_graph()
    x = tf1.placeholder(tf.float32, shape=[3], name="x")
    n = tf1.placeholder(tf.int32, shape=[], name="n")
    v = tf1.Variable([1.0, 2.0, 3.0], name="v", use_resource=False)
    legacy = tf1.raw_ops.Variable(shape=[2], dtype=tf.float32, name="legacy")  # op "Variable"
    never = tf1.raw_ops.VariableV2(shape=[], dtype=tf.int32, name="never_initialized")
    main_ops = [tf1.assign(legacy, [10.0, 20.0])]

    # ref_update: AssignAdd then AssignSub on the ref, IsVariableInitialized.
    added = tf1.assign_add(v, x)
    with tf1.control_dependencies([added]):
        subbed = tf1.assign_sub(v, [0.5, 0.5, 0.5])
    legacy_added = tf1.assign_add(legacy, [1.0, 1.0])
    ref_update = tf1.saved_model.predict_signature_def(
        {"x": x},
        {
            "v": tf.identity(subbed, name="v_after"),
            "legacy": tf.identity(legacy_added, name="legacy_after"),
            "v_init": tf1.is_variable_initialized(v),
            "never_init": tf1.raw_ops.IsVariableInitialized(ref=never),
        },
    )

    # ref_cond: tf1.cond whose branches assign the ref variable (RefSwitch).
    pred = tf.reduce_sum(x) > 0
    branch = tf1.cond(pred, lambda: tf1.assign_add(v, x), lambda: tf1.assign_sub(v, x))
    ref_cond = tf1.saved_model.predict_signature_def({"x": x}, {"v": tf.identity(branch, name="cond_out")})

    # ref_loop: tf1.while_loop carrying the ref itself (RefEnter/RefMerge/RefSwitch/
    # RefIdentity/RefNextIteration/RefExit) plus a loop-invariant ref (RefEnter is_constant).
    def body(i, r):
        return i + 1, tf1.assign_add(r, x)

    _, looped = tf1.while_loop(lambda i, r: i < n, body, [tf.constant(0), v._ref()])
    total = tf1.while_loop(
        lambda i, acc: i < n,
        lambda i, acc: (i + 1, acc + tf.reduce_sum(tf1.assign_sub(legacy, [1.0, 0.0]))),
        [tf.constant(0), tf.constant(0.0)],
    )[1]
    ref_loop = tf1.saved_model.predict_signature_def(
        {"x": x, "n": n},
        {"v": tf.identity(looped, name="loop_out"), "legacy_total": tf.identity(total, name="loop_total")},
    )

    # misc: ControlTrigger, HostConst, ShardedFilespec, DestroyResourceOp, RefIdentity.
    prefix = tf1.placeholder(tf.string, shape=[], name="prefix")
    trigger = tf1.raw_ops.ControlTrigger(name="trigger")
    host = g.create_op(
        "HostConst",
        [],
        [tf.float32],
        attrs={
            "value": tf1.AttrValue(tensor=tf1.make_tensor_proto(np.array([0.25, -4.0, 8.0], np.float32))),
            "dtype": tf1.AttrValue(type=tf.float32.as_datatype_enum),
        },
        name="host_const",
    ).outputs[0]
    handle = tf1.raw_ops.VarHandleOp(dtype=tf.float32, shape=[3], shared_name="scratch", name="scratch")
    assigned = tf1.raw_ops.AssignVariableOp(resource=handle, value=x * 2.0)
    with tf1.control_dependencies([assigned]):
        read = tf1.raw_ops.ReadVariableOp(resource=handle, dtype=tf.float32)
    with tf1.control_dependencies([read]):
        destroyed = tf1.raw_ops.DestroyResourceOp(resource=handle, ignore_lookup_error=False)
    with tf1.control_dependencies([destroyed, trigger]):
        scratch = tf.identity(read, name="scratch_read")
    misc = tf1.saved_model.predict_signature_def(
        {"x": x, "prefix": prefix, "n": n},
        {
            "host": tf.identity(host + x, name="host_plus_x"),
            "filespec": tf1.raw_ops.ShardedFilespec(basename=prefix, num_shards=n, name="filespec"),
            "scratch": scratch,
            "ref_identity": tf.identity(tf1.raw_ops.RefIdentity(input=v._ref()), name="ref_ident"),
        },
    )

    # Lookup tables: InitializeTableV2 (run by main_op) and a MutableHashTableV2.
    table = tf1.raw_ops.HashTableV2(key_dtype=tf.string, value_dtype=tf.int64, shared_name="fixed")
    main_ops.append(
        tf1.raw_ops.InitializeTableV2(
            table_handle=table,
            keys=tf.constant(["a", "b", "c"]),
            values=tf.constant([7, 8, 9], tf.int64),
        )
    )
    words = tf1.placeholder(tf.string, shape=[None], name="words")
    ids = tf1.placeholder(tf.int64, shape=[None], name="ids")
    found = tf1.raw_ops.LookupTableFindV2(
        table_handle=table, keys=words, default_value=tf.constant(-1, tf.int64)
    )
    mutable = tf1.raw_ops.MutableHashTableV2(key_dtype=tf.string, value_dtype=tf.int64, shared_name="mutable")
    insert = tf1.raw_ops.LookupTableInsertV2(table_handle=mutable, keys=words, values=ids)
    remove = tf1.raw_ops.LookupTableRemoveV2(table_handle=mutable, keys=words)

    def exported(after):
        with tf1.control_dependencies([after]):
            keys, values = tf1.raw_ops.LookupTableExportV2(
                table_handle=mutable, Tkeys=tf.string, Tvalues=tf.int64
            )
        order = tf.argsort(values)  # export order is unspecified; values are unique here
        return tf.gather(keys, order), tf.gather(values, order)

    ins_keys, ins_values = exported(insert)
    rem_keys, rem_values = exported(remove)
    table_insert = tf1.saved_model.predict_signature_def(
        {"words": words, "ids": ids},
        {"keys": ins_keys, "values": ins_values, "fixed": found},
    )
    table_remove = tf1.saved_model.predict_signature_def(
        {"words": words}, {"keys": rem_keys, "values": rem_values}
    )
    signatures = {
        "ref_update": ref_update,
        "ref_cond": ref_cond,
        "ref_loop": ref_loop,
        "misc": misc,
        "table_insert": table_insert,
        "table_remove": table_remove,
        # A signature whose output is the Assign's reference itself (read when fetched).
        "ref_assign": tf1.saved_model.predict_signature_def({"x": x}, {"v": tf1.assign(v, x * 3.0)}),
    }
    return signatures, main_ops


TF1_CALLS = [
    ("ref_update", {"x": np.array([1.0, -2.0, 0.5], np.float32)}),
    ("ref_update", {"x": np.array([0.25, 0.25, 4.0], np.float32)}),
    ("ref_cond", {"x": np.array([1.0, 1.0, 1.0], np.float32)}),
    ("ref_cond", {"x": np.array([-1.0, -3.0, 0.5], np.float32)}),
    ("ref_loop", {"x": np.array([0.5, 1.0, 2.0], np.float32), "n": np.int32(3)}),
    ("ref_loop", {"x": np.array([9.0, 9.0, 9.0], np.float32), "n": np.int32(0)}),
    (
        "misc",
        {
            "x": np.array([1.0, 2.0, 3.0], np.float32),
            "prefix": np.array(b"ckpt/model", dtype=object),
            "n": np.int32(4),
        },
    ),
    (
        "misc",
        {
            "x": np.array([-1.5, 0.0, 6.0], np.float32),
            "prefix": np.array(b"other", dtype=object),
            "n": np.int32(1),
        },
    ),
    ("table_insert", {"words": strings("b", "zz", "a"), "ids": np.array([5, 3, 11], np.int64)}),
    ("table_insert", {"words": strings("q", "b"), "ids": np.array([1, 40], np.int64)}),
    ("table_remove", {"words": strings("zz", "missing")}),
    ("table_remove", {"words": strings("a", "b", "q")}),
    ("ref_assign", {"x": np.array([1.0, 0.5, -2.0], np.float32)}),
    ("ref_update", {"x": np.array([1.0, 1.0, 1.0], np.float32)}),
]


def tf1_ops(out: Path, golden: dict) -> None:
    path = out / "tf1_ops"
    shutil.rmtree(path, ignore_errors=True)
    tf1.disable_control_flow_v2()
    with tf.Graph().as_default():
        signatures, main_ops = _tf1_graph()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            builder = tf1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map=signatures, main_op=tf.group(*main_ops)
            )
            builder.save()
    tf1.enable_control_flow_v2()
    calls = []
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta_graph = tf1.saved_model.load(sess, ["serve"], str(path))
        for signature, inputs in TF1_CALLS:
            sig = meta_graph.signature_def[signature]
            feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
            names = sorted(sig.outputs)
            values = sess.run([sig.outputs[k].name for k in names], feed_dict=feeds)
            calls.append(
                {
                    "signature": signature,
                    "inputs": jsonable(inputs),
                    "outputs": jsonable(dict(zip(names, values, strict=True))),
                }
            )
    golden["tf1_ops"] = {"calls": calls}


# ------------------------------------------------------------------------------------ TF2 module

F32 = tf.TensorSpec([None], tf.float32)


class Tf2Ops(tf.Module):
    def __init__(self):
        super().__init__()
        self.counter = tf.Variable(0, dtype=tf.int32)
        self.total = tf.Variable(0.0)

    @tf.function(input_signature=[F32, tf.TensorSpec([], tf.int32)])
    def tensor_list(self, x, k):
        empty = tf.raw_ops.EmptyTensorList(
            element_shape=tf.constant([], tf.int32), max_num_elements=-1, element_dtype=tf.float32
        )
        lst = empty
        for scale in (1.0, 2.0, 3.0):
            lst = tf.raw_ops.TensorListPushBack(input_handle=lst, tensor=tf.reduce_sum(x) * scale)
        lst, popped = tf.raw_ops.TensorListPopBack(
            input_handle=lst, element_shape=tf.constant([], tf.int32), element_dtype=tf.float32
        )
        length = tf.raw_ops.TensorListLength(input_handle=lst)
        resized = tf.raw_ops.TensorListResize(input_handle=lst, size=k)
        scattered = tf.raw_ops.TensorListScatterIntoExistingList(
            input_handle=resized, tensor=tf.stack([x[0], x[-1]]), indices=tf.constant([0, 3])
        )
        gathered = tf.raw_ops.TensorListGather(
            input_handle=scattered,
            indices=tf.constant([3, 0, 1]),
            element_shape=tf.constant([], tf.int32),
            element_dtype=tf.float32,
        )
        rows = tf.reshape(tf.tile(x, [2]), [2, -1])
        matrix_list = tf.raw_ops.TensorListScatterV2(
            tensor=rows,
            indices=tf.constant([2, 0]),
            element_shape=tf.constant([-1], tf.int32),
            num_elements=3,
        )
        elem_shape = tf.raw_ops.TensorListElementShape(input_handle=matrix_list, shape_type=tf.int32)
        split = tf.raw_ops.TensorListSplit(
            tensor=x,
            element_shape=tf.constant([-1], tf.int32),
            lengths=tf.stack([tf.constant(1, tf.int64), tf.size(x, out_type=tf.int64) - 1]),
        )
        concat, lengths = tf.raw_ops.TensorListConcatV2(
            input_handle=split,
            element_shape=tf.constant([-1], tf.int32),
            leading_dims=tf.constant([], tf.int64),
            element_dtype=tf.float32,
        )
        return {
            "popped": popped,
            "length": length,
            "gathered": gathered,
            "elem_shape": elem_shape,
            "concat": concat * 2.0,
            "lengths": lengths,
        }

    @tf.function(input_signature=[F32, tf.TensorSpec([None], tf.int32)])
    def tensor_array(self, x, lengths):
        handle, flow = tf.raw_ops.TensorArrayV3(
            size=tf.size(lengths),
            dtype=tf.float32,
            element_shape=tf.TensorShape(None),
            dynamic_size=False,
            clear_after_read=True,
            identical_element_shapes=False,
        )
        flow = tf.raw_ops.TensorArraySplitV3(
            handle=handle, value=x, lengths=tf.cast(lengths, tf.int64), flow_in=flow
        )
        size = tf.raw_ops.TensorArraySizeV3(handle=handle, flow_in=flow)
        value, element_lengths = tf.raw_ops.TensorArrayConcatV3(handle=handle, flow_in=flow, dtype=tf.float32)
        with tf.control_dependencies([value, size]):
            close = tf.raw_ops.TensorArrayCloseV3(handle=handle)
        with tf.control_dependencies([close]):
            return {
                "value": tf.identity(value) + 1.0,
                "lengths": tf.identity(element_lengths),
                "size": tf.identity(size),
            }

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), F32])
    def switch(self, index, x):
        def bump():
            self.counter.assign_add(1)
            return x * 2.0

        result = tf.switch_case(index, [lambda: x + 1.0, bump, lambda: -x])
        return {"result": result, "counter": self.counter.read_value()}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), F32])
    def loop(self, n, x):
        def body(i, acc):
            self.total.assign_add(tf.reduce_sum(acc))
            return i + 1, acc * 0.5

        _, acc = tf.while_loop(lambda i, acc: i < n, body, [tf.constant(0), x])
        return {"acc": acc, "total": self.total.read_value()}

    @tf.function(input_signature=[F32, tf.TensorSpec([None], tf.string)])
    def identity_n(self, x, s):
        a, b = tf.identity_n([x, s])
        return {"x": a, "s": b}


TF2_CALLS = [
    ("tensor_list", {"x": np.array([1.0, 2.0, 4.0], np.float32), "k": np.int32(5)}),
    ("tensor_list", {"x": np.array([-3.0, 0.5], np.float32), "k": np.int32(4)}),
    (
        "tensor_array",
        {"x": np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32), "lengths": np.array([2, 0, 3], np.int32)},
    ),
    ("tensor_array", {"x": np.array([7.5], np.float32), "lengths": np.array([1], np.int32)}),
    ("switch", {"index": np.int32(0), "x": np.array([1.0, 2.0], np.float32)}),
    ("switch", {"index": np.int32(1), "x": np.array([1.0, 2.0], np.float32)}),
    ("switch", {"index": np.int32(2), "x": np.array([3.0], np.float32)}),
    ("switch", {"index": np.int32(7), "x": np.array([0.5], np.float32)}),
    ("loop", {"n": np.int32(3), "x": np.array([2.0, 4.0], np.float32)}),
    ("loop", {"n": np.int32(0), "x": np.array([1.0], np.float32)}),
    ("identity_n", {"x": np.array([1.0, -2.0], np.float32), "s": strings("p", "q", "")}),
]


def tf2_ops(out: Path, golden: dict) -> None:
    path = out / "tf2_ops"
    shutil.rmtree(path, ignore_errors=True)
    module = Tf2Ops()
    names = ["tensor_list", "tensor_array", "switch", "loop", "identity_n"]
    tf.saved_model.save(module, str(path), signatures={name: getattr(module, name) for name in names})
    loaded = tf.saved_model.load(str(path))
    calls = []
    for signature, inputs in TF2_CALLS:
        result = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        calls.append({"signature": signature, "inputs": jsonable(inputs), "outputs": jsonable(result)})
    golden["tf2_ops"] = {"calls": calls}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/runtime_ops")
    out.mkdir(parents=True, exist_ok=True)
    golden: dict = {}
    tf1_ops(out, golden)
    tf2_ops(out, golden)
    (out / "golden.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
