"""Fuzz targets: harness bodies shared by atheris (`fuzz/run.py`) and the CI smoke test.

Each target is a function `body(data: bytes) -> None`. Raising a
`savedmodel.SavedModelError` (any typed error) is the expected way to refuse
bad input; any other exception, a hang or an interpreter crash is a bug.
`run_one` wraps a body and turns "anything else" into `Crash`.

Targets:
  saved_model   saved_model.pb bytes -> parse, policy check, build the graph model,
                compile every signature's plan and run the small ones
  bundle        a variables.index or .data file (first byte picks which and from which
                fixture checkpoint) -> BundleReader reads every tensor
  tensor        TensorProto bytes -> to_numpy (and back with from_numpy)
  input_exprs   `--input_exprs` text -> the safe evaluator
  json_request  a REST :predict / :classify body -> request tensors
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"

from savedmodel.errors import SavedModelError  # noqa: E402
from savedmodel.policy import Limits, Policy, using_limits  # noqa: E402

# Small limits so that a mutated dimension cannot make a harness allocate gigabytes.
FUZZ_LIMITS = Limits(
    max_bytes_per_tensor=64 << 20,
    max_bytes_per_call=256 << 20,
    max_string_length=1 << 20,
    max_image_pixels=1 << 22,
    max_function_depth=20,
    max_while_iterations=2_000,
)
FUZZ_POLICY = Policy(limits=FUZZ_LIMITS)


class Crash(Exception):
    """A harness body raised something other than a SavedModelError."""

    def __init__(self, target: str, data: bytes, error: BaseException) -> None:
        self.target = target
        self.data = data
        self.error = error
        super().__init__(f"{target}: {type(error).__name__}: {error}{_innermost_frame(error)}")


def _innermost_frame(error: BaseException) -> str:
    """' at file:line in function' for the frame that raised `error` (where a crash comes from)."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" at {last.filename}:{last.lineno} in {last.name}"


# --------------------------------------------------------------------------- seeds


def _small_models(max_bytes: int = 80_000) -> list[Path]:
    models = sorted(p.parent for p in FIXTURES.rglob("saved_model.pb") if p.stat().st_size <= max_bytes)
    return models


@cache
def checkpoint_prefixes() -> tuple[Path, ...]:
    """Fixture checkpoints with a single small data shard (index + data read by the bundle target)."""
    out = []
    for index in sorted(FIXTURES.rglob("*.index")):
        prefix = index.with_suffix("")
        shards = sorted(index.parent.glob(prefix.name + ".data-*"))
        if len(shards) == 1 and shards[0].stat().st_size <= 200_000 and index.stat().st_size <= 4_000:
            out.append(prefix)
    return tuple(out[:16])


def _seeds_saved_model() -> list[bytes]:
    return [(m / "saved_model.pb").read_bytes() for m in _small_models()]


def _seeds_bundle() -> list[bytes]:
    seeds = []
    for i, prefix in enumerate(checkpoint_prefixes()):
        index = Path(f"{prefix}.index").read_bytes()
        data = next(prefix.parent.glob(prefix.name + ".data-*")).read_bytes()
        seeds.append(bytes([i]) + index)
        seeds.append(bytes([0x80 | i]) + data)
    return seeds


def _seeds_tensor() -> list[bytes]:
    from savedmodel.proto import saved_model_pb2

    seeds: list[bytes] = []
    for model in _small_models(20_000):
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((model / "saved_model.pb").read_bytes())
        for meta_graph in proto.meta_graphs:
            nodes = list(meta_graph.graph_def.node)
            for function in meta_graph.graph_def.library.function:
                nodes.extend(function.node_def)
            for node in nodes:
                if node.op == "Const" and "value" in node.attr:
                    seeds.append(node.attr["value"].tensor.SerializeToString())
    unique = sorted(set(seeds), key=lambda s: (len(s), s))
    return unique[:: max(1, len(unique) // 60)][:60]


INPUT_EXPR_SEEDS = [
    "x=1",
    "x=[1, 2, 3]",
    "x=np.ones((2, 3))",
    "x=np.zeros([4], dtype=np.float32)",
    "x=np.array([[1.5, 2.5]]);y=[b'a', b'b']",
    "a=np.full((2,2), 7, dtype='int64')",
    "x=np.arange(10).reshape(2, 5)",
    "x=np.random.rand(3, 2)",
    "x=np.float32(1.5)",
    "x=np.eye(3) * 2 + 1",
    "x=np.linspace(0, 1, 5)",
    "x={'a': 1}",
    "x=-np.ones(3) ** 2",
    "x=np.int32(7);y=np.array(['s', 't'])",
    "x=(1, 2.0, True, None)",
    "x=np.ones(2)[0]",
]

JSON_SEEDS = [
    b'{"instances": [1.0, 2.0, 5.0]}',
    b'{"inputs": {"x": [[1, 2], [3, 4]], "s": ["a", "b"]}}',
    b'{"signature_name": "serving_default", "instances": [{"x": [1, 2], "s": "a"}]}',
    b'{"inputs": [[1.5, 2.5]]}',
    b'{"instances": [{"b64": "aGVsbG8="}]}',
    b'{"examples": [{"f": [1.0, 2.0], "g": "x", "h": 3}], "context": {"c": [1]}}',
    b'{"inputs": {"x": NaN, "s": {"b64": "YQ=="}}}',
]


# --------------------------------------------------------------------------- bodies


def body_saved_model(data: bytes) -> None:
    from savedmodel.format.saved_model import parse_saved_model
    from savedmodel.loader import SignatureFunction
    from savedmodel.policy import check_meta_graph
    from savedmodel.runtime.session import GraphSession

    with using_limits(FUZZ_LIMITS):
        proto = parse_saved_model(data, "<fuzz saved_model.pb>")
        for meta_graph in list(proto.meta_graphs)[:2]:
            try:
                check_meta_graph(meta_graph, FUZZ_POLICY, "<fuzz>")
                session = GraphSession(
                    meta_graph.graph_def,
                    op_list=meta_graph.meta_info_def.stripped_op_list,
                    policy=FUZZ_POLICY,
                    where="<fuzz>",
                )
            except SavedModelError:
                continue
            for key, signature_def in sorted(meta_graph.signature_def.items())[:4]:
                try:
                    function = SignatureFunction(session, key, signature_def)
                    _call_with_small_inputs(function)
                except SavedModelError:
                    continue


def _call_with_small_inputs(function: Any) -> None:
    """Call a signature with zeros of its declared shape (unknown dims -> 1), when that is small."""
    values = {}
    for key, spec in function.input_specs.items():
        dims = [1] if spec.shape is None else [1 if (d is None or d < 0) else int(d) for d in spec.shape]
        if len(dims) > 6 or math.prod(dims) > 4096:
            return
        if spec.dtype == np.dtype(object):
            value = np.empty(dims, dtype=object)
            value[...] = b""
        else:
            value = np.zeros(dims, dtype=spec.dtype)
        values[key] = value
    function(**values)


_WORKDIR: Path | None = None


def _workdir() -> Path:
    global _WORKDIR
    if _WORKDIR is None:
        _WORKDIR = Path(tempfile.mkdtemp(prefix="savedmodel-fuzz-"))
    return _WORKDIR


def body_bundle(data: bytes) -> None:
    from savedmodel.format.bundle import BundleReader

    prefixes = checkpoint_prefixes()
    if not data or not prefixes:
        return
    selector, payload = data[0], data[1:]
    source = prefixes[(selector & 0x7F) % len(prefixes)]
    index = Path(f"{source}.index").read_bytes()
    shard = next(source.parent.glob(source.name + ".data-*"))
    content = shard.read_bytes()
    if selector & 0x80:
        content = payload
    else:
        index = payload
    work = _workdir()
    prefix = work / "variables"
    Path(f"{prefix}.index").write_bytes(index)
    Path(f"{prefix}.data-00000-of-00001").write_bytes(content)
    with using_limits(FUZZ_LIMITS):
        reader = BundleReader(prefix)
        try:
            for key in reader.keys()[:64]:
                try:
                    reader.read(key)
                except SavedModelError:
                    continue
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()


def body_tensor(data: bytes) -> None:
    from google.protobuf.message import DecodeError

    from savedmodel.format import dtypes
    from savedmodel.format.tensor import from_numpy, to_numpy
    from savedmodel.proto import tensor_pb2

    proto = tensor_pb2.TensorProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RecursionError):
        return  # not a TensorProto at all: protobuf's concern, not ours
    with using_limits(FUZZ_LIMITS):
        array = to_numpy(proto)
        from_numpy(array, dtypes.base_dtype(proto.dtype))


def body_input_exprs(data: bytes) -> None:
    from savedmodel.cli.inputs import parse_input_exprs

    text = data.decode("utf-8", errors="replace")
    with using_limits(FUZZ_LIMITS):
        parse_input_exprs(text)


_JSON_DTYPE_MAPS = None


def body_json_request(data: bytes) -> None:
    from savedmodel.format.dtypes import DT
    from savedmodel.serving import json_tensor

    global _JSON_DTYPE_MAPS
    if _JSON_DTYPE_MAPS is None:
        _JSON_DTYPE_MAPS = [
            {"x": DT.DT_FLOAT},
            {"x": DT.DT_INT32, "s": DT.DT_STRING},
            {"x": DT.DT_INT64, "b": DT.DT_BOOL, "d": DT.DT_DOUBLE},
            {"s": DT.DT_STRING, "h": DT.DT_HALF, "u": DT.DT_UINT8},
        ]
    with using_limits(FUZZ_LIMITS):
        doc = json_tensor.parse_json_object(data)
        json_tensor.signature_name_of(doc)
        for input_dtypes in _JSON_DTYPE_MAPS:
            try:
                json_tensor.predict_request_tensors(doc, input_dtypes, "serving_default")
            except SavedModelError:
                pass
        for method in ("classify", "regress"):
            try:
                json_tensor.serialized_examples(doc, method)
            except SavedModelError:
                pass


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Target:
    name: str
    body: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    text: bool = False  # mutate as text (token-level) as well as bytes
    module: str = ""  # module that must import for the target to exist


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("saved_model", body_saved_model, _seeds_saved_model),
        Target("bundle", body_bundle, _seeds_bundle),
        Target("tensor", body_tensor, _seeds_tensor),
        Target(
            "input_exprs",
            body_input_exprs,
            lambda: [s.encode() for s in INPUT_EXPR_SEEDS],
            True,
            "savedmodel.cli.inputs",
        ),
        Target(
            "json_request",
            body_json_request,
            lambda: list(JSON_SEEDS),
            True,
            "savedmodel.serving.json_tensor",
        ),
    )
}


def available(name: str) -> bool:
    """False when the module a target exercises does not exist (yet)."""
    module = TARGETS[name].module
    if not module:
        return True
    try:
        __import__(module)
    except ModuleNotFoundError:
        return False
    return True


def run_one(target: Target, data: bytes, timeout_s: float | None = None) -> None:
    """Run one input; raise Crash for anything but a SavedModelError (or for exceeding `timeout_s`)."""
    timer = _Alarm(timeout_s) if timeout_s else None
    try:
        if timer:
            timer.start()
        target.body(data)
    except SavedModelError:
        pass
    except _HarnessTimeout as exc:
        raise Crash(target.name, data, TimeoutError(f"input took over {timeout_s} s")) from exc
    except Exception as exc:  # noqa: BLE001 - the point of a harness
        raise Crash(target.name, data, exc) from exc
    finally:
        if timer:
            timer.cancel()


class _HarnessTimeout(BaseException):
    pass


class _Alarm:
    """SIGALRM-based per-input timeout on the main thread (no-op elsewhere)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.enabled = (
            threading.current_thread() is threading.main_thread()
            and hasattr(__import__("signal"), "setitimer")
            and os.name == "posix"
        )

    def start(self) -> None:
        if not self.enabled:
            return
        import signal

        def on_alarm(signum: int, frame: object) -> None:
            raise _HarnessTimeout()

        self._previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def cancel(self) -> None:
        if not self.enabled:
            return
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)


# --------------------------------------------------------------------------- deterministic mutations

_INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x40, 0x20]
_TOKENS = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "=",
    ":",
    "*",
    "**",
    "-",
    "1e308",
    "9" * 30,
    "-1",
    "0",
    "np.",
    "np.ones",
    "np.zeros",
    "np.full",
    "np.arange",
    "np.random.rand",
    "dtype=",
    "'",
    '"',
    "\\",
    "b'",
    "nan",
    "NaN",
    "Infinity",
    "true",
    "null",
    '{"b64":',
    "lambda",
    "__import__",
    "x",
    "[[[[[[[[[[",
    "]]]]]]]]]]",
    "1" * 20,
    ".reshape(",
    ".T",
    "(-1)",
    "10**10",
    "\x00",
    "\u00e9",
]


def mutate(seed: bytes, rng: np.random.Generator, text: bool = False) -> bytes:
    """One deterministic mutation of `seed`: byte flips, interesting bytes, truncation, splices."""
    data = bytearray(seed)
    for _ in range(int(rng.integers(1, 4))):
        choice = int(rng.integers(0, 9 if text else 7))
        n = len(data)
        if choice == 0 and n:  # flip bits
            i = int(rng.integers(0, n))
            data[i] ^= 1 << int(rng.integers(0, 8))
        elif choice == 1 and n:  # interesting byte
            data[int(rng.integers(0, n))] = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
        elif choice == 2 and n:  # truncate
            del data[int(rng.integers(0, n)) :]
        elif choice == 3 and n:  # delete a chunk
            i = int(rng.integers(0, n))
            del data[i : i + int(rng.integers(1, 16))]
        elif choice == 4 and n:  # duplicate a chunk
            i = int(rng.integers(0, n))
            chunk = data[i : i + int(rng.integers(1, 32))]
            j = int(rng.integers(0, n + 1))
            data[j:j] = chunk
        elif choice == 5:  # random bytes
            j = int(rng.integers(0, n + 1))
            data[j:j] = rng.integers(0, 256, int(rng.integers(1, 8))).astype(np.uint8).tobytes()
        elif choice == 6 and n >= 4:  # overwrite a little-endian varint-ish run with large values
            i = int(rng.integers(0, n - 3))
            data[i : i + 4] = b"\xff\xff\xff\x7f"
        else:  # text tokens
            token = _TOKENS[int(rng.integers(0, len(_TOKENS)))].encode("utf-8")
            j = int(rng.integers(0, n + 1))
            if rng.integers(0, 2) and n:
                data[j : j + int(rng.integers(1, 4))] = token
            else:
                data[j:j] = token
    return bytes(data)


def _mutate_graph_def(graph_def: Any, rng: np.random.Generator, pool: list[str]) -> None:
    """One structural change to a GraphDef or one of its functions' bodies."""
    from savedmodel.proto import attr_value_pb2

    bodies = [graph_def.node] + [f.node_def for f in graph_def.library.function]
    nodes = bodies[int(rng.integers(0, len(bodies)))]
    if not len(nodes):
        return
    node = nodes[int(rng.integers(0, len(nodes)))]
    choice = int(rng.integers(0, 9))
    if choice == 0:  # another op
        node.op = pool[int(rng.integers(0, len(pool)))]
    elif choice == 1 and node.attr:  # an attr of the wrong type
        key = sorted(node.attr)[int(rng.integers(0, len(node.attr)))]
        kinds = [
            attr_value_pb2.AttrValue(i=-7),
            attr_value_pb2.AttrValue(s=b"\xff" * 3),
            attr_value_pb2.AttrValue(type=int(rng.integers(0, 30))),
            attr_value_pb2.AttrValue(b=True),
            attr_value_pb2.AttrValue(f=float("nan")),
            attr_value_pb2.AttrValue(),
        ]
        node.attr[key].CopyFrom(kinds[int(rng.integers(0, len(kinds)))])
    elif choice == 2 and node.attr:  # huge or negative dims in a shape / tensor attr
        for value in node.attr.values():
            shape = (
                value.shape
                if value.HasField("shape")
                else (value.tensor.tensor_shape if value.HasField("tensor") else None)
            )
            if shape is not None:
                big = [10**12, -5, 2**62, 0, 1 << 31][int(rng.integers(0, 5))]
                if len(shape.dim):
                    shape.dim[int(rng.integers(0, len(shape.dim)))].size = big
                else:
                    shape.dim.add(size=big)
                break
    elif choice == 3 and len(nodes) > 1:  # an input from a later node, or from itself (cycles)
        other = nodes[int(rng.integers(0, len(nodes)))]
        node.input.append(other.name if rng.integers(0, 2) else node.name)
    elif choice == 4 and node.input:  # a dangling or malformed input
        i = int(rng.integers(0, len(node.input)))
        node.input[i] = ["missing_node", node.input[i] + ":99", "^", ":0", node.input[i] + ":-1"][
            int(rng.integers(0, 5))
        ]
    elif choice == 5 and node.input:  # drop inputs
        del node.input[int(rng.integers(0, len(node.input))) :]
    elif choice == 6:  # remove the node
        nodes.remove(node)
    elif choice == 7 and len(graph_def.library.function):  # call a function (maybe recursively)
        function = graph_def.library.function[int(rng.integers(0, len(graph_def.library.function)))]
        node.op = function.signature.name
    else:  # duplicate names
        if len(nodes) > 1:
            node.name = nodes[0].name


def scalar_fields(message: Any) -> list[tuple[Any, Any, int | None]]:
    """(message, field descriptor, index or None) for every set scalar field, recursively."""
    from google.protobuf.descriptor import FieldDescriptor

    found: list[tuple[Any, Any, int | None]] = []
    stack = [message]
    while stack:
        current = stack.pop()
        for descriptor, value in current.ListFields():
            repeated = descriptor.is_repeated
            if descriptor.type == FieldDescriptor.TYPE_MESSAGE:
                if descriptor.message_type.GetOptions().map_entry:
                    values = list(value.values())
                    if values and hasattr(values[0], "ListFields"):
                        stack.extend(values)
                elif repeated:
                    stack.extend(value)
                else:
                    stack.append(value)
            elif repeated:
                found.extend((current, descriptor, i) for i in range(len(value)))
            else:
                found.append((current, descriptor, None))
    return found


def mutate_scalar_field(message: Any, rng: np.random.Generator) -> str:
    """Give one scalar field somewhere in `message` a hostile value; returns a description."""
    from google.protobuf.descriptor import FieldDescriptor

    fields = scalar_fields(message)
    if not fields:
        return "no fields"
    parent, descriptor, index = fields[int(rng.integers(0, len(fields)))]
    kind = descriptor.cpp_type
    if kind in (FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_ENUM):
        value: Any = [-1, 0, 9999, 2**31 - 1, 12345][int(rng.integers(0, 5))]
        if kind == FieldDescriptor.CPPTYPE_ENUM:
            value = abs(value) % 2**31
    elif kind in (FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64):
        value = [0, 9999, 2**32 - 1][int(rng.integers(0, 3))]
    elif kind == FieldDescriptor.CPPTYPE_BOOL:
        value = not (
            getattr(parent, descriptor.name)[index] if index is not None else getattr(parent, descriptor.name)
        )
    elif kind in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        value = [float("nan"), float("inf"), -1e30][int(rng.integers(0, 3))]
    elif descriptor.type == FieldDescriptor.TYPE_BYTES:
        value = [b"", b"\xff\xfe", b"missing", b"\x00" * 3][int(rng.integers(0, 4))]
    else:
        value = ["", "missing", "../escape", "x:99", "\u00e9:0"][int(rng.integers(0, 5))]
    try:
        if index is not None:
            getattr(parent, descriptor.name)[index] = value
        else:
            setattr(parent, descriptor.name, value)
    except (ValueError, TypeError):
        return "rejected"
    return f"{descriptor.full_name}={value!r}"


def structured_mutation(seed: bytes, rng: np.random.Generator) -> bytes:
    """Parse a saved_model.pb seed, change its graph structurally, serialize it again."""
    from savedmodel.proto import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(seed)
    if not proto.meta_graphs:
        return seed
    pool = sorted({n.op for mg in proto.meta_graphs for n in mg.graph_def.node})
    pool += ["Fill", "Tile", "While", "StatelessWhile", "PartitionedCall", "ReadFile", "Reshape", "Range"]
    for _ in range(int(rng.integers(1, 4))):
        meta_graph = proto.meta_graphs[int(rng.integers(0, len(proto.meta_graphs)))]
        if rng.integers(0, 4):
            _mutate_graph_def(meta_graph.graph_def, rng, pool)
        else:
            mutate_scalar_field(meta_graph, rng)
    return proto.SerializeToString()


def deterministic_inputs(target: Target, count: int, seed: int = 20261128) -> list[bytes]:
    """The seeds themselves, then `count` mutations of them (fixed RNG seed).

    saved_model inputs are mutated structurally (graph edits) for two thirds of
    the count and byte-wise for the rest.
    """
    seeds = target.seeds()
    if not seeds:
        return []
    rng = np.random.default_rng(seed)
    inputs = list(seeds)
    while len(inputs) < count + len(seeds):
        base = seeds[int(rng.integers(0, len(seeds)))]
        if target.name == "saved_model" and rng.integers(0, 3):
            inputs.append(structured_mutation(base, rng))
        else:
            inputs.append(mutate(base, rng, target.text))
    return inputs


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - convenience
    from fuzz.run import main as run_main

    return run_main(argv if argv is not None else sys.argv[1:])
