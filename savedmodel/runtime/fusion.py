"""Plan-level fusion: elementwise followers run in place on a producer's fresh output.

A chain such as Conv2D -> BiasAdd -> FusedBatchNormV3 -> Relu (each intermediate read by
the next op only, and not fetched) becomes one step. The producer computes its output in a new
buffer; the followers (BiasAdd, inference FusedBatchNorm, Relu, Relu6) then update that buffer
in place with the very arithmetic of their own kernels, so the results are the same bit for bit,
without a new array per op. Conv2D and DepthwiseConv2dNative apply them block by block while
each block is still in the CPU cache. Whenever an input falls outside what the in-place path
handles (dtype, layout, shapes), the step runs the original kernels one after the other, so
results and errors are those of the unfused graph.

Swish, Mul(x, Sigmoid(x)) or Keras 3's Mul(x, Sigmoid(Mul(x, beta))), each inner value read by
the next op only, becomes one step too: for float32, the scaling, the sigmoid and the product run
chunk by chunk while in the cache (the same roundings as the three kernels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NoReturn

import numpy as np

from savedmodel.errors import ExecutionError, SavedModelError
from savedmodel.graph.model import GraphModel
from savedmodel.ops._common import FUSABLE_FLOATS, Epilogue, EpilogueFor
from savedmodel.ops.registry import Attrs, NodeSpec

# A follower prepared from its node: (its inputs after the first, output dtype, output shape) ->
# the in-place epilogue, or None when it cannot run in place there.
MakeEpilogue = Callable[[Sequence[Any], np.dtype, tuple[int, ...]], "Epilogue | None"]


def _channels_last(spec: NodeSpec) -> bool:
    fmt = spec.attrs.get("data_format", b"NHWC")
    return (fmt.decode() if isinstance(fmt, bytes) else str(fmt)) in ("NHWC", "NDHWC")


def _bias_add(spec: NodeSpec) -> MakeEpilogue | None:
    if not _channels_last(spec):
        return None

    def make(params: Sequence[Any], dtype: np.dtype, shape: tuple[int, ...]) -> Epilogue | None:
        (bias,) = params
        if len(shape) < 2 or type(bias) is not np.ndarray or bias.dtype != dtype or bias.shape != shape[-1:]:
            return None
        return lambda block: np.add(block, bias, out=block)

    return make


def _relu(spec: NodeSpec) -> MakeEpilogue:
    def make(params: Sequence[Any], dtype: np.dtype, shape: tuple[int, ...]) -> Epilogue:
        zero = dtype.type(0)
        return lambda block: np.maximum(block, zero, out=block)

    return make


def _relu6(spec: NodeSpec) -> MakeEpilogue:
    def make(params: Sequence[Any], dtype: np.dtype, shape: tuple[int, ...]) -> Epilogue:
        zero, six = dtype.type(0), dtype.type(6)

        def apply(block: np.ndarray) -> None:
            np.maximum(block, zero, out=block)
            np.minimum(block, six, out=block)

        return apply

    return make


def _batch_norm(spec: NodeSpec) -> MakeEpilogue | None:
    if bool(spec.attrs.get("is_training", True)) or not _channels_last(spec):
        return None
    eps = float(spec.attrs.get("epsilon", 1e-4))

    def make(params: Sequence[Any], dtype: np.dtype, shape: tuple[int, ...]) -> Epilogue | None:
        if len(shape) not in (4, 5) or any(
            type(p) is not np.ndarray or p.dtype != dtype or p.shape != shape[-1:] for p in params
        ):
            return None
        scale, offset, mean, var = params
        from savedmodel.ops.nn import batch_norm_factor  # kernels load lazily (ops/_index.py)

        with np.errstate(all="ignore"):
            factor = batch_norm_factor(var, np.asarray(eps, dtype), scale)

        def apply(block: np.ndarray) -> None:  # the kernel's (x - mean) * factor + offset
            np.subtract(block, mean, out=block)
            np.multiply(block, factor, out=block)
            np.add(block, offset, out=block)

        return apply

    return make


FOLLOWERS: dict[str, Callable[[NodeSpec], MakeEpilogue | None]] = {
    "BiasAdd": _bias_add,
    "Relu": _relu,
    "Relu6": _relu6,
    "FusedBatchNorm": _batch_norm,
    "FusedBatchNormV2": _batch_norm,
    "FusedBatchNormV3": _batch_norm,
}


def _conv2d(spec: NodeSpec) -> Any:
    from savedmodel.ops.nn import conv2d_fused

    return conv2d_fused(spec)


def _depthwise(spec: NodeSpec) -> Any:
    from savedmodel.ops.nn import depthwise_conv

    return depthwise_conv(spec, fused=True)


def _batch_norm_producer(spec: NodeSpec) -> Any:
    from savedmodel.ops.nn import batch_norm_fused

    return batch_norm_fused(spec)


# Producers that compute in blocks and take the epilogue per block (batch norm: output 0).
BLOCKED_PRODUCERS: dict[str, Callable[[NodeSpec], Any]] = {
    "Conv2D": _conv2d,
    "DepthwiseConv2dNative": _depthwise,
    "FusedBatchNorm": _batch_norm_producer,
    "FusedBatchNormV2": _batch_norm_producer,
    "FusedBatchNormV3": _batch_norm_producer,
}
# Producers whose kernels always return a new array of their own (never an input or a view of
# one): the epilogue runs on their whole output.
WHOLE_PRODUCERS = frozenset({"MatMul", "BatchMatMulV2", "AddV2", "BiasAdd"})


def node_spec(graph: GraphModel, name: str) -> NodeSpec:
    node = graph.nodes[name]
    where = f"{graph.where}, node {name!r} ({node.op})"
    return NodeSpec(node.name, node.op, Attrs(node.attr, where), len(node.inputs), list(node.input_names))


def _whole(run: Callable[..., Any], multi: bool) -> Callable[..., tuple[Any, bool]]:
    def fused(ctx: Any, epilogue_for: EpilogueFor, *inputs: Any) -> tuple[Any, bool]:
        result = run(ctx, *inputs)
        y = result[0] if multi else result
        if (
            type(y) is np.ndarray
            and y.dtype in FUSABLE_FLOATS
            and y.flags.writeable
            and y.flags.c_contiguous
            and _fresh(y, inputs)
        ):
            epilogue = epilogue_for(y.dtype, y.shape)
            if epilogue is not None:
                _in_chunks(epilogue, y)
                return y, True
        return y, False

    return fused


def _fresh(y: np.ndarray, inputs: Sequence[Any]) -> bool:
    """Whether y is memory of its own: an array owning it, or a buffer of the kernels' pool
    (savedmodel/ops/_buffers.py) that no input lies in."""
    if y.flags.owndata:
        return True
    from savedmodel.ops import _buffers

    return _buffers.pooled(y) and not any(type(a) is np.ndarray and np.may_share_memory(y, a) for a in inputs)


# Bytes of a whole output an epilogue updates at a time: its ops then pass over cached memory.
CHUNK_BYTES = 1 << 18


def _in_chunks(epilogue: Epilogue, y: np.ndarray) -> None:
    """Run `epilogue` over `y` (C-contiguous, channels last) in chunks of whole rows."""
    if y.ndim == 0 or y.nbytes <= CHUNK_BYTES:
        epilogue(y)
        return
    rows = y.reshape(-1, y.shape[-1])
    step = max(1, CHUNK_BYTES // max(rows.strides[0], 1))
    for start in range(0, rows.shape[0], step):
        epilogue(rows[start : start + step])


def fuse_steps(
    steps: list[Any], graph: GraphModel, fetch_slots: Sequence[int], wrap_error: Callable[..., Exception]
) -> list[Any]:
    """`steps` with each producer -> followers chain replaced by one step (at the last follower's
    place, so that every input of the chain is computed by then)."""
    readers: dict[int, int] = {}
    for step in steps:
        for slot in step.inputs:
            readers[slot] = readers.get(slot, 0) + 1
    for slot in fetch_slots:
        readers[slot] = readers.get(slot, 0) + 2  # never fused away
    reader_of = {slot: step for step in steps for slot in step.inputs if readers.get(slot) == 1}
    position = {id(step): i for i, step in enumerate(steps)}
    fused_into: dict[int, Any] = {}  # position of a chain's last step -> the fused step
    dropped: set[int] = set()
    taken: set[int] = set()
    for i, producer in enumerate(steps):
        if i in taken or not producer.plain:
            continue
        chain = _chain(producer, steps, graph, readers, reader_of, position, taken)
        if not chain:
            continue
        fused = _fused_step(producer, chain, graph, wrap_error)
        if fused is None:
            continue
        members = [position[id(s)] for s in (producer, *(f for f, _ in chain))]
        if any(_unsafe_between(steps, members[0], members[-1])):
            continue
        taken.update(members)
        dropped.update(members[:-1])
        fused_into[members[-1]] = fused
    fused_steps = [fused_into.get(i, step) for i, step in enumerate(steps) if i not in dropped]
    return _fuse_swish(fused_steps, fetch_slots, wrap_error)


def _fuse_swish(
    steps: list[Any], fetch_slots: Sequence[int], wrap_error: Callable[..., Exception]
) -> list[Any]:
    """`steps` with each swish, Mul(x, Sigmoid(x)) or Mul(x, Sigmoid(Mul(x, beta))) (Keras 3), the
    inner values read by the next op only, merged into its last Mul."""
    readers: dict[int, list[Any]] = {}
    for step in steps:
        for slot in step.inputs:
            readers.setdefault(slot, []).append(step)
    producer = {step.out: step for step in steps if step.mode == 0}
    fetched = set(fetch_slots)

    def only_reader(step: Any) -> Any | None:
        users = readers.get(step.out, [])
        ok = step.plain and step.mode == 0 and step.out not in fetched and len(users) == 1
        return users[0] if ok and users[0].plain and users[0].mode == 0 else None

    merged: dict[int, Any] = {}  # id of a swish's last Mul -> the fused step
    dropped: set[int] = set()
    for sigmoid in steps:
        if sigmoid.op != "Sigmoid":
            continue
        mul = only_reader(sigmoid)
        if mul is None or mul.op != "Mul" or sigmoid.out not in mul.inputs:
            continue
        x = mul.inputs[1] if mul.inputs[0] == sigmoid.out else mul.inputs[0]
        scaled = producer.get(sigmoid.inputs[0])
        if sigmoid.inputs[0] == x:
            members: tuple[Any, ...] = (sigmoid,)
            inputs: tuple[int, ...] = (x,)
        elif (
            scaled is not None
            and scaled.op == "Mul"
            and x in scaled.inputs
            and only_reader(scaled) is sigmoid
        ):
            members = (scaled, sigmoid)
            beta = scaled.inputs[1] if scaled.inputs[0] == x else scaled.inputs[0]
            inputs = (x, beta)
        else:
            continue
        merged[id(mul)] = _swish_step(members, mul, inputs, wrap_error)
        dropped.update(id(m) for m in members)
    return [merged.get(id(s), s) for s in steps if id(s) not in dropped]


def _swish_step(
    members: tuple[Any, ...], mul: Any, inputs: tuple[int, ...], wrap_error: Callable[..., Exception]
) -> Any:
    """One step for x * sigmoid(x) (`members`: the Sigmoid) or x * sigmoid(x * beta) (`members`:
    that Mul and the Sigmoid), `inputs` (x,) or (x, beta); other dtypes and shapes run the kernels."""

    def unfused(ctx: Any, values: dict[int, Any]) -> Any:
        for step in (*members, mul):
            try:
                values[step.out] = step.run(ctx, *(values[slot] for slot in step.inputs))
            except Exception as exc:
                _reraise(exc, step, wrap_error)
        return values[mul.out]

    def run(ctx: Any, x: Any, *beta: Any) -> Any:
        if type(x) is np.ndarray and x.dtype == np.float32 and all(_scalar_like(b, x) for b in beta):
            from savedmodel.ops._eigen_x86 import logistic_float32  # kernels load lazily

            return logistic_float32(x, times=x, scale=beta[0] if beta else None)
        return unfused(ctx, dict(zip(inputs, (x, *beta), strict=True)))

    return replace(mul, run=run, inputs=inputs)


def _scalar_like(value: Any, x: np.ndarray) -> bool:
    """A float32 array of one element that broadcasts against x to x's own shape."""
    return (
        type(value) is np.ndarray and value.dtype == np.float32 and value.size == 1 and value.ndim <= x.ndim
    )


def _output_slot(step: Any, readers: dict[int, int]) -> int | None:
    """The slot of the step's output 0 when every other output of it is unread."""
    if step.mode == 0:
        return step.out
    if step.mode == 1 and all(readers.get(step.out + k, 0) == 0 for k in range(1, step.count)):
        return step.out
    return None


def _chain(
    producer: Any,
    steps: list[Any],
    graph: GraphModel,
    readers: dict[int, int],
    reader_of: dict[int, Any],
    position: dict[int, int],
    taken: set[int],
) -> list[tuple[Any, MakeEpilogue]]:
    if producer.op not in BLOCKED_PRODUCERS and producer.op not in WHOLE_PRODUCERS:
        return []
    chain: list[tuple[Any, MakeEpilogue]] = []
    current = producer
    while True:
        slot = _output_slot(current, readers)
        if slot is None or readers.get(slot) != 1:
            break
        follower = reader_of.get(slot)
        if (
            follower is None
            or follower.op not in FOLLOWERS
            or not follower.plain
            or position[id(follower)] in taken
            or follower.inputs[0] != slot
        ):
            break
        make = FOLLOWERS[follower.op](node_spec(graph, follower.node))
        if make is None:
            break
        chain.append((follower, make))
        current = follower
    if chain and chain[-1][0].mode != 0 and _output_slot(chain[-1][0], readers) is None:
        chain.pop()
    return chain


# Ops that may change state another op of the graph reads (ordered by control edges only).
_STATE_OPS = ("Assign", "Scatter", "Apply", "PartitionedCall", "StatefulPartitionedCall", "While", "If")


def _unsafe_between(steps: list[Any], first: int, last: int) -> list[str]:
    """Ops between the chain's ends that could change what its producer reads: moving the
    producer to the chain's end must not let it see another value."""
    return [s.op for s in steps[first + 1 : last] if any(mark in s.op for mark in _STATE_OPS)]


def _reraise(exc: Exception, step: Any, wrap_error: Callable[..., Exception]) -> NoReturn:
    """Raise `exc` as the plan would for `step` run alone: kernel failures name that node."""
    if isinstance(exc, ExecutionError) and exc.node is not None:
        raise exc
    if isinstance(exc, ExecutionError) or not isinstance(exc, (SavedModelError, MemoryError, RecursionError)):
        raise wrap_error(exc, step) from exc
    raise exc


def _fused_step(
    producer: Any,
    chain: list[tuple[Any, MakeEpilogue]],
    graph: GraphModel,
    wrap_error: Callable[..., Exception],
) -> Any | None:
    spec = node_spec(graph, producer.node)
    if producer.op in BLOCKED_PRODUCERS:
        produce = BLOCKED_PRODUCERS[producer.op](spec)
    else:
        produce = _whole(producer.run, producer.mode == 1)
    followers = [f for f, _ in chain]
    makers = [m for _, m in chain]
    # where each follower's parameter inputs sit in the fused step's inputs
    bounds, inputs = [], list(producer.inputs)
    for f in followers:
        bounds.append((len(inputs), len(inputs) + len(f.inputs) - 1))
        inputs.extend(f.inputs[1:])
    n_in = len(producer.inputs)
    last = followers[-1]

    def run(ctx: Any, *args: Any) -> Any:
        params = [args[a:b] for a, b in bounds]

        def epilogue_for(dtype: np.dtype, shape: tuple[int, ...]) -> Epilogue | None:
            parts = []
            for make, p in zip(makers, params, strict=True):
                part = make(p, dtype, shape)
                if part is None:
                    return None
                parts.append(part)
            if len(parts) == 1:
                return parts[0]

            def chain_all(block: np.ndarray) -> None:
                for part in parts:
                    part(block)

            return chain_all

        try:
            with np.errstate(all="ignore"):
                y, applied = produce(ctx, epilogue_for, *args[:n_in])
        except Exception as exc:
            _reraise(exc, producer, wrap_error)
        if not applied:  # the unfused kernels, one after the other
            for f, p in zip(followers, params, strict=True):
                try:
                    result = f.run(ctx, y, *p)
                except Exception as exc:
                    _reraise(exc, f, wrap_error)
                y = result[0] if f.mode == 1 else result
        return [y] + [None] * (last.count - 1) if last.mode == 1 else y

    return replace(last, run=run, inputs=tuple(inputs))
