"""Write TF1 training SavedModels and TensorFlow's values after a few train steps (TF 2.21 oracle).

    tools/oracle/.venv/bin/python tools/oracle/make_training_fixtures.py tests/fixtures/training

Each model is a TF1 graph (an MLP with sparse softmax cross entropy, a CNN with dense-label
softmax cross entropy, batch norm, max and average pooling and an L2 penalty) built once with
reference variables and once with resource variables. Its gradients are computed once and
every optimizer applies them to the same variables: the "train" meta graph (tag "train") has a
`train` signature (inputs x, labels; output loss, the loss before the step) and one
`train_<optimizer>` signature per other optimizer; the train ops are also listed in the
"train_ops" collection. A separate inference graph with the same variables is the "serve" meta
graph (`serving_default`: x -> probabilities).

OUT_DIR/golden.json.gz holds, per model, the ordered phases replayed by the tests on one freshly
loaded model: per phase the signature, its train op's name, the loss of each of STEPS steps, and
every variable's value after them; then the serving output after all phases.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow.compat.v1 as tf1  # noqa: E402

STEPS = 3
_rng = np.random.default_rng(20261206)


def jsonable(value: Any) -> dict[str, Any]:
    value = np.asarray(value)
    if value.dtype == np.float32:  # the shortest decimals that give the same float32 back
        flat = [float(str(v)) for v in value.reshape(-1)]
        return {"dtype": "float32", "shape": list(value.shape), "value": flat}
    return {"dtype": str(value.dtype), "shape": list(value.shape), "value": value.reshape(-1).tolist()}


# ------------------------------------------------------------------------------------ the models


def _init(shape: list[int], scale: float) -> np.ndarray:
    return _rng.uniform(-scale, scale, size=shape).astype(np.float32)


def _variable(name: str, value: np.ndarray) -> Any:
    return tf1.get_variable(name, initializer=tf1.constant_initializer(value), shape=value.shape)


def _dense(x: Any, units: int, name: str, values: dict[str, np.ndarray]) -> Any:
    fan_in = int(x.shape[-1])
    kernel = _variable(f"{name}/kernel", values.setdefault(f"{name}/kernel", _init([fan_in, units], 0.7)))
    bias = _variable(f"{name}/bias", values.setdefault(f"{name}/bias", _init([units], 0.1)))
    return tf.nn.bias_add(tf.matmul(x, kernel), bias)


def mlp(values: dict[str, np.ndarray]) -> tuple[Any, Any, Any, Any]:
    """(x, labels, logits, loss)."""
    x = tf1.placeholder(tf.float32, [None, 4], name="x")
    labels = tf1.placeholder(tf.int32, [None], name="labels")
    h = tf.nn.tanh(_dense(x, 6, "dense", values))
    logits = _dense(h, 3, "logits", values)
    xent = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return x, labels, logits, tf.reduce_mean(xent, name="loss")


def embed(values: dict[str, np.ndarray]) -> tuple[Any, Any, Any, Any]:
    """Mean of embedding rows -> logits: the embedding's gradient is sparse (IndexedSlices), so
    the optimizers use their sparse updates (with repeated ids: the feeds repeat some)."""
    x = tf1.placeholder(tf.int32, [None, 3], name="x")
    labels = tf1.placeholder(tf.int32, [None], name="labels")
    table = _variable("embedding", values.setdefault("embedding", _init([10, 4], 0.8)))
    h = tf.reduce_mean(tf.nn.embedding_lookup(table, x), axis=1)
    logits = _dense(h, 3, "logits", values)
    xent = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return x, labels, logits, tf.reduce_mean(xent, name="loss")


def rnn(values: dict[str, np.ndarray]) -> tuple[Any, Any, Any, Any]:
    """A tanh RNN as a while loop over the time steps, then a cond: with TF1 control flow its
    gradient loop pops the forward loop's intermediates from stacks (StackV2); with TF2 control
    flow (While/If functions) cond_v2 keeps intermediates in optionals."""
    x = tf1.placeholder(tf.float32, [None, 4, 3], name="x")
    labels = tf1.placeholder(tf.int32, [None], name="labels")
    w = _variable("cell/kernel", values.setdefault("cell/kernel", _init([3, 5], 0.6)))
    u = _variable("cell/recurrent", values.setdefault("cell/recurrent", _init([5, 5], 0.5)))
    b = _variable("cell/bias", values.setdefault("cell/bias", _init([5], 0.1)))
    steps = tf.shape(x)[1]

    def body(i: Any, h: Any) -> tuple[Any, Any]:
        return i + 1, tf.tanh(tf.matmul(x[:, i, :], w) + tf.matmul(h, u) + b)

    _, h = tf1.while_loop(lambda i, h: i < steps, body, [tf.constant(0), tf.zeros([tf.shape(x)[0], 5])])
    # Only one branch has intermediates the gradient needs: cond_v2 passes them as optionals.
    h = tf1.cond(tf.reduce_sum(h) > 0, lambda: h * 1.5, lambda: tf.sigmoid(h) * h)
    logits = _dense(h, 3, "logits", values)
    xent = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return x, labels, logits, tf.reduce_mean(xent, name="loss")


def rnn_array(values: dict[str, np.ndarray]) -> tuple[Any, Any, Any, Any]:
    """The RNN reading its inputs from and writing its outputs to TensorArrays (what TF1's
    dynamic_rnn does): the gradient reads and writes the arrays' gradient arrays."""
    x = tf1.placeholder(tf.float32, [None, 4, 3], name="x")
    labels = tf1.placeholder(tf.int32, [None], name="labels")
    w = _variable("cell/kernel", values.setdefault("cell/kernel", _init([3, 5], 0.6)))
    u = _variable("cell/recurrent", values.setdefault("cell/recurrent", _init([5, 5], 0.5)))
    b = _variable("cell/bias", values.setdefault("cell/bias", _init([5], 0.1)))
    steps = tf.transpose(x, [1, 0, 2])
    inputs = tf.TensorArray(tf.float32, size=tf.shape(steps)[0]).unstack(steps)
    outputs = tf.TensorArray(tf.float32, size=tf.shape(steps)[0])

    def body(i: Any, h: Any, out: Any) -> tuple[Any, Any, Any]:
        h = tf.tanh(tf.matmul(inputs.read(i), w) + tf.matmul(h, u) + b)
        return i + 1, h, out.write(i, h)

    start = [tf.constant(0), tf.zeros([tf.shape(x)[0], 5]), outputs]
    _, _, outputs = tf1.while_loop(lambda i, h, out: i < tf.shape(steps)[0], body, start)
    logits = _dense(tf.reduce_mean(outputs.stack(), axis=0), 3, "logits", values)
    xent = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return x, labels, logits, tf.reduce_mean(xent, name="loss")


def cnn(values: dict[str, np.ndarray]) -> tuple[Any, Any, Any, Any]:
    """(x, labels, logits, loss); batch norm uses the batch's statistics (no moving averages)."""
    x = tf1.placeholder(tf.float32, [None, 6, 6, 2], name="x")
    labels = tf1.placeholder(tf.float32, [None, 3], name="labels")
    kernel = _variable("conv/kernel", values.setdefault("conv/kernel", _init([3, 3, 2, 4], 0.5)))
    bias = _variable("conv/bias", values.setdefault("conv/bias", _init([4], 0.1)))
    h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias))
    gamma = _variable("bn/gamma", values.setdefault("bn/gamma", 1 + _init([4], 0.2)))
    beta = _variable("bn/beta", values.setdefault("bn/beta", _init([4], 0.2)))
    h, _, _ = tf1.nn.fused_batch_norm(h, gamma, beta, epsilon=0.001, is_training=True)
    h = tf.nn.max_pool2d(h, 2, 2, "VALID")
    h = tf.nn.avg_pool2d(h, 2, 1, "SAME")
    h = tf.reshape(h, [-1, 3 * 3 * 4])
    logits = _dense(h, 3, "logits", values)
    xent = tf1.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
    penalty = tf.add_n([tf.nn.l2_loss(v) for v in tf1.trainable_variables()])
    return x, labels, logits, tf.add(tf.reduce_mean(xent), 0.01 * penalty, name="loss")


# ------------------------------------------------------------------------------------ optimizers

Grads = list[tuple[Any, Any]]


def _slot(var: Any, name: str, value: float, resource: bool) -> Any:
    base = var.op.name
    init = tf1.constant_initializer(value)
    return tf1.get_variable(f"{base}/{name}", shape=var.shape, initializer=init, use_resource=resource)


def _scalar(v: float) -> Any:
    return tf.constant(v, tf.float32)


def _raw_apply(op: str, slots: list[tuple[str, float]], hyper: Callable[[Any], dict[str, Any]]) -> Any:
    """An optimizer written with the raw training op: one update per (gradient, variable)."""

    def apply(grads: Grads, resource: bool) -> Any:
        updates = []
        for grad, var in grads:
            state = {"var": var.handle if resource else var}
            for name, init in slots:
                slot = _slot(var, f"{op}_{name}", init, resource)
                state[name] = slot.handle if resource else slot
            sparse = isinstance(grad, tf.IndexedSlices)  # an embedding's gradient: its rows
            prefix = ("ResourceSparseApply" if sparse else "ResourceApply") if resource else "Apply"
            if sparse and not resource:
                prefix = "SparseApply"
            raw = getattr(tf.raw_ops, prefix + op)
            extra = {"indices": grad.indices} if sparse else {}
            updates.append(raw(**state, **hyper(grad.values if sparse else grad), **extra))
        return tf.group(*updates, name=f"train_{op}")

    return apply


def _tf1_optimizer(make: Callable[[], Any], global_step: bool = False) -> Any:
    def apply(grads: Grads, resource: bool) -> Any:
        step = tf1.train.get_or_create_global_step() if global_step else None
        return make().apply_gradients(grads, global_step=step)

    return apply


def _adamax(grad: Any) -> dict[str, Any]:
    return {
        "beta1_power": _scalar(0.9),
        "lr": _scalar(0.05),
        "beta1": _scalar(0.9),
        "beta2": _scalar(0.99),
        "epsilon": _scalar(1e-7),
        "grad": grad,
    }


def _sign(name: str, value: float) -> Callable[[Any], dict[str, Any]]:
    def hyper(grad: Any) -> dict[str, Any]:
        return {
            "lr": _scalar(0.05),
            name: _scalar(value),
            "sign_decay": _scalar(0.9),
            "beta": _scalar(0.8),
            "grad": grad,
        }

    return hyper


def _amsgrad(grad: Any) -> dict[str, Any]:
    return {
        "beta1_power": _scalar(0.9),
        "beta2_power": _scalar(0.999),
        "lr": _scalar(0.02),
        "beta1": _scalar(0.9),
        "beta2": _scalar(0.999),
        "epsilon": _scalar(1e-7),
        "grad": grad,
    }


# Optimizers of the ref and resource MLPs (the full set); name -> (builder, resource only).
MLP_OPTIMIZERS: dict[str, tuple[Any, bool]] = {
    "sgd": (_tf1_optimizer(lambda: tf1.train.GradientDescentOptimizer(0.2), global_step=True), False),
    "momentum": (_tf1_optimizer(lambda: tf1.train.MomentumOptimizer(0.05, 0.9)), False),
    "nesterov": (_tf1_optimizer(lambda: tf1.train.MomentumOptimizer(0.05, 0.8, use_nesterov=True)), False),
    "adam": (_tf1_optimizer(lambda: tf1.train.AdamOptimizer(0.02)), False),
    "adagrad": (_tf1_optimizer(lambda: tf1.train.AdagradOptimizer(0.1)), False),
    "rmsprop": (_tf1_optimizer(lambda: tf1.train.RMSPropOptimizer(0.01, momentum=0.3)), False),
    "centered_rmsprop": (
        _tf1_optimizer(lambda: tf1.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True)),
        False,
    ),
    "adadelta": (_tf1_optimizer(lambda: tf1.train.AdadeltaOptimizer(1.0, rho=0.9)), False),
    "ftrl": (
        _tf1_optimizer(
            lambda: tf1.train.FtrlOptimizer(
                0.1, l1_regularization_strength=0.001, l2_regularization_strength=0.01
            )
        ),
        False,
    ),
    "ftrl_shrinkage": (
        _tf1_optimizer(
            lambda: tf1.train.FtrlOptimizer(
                0.1,
                learning_rate_power=-0.7,
                l1_regularization_strength=0.002,
                l2_shrinkage_regularization_strength=0.01,
            )
        ),
        False,
    ),
    "proximal_sgd": (
        _tf1_optimizer(
            lambda: tf1.train.ProximalGradientDescentOptimizer(
                0.1, l1_regularization_strength=0.001, l2_regularization_strength=0.01
            )
        ),
        False,
    ),
    "proximal_adagrad": (
        _tf1_optimizer(
            lambda: tf1.train.ProximalAdagradOptimizer(
                0.1, l1_regularization_strength=0.001, l2_regularization_strength=0.01
            )
        ),
        False,
    ),
    "adagrad_v2": (
        _raw_apply(
            "AdagradV2", [("accum", 0.1)], lambda g: {"lr": _scalar(0.1), "epsilon": _scalar(1e-3), "grad": g}
        ),
        False,
    ),
    "adamax": (_raw_apply("AdaMax", [("m", 0.0), ("v", 0.0)], _adamax), False),
    "add_sign": (_raw_apply("AddSign", [("m", 0.0)], _sign("alpha", 1.0)), False),
    "power_sign": (_raw_apply("PowerSign", [("m", 0.0)], _sign("logbase", 0.5)), False),
    "keras_momentum": (
        _raw_apply(
            "KerasMomentum",
            [("accum", 0.0)],
            lambda g: {"lr": _scalar(0.05), "grad": g, "momentum": _scalar(0.9), "use_nesterov": True},
        ),
        True,
    ),
    "amsgrad": (_raw_apply("AdamWithAmsgrad", [("m", 0.0), ("v", 0.0), ("vhat", 0.0)], _amsgrad), True),
    "adagrad_da": (
        _tf1_optimizer(
            lambda: tf1.train.AdagradDAOptimizer(
                0.1,
                tf1.train.get_or_create_global_step(),
                l1_regularization_strength=0.001,
                l2_regularization_strength=0.01,
            )
        ),
        False,
    ),
}


def _scatters(grads: Grads, resource: bool) -> Any:
    """Every scatter op on variables of its own (non-trainable): rows 0 and 2 repeat."""
    updates = []
    for kind, start in [("Update", 1.0), ("Add", 1.0), ("Sub", 1.0), ("Mul", 1.5), ("Div", 2.0)] + [
        ("Min", 0.5),
        ("Max", 0.5),
    ]:
        init = tf1.constant_initializer(_init([4, 2], 1.0) + start)
        var = tf1.get_variable(f"scatter/{kind.lower()}", [4, 2], initializer=init, trainable=False)
        indices = tf.constant([3, 1] if kind == "Update" else [0, 2, 0], tf.int32)
        rows = _init([2 if kind == "Update" else 3, 2], 0.5) + (1.0 if kind in ("Mul", "Div") else 0.0)
        raw = getattr(tf.raw_ops, ("ResourceScatter" if resource else "Scatter") + kind)
        if resource:
            updates.append(raw(resource=var.handle, indices=indices, updates=tf.constant(rows)))
        else:
            updates.append(raw(ref=var, indices=indices, updates=tf.constant(rows)))
    return tf.group(*updates, name="train_scatter")


EMBED_OPTIMIZERS: dict[str, tuple[Any, bool]] = {
    key: MLP_OPTIMIZERS[key]
    for key in [
        "sgd",
        "adam",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "centered_rmsprop",
        "adadelta",
        "ftrl",
        "ftrl_shrinkage",
        "proximal_sgd",
        "proximal_adagrad",
        "adagrad_v2",
        "keras_momentum",
        "adagrad_da",
    ]
}
EMBED_OPTIMIZERS["scatter"] = (_scatters, False)

RNN_OPTIMIZERS = {key: MLP_OPTIMIZERS[key] for key in ["sgd", "adam", "momentum"]}

CNN_OPTIMIZERS: dict[str, tuple[Any, bool]] = {
    "momentum": MLP_OPTIMIZERS["momentum"],
    "adam": MLP_OPTIMIZERS["adam"],
    "sgd": MLP_OPTIMIZERS["sgd"],
}

# Optimizers that update every trainable variable.
FULL = frozenset({"sgd", "momentum", "adam"})

# The order of the phases: the model's `train` signature first (its main optimizer).
MODELS: dict[str, tuple[Any, str, dict[str, tuple[Any, bool]], bool]] = {
    # name: (model fn, main optimizer, optimizers, resource variables)
    "mlp_ref": (mlp, "sgd", MLP_OPTIMIZERS, False),
    "mlp_resource": (mlp, "adam", MLP_OPTIMIZERS, True),
    "cnn_ref": (cnn, "momentum", CNN_OPTIMIZERS, False),
    "cnn_resource": (cnn, "adam", CNN_OPTIMIZERS, True),
    "embedding_ref": (embed, "sgd", EMBED_OPTIMIZERS, False),
    "embedding_resource": (embed, "adagrad", EMBED_OPTIMIZERS, True),
    "rnn_ref": (rnn, "sgd", RNN_OPTIMIZERS, False),  # TF1 control flow (see V1_CONTROL_FLOW)
    "rnn_resource": (rnn, "adam", RNN_OPTIMIZERS, True),  # TF2 control flow
    "rnn_array_ref": (rnn_array, "adam", RNN_OPTIMIZERS, False),  # TF1 control flow
}
V1_CONTROL_FLOW = frozenset({"rnn_ref", "rnn_array_ref"})
# Beyond the main three optimizers, one layer only is updated (smaller fixtures).
FOCUS = {"mlp": "logits/", "cnn": "logits/", "embed": "embedding", "rnn": "cell/", "rnn_array": "cell/"}


def feeds_for(name: str) -> dict[str, np.ndarray]:
    if name.startswith("rnn"):
        return {
            "x": _rng.uniform(-1, 1, size=(4, 4, 3)).astype(np.float32),
            "labels": _rng.integers(0, 3, size=4).astype(np.int32),
        }
    if name.startswith("embedding"):
        ids = _rng.integers(0, 10, size=(6, 3)).astype(np.int32)
        ids[1, 2] = ids[0, 0]  # a repeated id: its rows of the gradient add up
        return {"x": ids, "labels": _rng.integers(0, 3, size=6).astype(np.int32)}
    if name.startswith("mlp"):
        return {
            "x": _rng.uniform(-2, 2, size=(8, 4)).astype(np.float32),
            "labels": _rng.integers(0, 3, size=8).astype(np.int32),
        }
    return {
        "x": _rng.uniform(-1, 1, size=(4, 6, 6, 2)).astype(np.float32),
        "labels": np.eye(3, dtype=np.float32)[_rng.integers(0, 3, size=4)],
    }


# ------------------------------------------------------------------------------------ writing


def _signature(x: Any, labels: Any, loss: Any, train_op: Any, key: str) -> Any:
    with tf.control_dependencies([train_op]):
        out = tf.identity(loss, name=f"{key}_loss")
    return tf1.saved_model.build_signature_def(
        inputs={
            "x": tf1.saved_model.build_tensor_info(x),
            "labels": tf1.saved_model.build_tensor_info(labels),
        },
        outputs={"loss": tf1.saved_model.build_tensor_info(out)},
        method_name="tensorflow/supervised/training",
    )


def write_model(path: Path, name: str) -> dict[str, str]:
    """Build and save one model; returns signature key -> train op name."""
    model, main, optimizers, resource = MODELS[name]
    values: dict[str, np.ndarray] = {}
    train_ops: dict[str, str] = {}
    builder = tf1.saved_model.Builder(str(path))
    with tf.Graph().as_default(), tf1.variable_scope("", use_resource=resource):
        x, labels, _, loss = model(values)
        variables = tf1.trainable_variables()
        grads = list(zip(tf1.gradients(loss, variables), variables, strict=True))
        gates = [g.values if isinstance(g, tf.IndexedSlices) else g for g, _ in grads]
        signatures = {}
        order = [main] + [k for k in optimizers if k != main]
        for key in order:
            make, resource_only = optimizers[key]
            if resource_only and not resource:
                continue
            focus = FOCUS[model.__name__]
            subset = grads if key in FULL else [(g, v) for g, v in grads if v.op.name.startswith(focus)]
            # The updates wait for the loss and every gradient (GATE_GRAPH): TensorFlow updates
            # reference variables in place, so an update could otherwise race a gradient or a loss
            # term that still reads the old value (TF's own results then vary from run to run).
            with tf1.name_scope(f"opt_{key}"), tf.control_dependencies([loss, *gates]):
                train_op = make(subset, resource)
            sig = "train" if key == main else f"train_{key}"
            tf1.add_to_collection("train_ops", train_op)
            train_ops[sig] = train_op.name
            signatures[sig] = _signature(x, labels, loss, train_op, sig)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            builder.add_meta_graph_and_variables(
                sess, ["train"], signature_def_map=signatures, strip_default_attrs=True
            )
    with tf.Graph().as_default(), tf1.variable_scope("", use_resource=resource):
        x, _, logits, _ = model(values)
        probabilities = tf.nn.softmax(logits, name="probabilities")
        serving = tf1.saved_model.predict_signature_def({"x": x}, {"probabilities": probabilities})
        with tf1.Session():
            builder.add_meta_graph(
                ["serve"], signature_def_map={"serving_default": serving}, strip_default_attrs=True
            )
    builder.save()
    return train_ops


def replay(path: Path, train_ops: dict[str, str], feeds: dict[str, np.ndarray]) -> dict[str, Any]:
    phases = []
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta_graph = tf1.saved_model.load(sess, ["train"], str(path))
        # What fetching each variable reads: the ref itself, or the resource's Read/ReadVariableOp.
        fetch = {v.op.name: v._as_graph_element().name for v in tf1.global_variables()}
        trainable = {v.op.name for v in tf1.trainable_variables()}
        for sig_key, op_name in train_ops.items():
            sig = meta_graph.signature_def[sig_key]
            feed = {sig.inputs[k].name: v for k, v in feeds.items()}
            losses = [sess.run(sig.outputs["loss"].name, feed_dict=feed) for _ in range(STEPS)]
            # After each phase the model's variables; after the last one every variable (slots too).
            last = sig_key == list(train_ops)[-1]
            state = sess.run({n: fetch[n] for n in sorted(fetch) if last or n in trainable})
            phases.append(
                {
                    "signature": sig_key,
                    "train_op": op_name,
                    "losses": [jsonable(v) for v in losses],
                    "variables": {k: jsonable(v) for k, v in state.items()},
                }
            )
    with tf.Graph().as_default(), tf1.Session() as sess:
        meta_graph = tf1.saved_model.load(sess, ["serve"], str(path))
        # The serving graph restores the checkpoint's (untrained) values.
        sig = meta_graph.signature_def["serving_default"]
        served = sess.run(sig.outputs["probabilities"].name, feed_dict={sig.inputs["x"].name: feeds["x"]})
    return {
        "feeds": {k: jsonable(v) for k, v in feeds.items()},
        "variable_tensors": fetch,
        "phases": phases,
        "serving": {"x": jsonable(feeds["x"]), "probabilities": jsonable(served)},
    }


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/training")
    out.mkdir(parents=True, exist_ok=True)
    tf1.disable_eager_execution()
    golden = {}
    for name in MODELS:
        path = out / name
        shutil.rmtree(path, ignore_errors=True)
        if name in V1_CONTROL_FLOW:
            tf1.disable_control_flow_v2()
        train_ops = write_model(path, name)
        tf1.enable_control_flow_v2()
        golden[name] = replay(path, train_ops, feeds_for(name))
        print(f"{name}: {len(train_ops)} train signatures")
    text = json.dumps(golden, sort_keys=True) + "\n"
    (out / "golden.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))


if __name__ == "__main__":
    main()
