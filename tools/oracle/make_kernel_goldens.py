"""Write golden input/output cases for savedmodel's NumPy kernels, computed by TensorFlow.

Run with the oracle venv (TensorFlow 2.21):

    TF_CPP_MIN_LOG_LEVEL=3 tools/oracle/.venv/bin/python tools/oracle/make_kernel_goldens.py

For each case a tiny tf.function calls one raw op on placeholder inputs of known rank but
unknown dimensions (so shape errors surface at run time, as they do in a loaded graph). The op's NodeDef is
taken from the function graph, so attrs are exactly what TensorFlow writes; the op is then
run on the inputs. Written under tests/fixtures/kernels/:

    cases.json.gz       one entry per case: family, op, name, node_def (base64 NodeDef),
                        inputs/outputs (array refs) or error (TensorFlow's error class), check
    <family>.npz        the numeric arrays, keyed by ref; ml_dtypes types stored as raw uint views

String arrays are stored inline in cases.json (base64 per element).
"""

from __future__ import annotations

import base64
import gzip
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "kernels"

BF16 = np.dtype(ml_dtypes.bfloat16)
_RAW_VIEW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


class Case:
    def __init__(
        self,
        family: str,
        op: str,
        inputs: list[Any],
        attrs: dict[str, Any],
        name: str,
        check: str,
        rtol: float | None,
        atol: float | None,
        note: str,
        unchecked: list[int],
        cpu_unsupported: bool,
        consts: list[int],
    ) -> None:
        self.family, self.op, self.inputs, self.attrs = family, op, inputs, attrs
        self.name, self.check, self.rtol, self.atol, self.note = name, check, rtol, atol, note
        self.unchecked, self.cpu_unsupported, self.consts = unchecked, cpu_unsupported, consts


CASES: list[Case] = []


def case(
    family: str,
    op: str,
    *inputs: Any,
    name: str = "",
    check: str = "values",
    rtol: float | None = None,
    atol: float | None = None,
    note: str = "",
    unchecked: list[int] | None = None,
    cpu_unsupported: bool = False,
    consts: list[int] | None = None,
    **attrs: Any,
) -> None:
    """Register a case. Each input is an array, or a list of arrays for a list-valued input.
    check: "values" (compare outputs), "shape" (dtype and shape only: random ops).
    unchecked: outputs whose values TensorFlow leaves unspecified (compared by dtype/shape only).
    cpu_unsupported: TensorFlow's CPU kernel refuses this case; ours supports it (extension).
    consts: indices (in the flattened input list) fed as graph constants rather than placeholders,
    for ops whose shape functions need the value; they are still stored as case inputs."""
    CASES.append(
        Case(
            family,
            op,
            list(inputs),
            attrs,
            name,
            check,
            rtol,
            atol,
            note,
            unchecked or [],
            cpu_unsupported,
            consts or [],
        )
    )


# --------------------------------------------------------------------------- input helpers

_rng = np.random.default_rng(1234)


def f32(*shape: int, lo: float = -3.0, hi: float = 3.0) -> np.ndarray:
    return _rng.uniform(lo, hi, size=shape).astype(np.float32)


def f64(*shape: int, lo: float = -3.0, hi: float = 3.0) -> np.ndarray:
    return _rng.uniform(lo, hi, size=shape).astype(np.float64)


def f16(*shape: int, lo: float = -3.0, hi: float = 3.0) -> np.ndarray:
    return _rng.uniform(lo, hi, size=shape).astype(np.float16)


def bf16(*shape: int, lo: float = -3.0, hi: float = 3.0) -> np.ndarray:
    return _rng.uniform(lo, hi, size=shape).astype(BF16)


def i32(*shape: int, lo: int = -10, hi: int = 10) -> np.ndarray:
    return _rng.integers(lo, hi, size=shape).astype(np.int32)


def i64(*shape: int, lo: int = -10, hi: int = 10) -> np.ndarray:
    return _rng.integers(lo, hi, size=shape).astype(np.int64)


def pos32(*shape: int, lo: float = 0.1, hi: float = 3.0) -> np.ndarray:
    return f32(*shape, lo=lo, hi=hi)


def a(values: Any, dtype: Any = np.float32) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def s(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        v = arr[idx]
        out[idx] = v.encode() if isinstance(v, str) else v
    return out


def b(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.bool_)


# --------------------------------------------------------------------------- running cases


def _tf_dtype(arr: np.ndarray) -> tf.DType:
    if arr.dtype == object:
        return tf.string
    return tf.as_dtype(arr.dtype)


def _flatten_inputs(op: str, inputs: list[Any]) -> tuple[list[str], list[np.ndarray], list[int | None]]:
    op_def = op_def_registry.get(op)
    if op_def is None:
        raise SystemExit(f"unknown op {op}")
    params = list(inspect.signature(getattr(tf.raw_ops, op)).parameters)
    names = params[: len(op_def.input_arg)]
    if len(names) != len(inputs):
        raise SystemExit(f"{op}: expected {len(names)} inputs ({names}), got {len(inputs)}")
    flat: list[np.ndarray] = []
    groups: list[int | None] = []
    for value in inputs:
        if isinstance(value, list):
            groups.append(len(value))
            flat.extend(np.asarray(v) for v in value)
        else:
            groups.append(None)
            flat.append(np.asarray(value))
    return names, flat, groups


def _attr_value(value: Any) -> Any:
    attr = tf.compat.v1.AttrValue()
    if isinstance(value, bool):
        attr.b = value
    elif isinstance(value, int):
        attr.i = value
    elif isinstance(value, float):
        attr.f = value
    else:
        attr.s = str(value).encode()
    return attr


def _run_old_graph(c: Case, flat: list[np.ndarray], producer: int) -> dict[str, Any]:
    """An op TensorFlow only runs in old graphs (removed at a GraphDef version): a GraphDef with
    that producer version, placeholders of unknown dimensions, the op, run in a TF1 session."""
    op_def = op_def_registry.get(c.op)
    graph_def = tf.compat.v1.GraphDef()
    graph_def.versions.producer = producer
    for i, x in enumerate(flat):
        ph = graph_def.node.add(name=f"in{i}", op="Placeholder")
        ph.attr["dtype"].type = _tf_dtype(x).as_datatype_enum
        ph.attr["shape"].shape.CopyFrom(tf.TensorShape([None] * x.ndim).as_proto())
    node = graph_def.node.add(name="op", op=c.op, input=[f"in{i}" for i in range(len(flat))])
    for arg, x in zip(op_def.input_arg, flat, strict=True):
        if arg.type_attr:
            node.attr[arg.type_attr].type = _tf_dtype(x).as_datatype_enum
    for key, value in c.attrs.items():
        node.attr[key].CopyFrom(_attr_value(value))
    entry: dict[str, Any] = {
        "family": c.family,
        "op": c.op,
        "name": c.name,
        "node_def": base64.b64encode(node.SerializeToString(deterministic=True)).decode(),
        "inputs": flat,
        "check": c.check,
        "note": c.note or f"removed after GraphDef version {producer}: run in a producer-{producer} graph",
    }
    if c.rtol is not None:
        entry["rtol"] = c.rtol
    if c.atol is not None:
        entry["atol"] = c.atol
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        try:
            tf.compat.v1.import_graph_def(graph_def, name="")
            fetches = [graph.get_tensor_by_name(f"op:{k}") for k in range(len(op_def.output_arg))]
            feeds = {graph.get_tensor_by_name(f"in{i}:0"): x for i, x in enumerate(flat)}
            entry["outputs"] = list(sess.run(fetches, feeds))
        except (tf.errors.OpError, ValueError) as exc:
            entry["error"] = type(exc).__name__
            entry["error_message"] = _error_line(str(exc))
    return entry


def run_case(c: Case) -> dict[str, Any]:
    names, flat, groups = _flatten_inputs(c.op, c.inputs)
    producer = c.attrs.pop("graph_producer", None)  # ops removed at a GraphDef version
    if producer is not None:
        return _run_old_graph(c, flat, producer)
    quant = c.attrs.pop("quant_in", None)  # feed input 0 as this quantized dtype (stored as its base type)
    dtype_of = [(quant if (quant is not None and i == 0) else _tf_dtype(x)) for i, x in enumerate(flat)]
    fed = [i for i in range(len(flat)) if i not in c.consts]  # "static" in consts: static shapes
    specs = [
        tf.TensorSpec(flat[i].shape if "static" in c.consts else [None] * flat[i].ndim, dtype_of[i])
        for i in fed
    ]
    raw = getattr(tf.raw_ops, c.op)

    def with_consts(args: tuple[Any, ...]) -> tuple[Any, ...]:
        full: list[Any] = []
        it = iter(args)
        for i, x in enumerate(flat):
            full.append(tf.constant(x, dtype=_tf_dtype(x)) if i in c.consts else next(it))
        return tuple(full)

    def regroup(args: tuple[Any, ...]) -> list[Any]:
        args = with_consts(args)
        out, pos = [], 0
        for g in groups:
            if g is None:
                out.append(args[pos])
                pos += 1
            else:
                out.append(list(args[pos : pos + g]))
                pos += g
        return out

    @tf.function(input_signature=specs, autograph=False)
    def fn(*args: Any) -> Any:
        result = raw(**dict(zip(names, regroup(args), strict=True)), **c.attrs)
        if isinstance(result, tf.Operation):
            return tf.constant(0)
        return result

    concrete = fn.get_concrete_function()
    nodes = [n for n in concrete.graph.as_graph_def().node if n.op == c.op]
    if len(nodes) != 1:
        raise SystemExit(f"{c.op}: expected one node in the function graph, found {len(nodes)}")
    node = nodes[0]
    entry: dict[str, Any] = {
        "family": c.family,
        "op": c.op,
        "name": c.name,
        "node_def": base64.b64encode(node.SerializeToString(deterministic=True)).decode(),
        "inputs": flat,
        "check": c.check,
    }
    if c.rtol is not None:
        entry["rtol"] = c.rtol
    if c.atol is not None:
        entry["atol"] = c.atol
    if c.note:
        entry["note"] = c.note
    if c.unchecked:
        entry["unchecked"] = c.unchecked
    if c.cpu_unsupported:
        entry["tf_cpu_unsupported"] = True
    try:
        result = concrete(*[tf.constant(flat[i], dtype=dtype_of[i]) for i in fed])
    except (tf.errors.OpError, ValueError, TypeError) as exc:
        entry["error"] = type(exc).__name__
        entry["error_message"] = _error_line(str(exc))
        return entry
    outputs = tf.nest.flatten(result)
    if nodes[0].op in _NO_OUTPUT_OPS:
        outputs = []
    values = [o.numpy() for o in outputs]
    # Unspecified values (scratch outputs, random draws) are stored as zeros: only dtype and shape
    # are compared, and the fixtures stay byte-for-byte reproducible.
    entry["outputs"] = [
        np.zeros_like(v) if (c.check == "shape" or k in c.unchecked) and v.dtype.kind != "O" else v
        for k, v in enumerate(values)
    ]
    return entry


def _error_line(message: str) -> str:
    """The informative line of a TensorFlow error message."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    useful = [
        ln for ln in lines if not ln.startswith(("Graph execution error", "Detected at node", "[[", "File "))
    ]
    return (useful[-1] if useful else lines[0] if lines else "")[:300]


_NO_OUTPUT_OPS = {"Assert", "PrintV2"}


class Store:
    def __init__(self) -> None:
        self.arrays: dict[str, dict[str, np.ndarray]] = {}

    def ref(self, family: str, key: str, arr: np.ndarray) -> dict[str, Any]:
        # a scalar string as bytes: np.asarray would make it "S" and drop trailing NUL bytes
        arr = np.array(arr, dtype=object) if isinstance(arr, bytes) else np.asarray(arr)
        if arr.dtype.names:  # TensorFlow's quantized types: a one-field struct around the base int
            arr = arr.view(arr.dtype[0])
        if arr.dtype.kind == "S":
            arr = arr.astype(object)
        if arr.dtype == object:
            return {
                "dtype": "string",
                "shape": list(arr.shape),
                "b64": [base64.b64encode(bytes(v)).decode() for v in arr.reshape(-1)],
            }
        name = "bfloat16" if arr.dtype == BF16 else arr.dtype.name
        stored = arr
        if arr.dtype.kind == "V" or type(arr.dtype).__module__.startswith("ml_dtypes") or arr.dtype == BF16:
            stored = arr.view(_RAW_VIEW[arr.dtype.itemsize])
        self.arrays.setdefault(family, {})[key] = np.ascontiguousarray(stored)
        return {"dtype": name, "shape": list(arr.shape), "key": key}


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but byte-for-byte reproducible (fixed zip timestamps)."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buf.getvalue())


def write_cases(out: Path, cases: list) -> int:
    """Run `cases` with TensorFlow and write them to `out` (cases.json.gz and one .npz per
    family); the number of broken case definitions (reported, skipped). Sibling scripts write
    their own sets through this too (golden_sets.py)."""
    store = Store()
    entries = []
    seen: dict[str, int] = {}
    broken = 0
    for c in cases:
        base = f"{c.op}.{c.name}" if c.name else c.op
        seen[base] = seen.get(base, 0) + 1
        cid = base if seen[base] == 1 else f"{base}.{seen[base]}"
        if os.environ.get("GOLDENS_VERBOSE"):
            print("case", cid, flush=True)
        try:
            entry = run_case(c)
        except Exception as exc:  # a broken case definition: report it, keep going
            print(f"BROKEN CASE {cid}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            broken += 1
            continue
        entry["id"] = cid
        entry["inputs"] = [store.ref(c.family, f"{cid}/i{k}", x) for k, x in enumerate(entry["inputs"])]
        if "outputs" in entry:
            entry["outputs"] = [store.ref(c.family, f"{cid}/o{k}", x) for k, x in enumerate(entry["outputs"])]
        entries.append(entry)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.npz"):
        old.unlink()
    for family, arrays in store.arrays.items():
        _write_npz(out / f"{family}.npz", arrays)
    doc = {"tensorflow": tf.__version__, "cases": entries}
    old_json = out / "cases.json"
    if old_json.exists():
        old_json.unlink()
    text = json.dumps(doc, indent=0, separators=(",", ":")) + "\n"
    (out / "cases.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    errors = sum(1 for e in entries if "error" in e)
    print(
        f"wrote {len(entries)} cases ({errors} expected errors) for "
        f"{len({e['op'] for e in entries})} ops to {out}"
    )
    return broken


def main(argv: list[str]) -> int:
    only = set(argv[1:])
    build_cases()
    cases = [c for c in CASES if not only or c.op in only or c.family in only]
    return 1 if write_cases(OUT, cases) else 0


# --------------------------------------------------------------------------- the cases

Builder = Callable[[], None]
BUILDERS: list[Builder] = []


def builder(fn: Builder) -> Builder:
    BUILDERS.append(fn)
    return fn


def build_cases() -> None:
    for fn in BUILDERS:
        fn()


# CASES-BEGIN


@builder
def math_cases() -> None:
    m = "math"
    x, y = f32(2, 3), f32(3)
    for op in [
        "Add",
        "AddV2",
        "Sub",
        "Mul",
        "RealDiv",
        "Div",
        "Maximum",
        "Minimum",
        "SquaredDifference",
        "FloorDiv",
        "FloorMod",
        "TruncateDiv",
        "TruncateMod",
        "Mod",
        "DivNoNan",
        "MulNoNan",
        "Atan2",
        "Xlogy",
        "Xlog1py",
        "Xdivy",
    ]:
        case(m, op, x, y, name="f32_broadcast")
    case(m, "Pow", pos32(2, 3), f32(3), name="f32")
    case(m, "Pow", i32(2, 3, lo=-3, hi=4), i32(3, lo=0, hi=5), name="i32")
    case(m, "Pow", i32(3), a([-1, 1, 2], np.int32), name="neg_exp_error")
    ints = a([-7, 7, -7, 7, 0, -1, 5, 2147483647], np.int32)
    divs = a([2, 2, -2, -2, 3, 3, -5, 2], np.int32)
    for op in [
        "FloorDiv",
        "FloorMod",
        "TruncateDiv",
        "TruncateMod",
        "Div",
        "Mod",
        "Add",
        "Sub",
        "Mul",
        "Maximum",
        "Minimum",
        "SquaredDifference",
    ]:
        case(m, op, ints, divs, name="i32_signs")
    for op in ["FloorDiv", "FloorMod", "TruncateDiv", "Div", "Mod", "TruncateMod"]:
        case(m, op, a([1, 2], np.int32), a([1, 0], np.int32), name="i32_div_zero")
    case(m, "FloorDiv", a([-7, 7, 9], np.int64), a([2, -2, 4], np.int64), name="i64")
    case(
        m,
        "FloorMod",
        a([-7.5, 7.5, -1, 1, 3], np.float32),
        a([2, -2, 3, -3, 0], np.float32),
        name="f32_signs",
    )
    case(m, "TruncateMod", a([-7.5, 7.5, -1], np.float32), a([2, -2, 3], np.float32), name="f32_signs")
    case(m, "FloorDiv", a([-7.5, 7.5, -1, 1], np.float32), a([2, -2, 3, 0], np.float32), name="f32_signs")
    case(m, "DivNoNan", a([1, 2, 0], np.float32), a([0, 4, 0], np.float32), name="zeros")
    case(m, "MulNoNan", a([np.inf, np.nan, 2], np.float32), a([0, 0, 3], np.float32), name="zeros")
    case(m, "Add", a([2147483647, -2147483648], np.int32), a([1, -1], np.int32), name="i32_overflow")
    case(m, "Mul", a([65536, 3], np.int32), a([65536, -3], np.int32), name="i32_overflow")
    case(m, "Add", a([250, 5], np.uint8), a([10, 5], np.uint8), name="u8_wrap")
    case(m, "Add", f32(2, 3), f32(4), name="incompatible")
    case(m, "AddV2", f32(0, 3), f32(3), name="empty")
    case(m, "AddV2", f16(2, 3), f16(2, 3), name="f16")
    case(m, "AddV2", bf16(2, 3), bf16(3), name="bf16")
    case(m, "Mul", bf16(2, 3), bf16(3), name="bf16")
    case(m, "RealDiv", f16(4), f16(4, lo=0.5), name="f16")
    case(m, "Add", s([["a", "bc"], ["", "d"]]), s("x"), name="string")
    nan = a([np.nan, 1, np.nan, -np.inf], np.float32)
    other = a([1, np.nan, np.nan, 2], np.float32)
    case(m, "Maximum", nan, other, name="nan")
    case(m, "Minimum", nan, other, name="nan")
    case(m, "Maximum", a([1, -5], np.int64), a([0, 0], np.int64), name="i64")
    case(m, "AddV2", f64(3), f64(3), name="f64")
    case(m, "BitwiseAnd", i32(5), i32(5), name="i32")
    case(m, "BitwiseOr", i32(5), i32(5), name="i32")
    case(m, "BitwiseXor", a([1, 255, 7], np.uint8), a([3, 1, 7], np.uint8), name="u8")
    case(m, "LeftShift", a([1, -1, 3, 5], np.int32), a([1, 31, 33, -1], np.int32), name="i32")
    case(m, "RightShift", a([8, -8, 3, 5], np.int32), a([1, 2, 33, -1], np.int32), name="i32")
    case(m, "Invert", a([0, 1, -1], np.int32), name="i32")
    # comparisons
    for op in ["Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual"]:
        case(m, op, a([1, 2, 3, np.nan], np.float32), a([2, 2, 1, np.nan], np.float32), name="f32_nan")
        case(m, op, i32(2, 3, lo=0, hi=3), i32(3, lo=0, hi=3), name="i32_broadcast")
    case(m, "Equal", s(["a", "b", ""]), s(["a", "c", ""]), name="string")
    case(m, "NotEqual", s(["a", "b"]), s("a"), name="string")
    case(m, "Equal", b([True, False]), b([True, True]), name="bool")
    case(m, "Equal", f32(2), f32(3), name="incompatible_noerror", incompatible_shape_error=False)
    case(m, "NotEqual", f32(2), f32(3), name="incompatible_noerror", incompatible_shape_error=False)
    case(m, "Equal", f32(2), f32(3), name="incompatible")
    case(m, "ApproximateEqual", a([1, 2, 3], np.float32), a([1.000001, 2.1, 3], np.float32))
    case(m, "LogicalAnd", b([True, True, False, False]), b([True, False, True, False]))
    case(m, "LogicalOr", b([[True], [False]]), b([True, False]))
    case(m, "LogicalNot", b([True, False]))
    # unary
    xs = a([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.7, -3.7], np.float32)
    posx = a([0.01, 0.5, 1.0, 2.0, 10.0, 100.0], np.float32)
    unit = a([-0.99, -0.5, 0.0, 0.3, 0.9], np.float32)
    for op in [
        "Neg",
        "Square",
        "Abs",
        "Sign",
        "Floor",
        "Ceil",
        "Round",
        "Rint",
        "Exp",
        "Expm1",
        "Sin",
        "Cos",
        "Tan",
        "Atan",
        "Sinh",
        "Cosh",
        "Tanh",
        "Asinh",
        "Sigmoid",
        "Erf",
        "Erfc",
        "Reciprocal",
        "Inv",
        "IsNan",
        "IsInf",
        "IsFinite",
    ]:
        case(m, op, xs, name="f32")
    for op in ["Sqrt", "Rsqrt", "Log", "Log1p", "Lgamma", "Digamma", "Acosh"]:
        case(m, op, posx + a(1, np.float32) if op == "Acosh" else posx, name="f32")
    for op in ["Asin", "Acos", "Atanh"]:
        case(m, op, unit, name="f32")
    special = a([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32)
    for op in [
        "Sign",
        "Round",
        "Floor",
        "Abs",
        "Sqrt",
        "Log",
        "Exp",
        "Tanh",
        "Sigmoid",
        "IsNan",
        "IsInf",
        "IsFinite",
        "Reciprocal",
        "Rsqrt",
        "Erf",
    ]:
        case(m, op, special, name="special")
    case(m, "Lgamma", a([-2.5, -1, 0, 0.5, 3], np.float32), name="negative")
    case(m, "Digamma", a([-2.5, -1, 0, 0.5, 3], np.float32), name="negative")
    case(m, "Tanh", a([-20, -9, -1e-4, 1e-4, 9, 20], np.float32), name="tails")
    case(m, "Sigmoid", a([-100, -20, -1e-4, 1e-4, 20, 100], np.float32), name="tails")
    case(m, "Exp", f16(5), name="f16")
    case(m, "Tanh", bf16(5), name="bf16")
    case(m, "Sigmoid", f16(5), name="f16")
    case(m, "Sqrt", f64(4, lo=0, hi=5), name="f64")
    case(m, "Neg", a([-2147483648, 5], np.int32), name="i32_min")
    case(m, "Abs", a([-2147483648, -5], np.int32), name="i32_min")
    case(m, "Square", a([46341, -3], np.int32), name="i32_overflow")
    case(m, "Sign", a([-3, 0, 4], np.int64), name="i64")
    case(m, "Round", a([-3, 0, 4], np.int32), name="i32")
    case(m, "Round", a([0.5, 1.5, 2.5, -0.5, -2.5, 2.4999], np.float64), name="f64_half_even")
    case(m, "Real", a([1 + 2j, 3 - 1j], np.complex64))
    case(m, "Imag", a([1 + 2j, 3 - 1j], np.complex64))
    case(m, "Conj", a([1 + 2j, 3 - 1j], np.complex64))
    case(m, "ComplexAbs", a([3 + 4j, 1 - 1j], np.complex64))
    case(m, "Complex", f32(3), f32(3), Tout=tf.complex64)
    case(m, "AddN", [f32(2, 2), f32(2, 2), f32(2, 2)])
    case(m, "AddN", [i32(3), i32(3)], name="i32")
    case(m, "Select", b([True, False]), f32(2, 3), f32(2, 3), name="vector_cond")
    case(m, "Select", b([[True, False, True], [False, False, True]]), i32(2, 3), i32(2, 3), name="same")
    case(m, "Select", b(True), s(["a", "b"]), s(["c", "d"]), name="scalar_string")
    case(m, "Select", b([True, False, True]), f32(2, 3), f32(2, 3), name="bad")
    case(m, "SelectV2", b([True, False, True]), f32(2, 3), f32(1), name="broadcast")
    case(m, "SelectV2", b([[True], [False]]), a(1, np.int32), i32(2, 3), name="broadcast_i32")
    case(m, "ClipByValue", f32(2, 3), a(-1, np.float32), a(1, np.float32))
    case(
        m,
        "ClipByValue",
        i32(4),
        a([-1, -2, -3, -4], np.int32),
        a([1, 2, 3, 4], np.int32),
        name="tensor_bounds",
    )
    # cast
    fl = a([-2.7, -0.5, 0.5, 1.5, 2.9, 300.7, -300.2], np.float32)
    for dst in [tf.int32, tf.int64, tf.uint8, tf.int8, tf.bool, tf.float16, tf.bfloat16, tf.float64]:
        case(m, "Cast", fl, name=f"f32_to_{dst.name}", DstT=dst)
    case(m, "Cast", a([np.nan, np.inf, -np.inf, 3e9], np.float32), name="nan_to_i32", DstT=tf.int32)
    case(m, "Cast", a([np.nan, np.inf, -np.inf, 3e19], np.float32), name="nan_to_i64", DstT=tf.int64)
    case(m, "Cast", a([1, 0, -1, 300], np.int32), name="i32_to_u8", DstT=tf.uint8)
    case(m, "Cast", a([1, 0, -1, 300], np.int32), name="i32_to_bool", DstT=tf.bool)
    case(m, "Cast", a([2**40 + 5, -1], np.int64), name="i64_to_i32", DstT=tf.int32)
    case(m, "Cast", b([True, False]), name="bool_to_f32", DstT=tf.float32)
    case(
        m,
        "Cast",
        a([1.00390625, 1.01171875, 65520.0, 1e-8], np.float32),
        name="f32_to_bf16_rounding",
        DstT=tf.bfloat16,
    )
    case(
        m,
        "Cast",
        a([1.00390625, 1.01171875], np.float32),
        name="f32_to_bf16_truncate",
        DstT=tf.bfloat16,
        Truncate=True,
    )
    case(m, "Cast", bf16(4), name="bf16_to_i32", DstT=tf.int32)
    case(m, "Cast", f32(3), name="f32_to_c64", DstT=tf.complex64)
    case(m, "Cast", a([70000.0, 1e-8, 0.1], np.float32), name="f32_to_f16", DstT=tf.float16)
    case(m, "Bitcast", a([1.0, -2.0], np.float32), type=tf.int32)
    case(m, "Bitcast", a([1.0], np.float32), name="split", type=tf.uint8)
    case(m, "Bitcast", a([[0, 0, 128, 63]], np.uint8), name="join", type=tf.float32)
    # reductions
    x3 = f32(2, 3, 4)
    for op in ["Sum", "Prod", "Mean", "Max", "Min", "EuclideanNorm"]:
        case(m, op, x3, a([1], np.int32), name="axis1")
        case(m, op, x3, a([0, -1], np.int32), name="keep", keep_dims=True)
    case(m, "Sum", x3, a([], np.int32), name="no_axes")
    case(m, "Sum", i32(3, 4), a(0, np.int32), name="i32_scalar_axis")
    case(m, "Sum", a([2147483647, 1], np.int32), a([0], np.int32), name="i32_overflow")
    case(m, "Sum", a([200, 100], np.uint8), a([0], np.int32), name="u8_wrap")
    case(m, "Sum", f16(50), a([0], np.int32), name="f16")
    case(m, "Sum", bf16(40), a([0], np.int32), name="bf16", rtol=1e-2)
    case(m, "Mean", f16(3, 8), a([1], np.int32), name="f16")
    case(m, "Mean", a([[1, 2], [4, 4]], np.int32), a([1], np.int32), name="i32_trunc")
    case(m, "Mean", a([-3, -4], np.int32), a([0], np.int32), name="i32_negative")
    case(m, "Sum", x3, a([3], np.int32), name="bad_axis")
    case(m, "Sum", x3, a([1], np.int64), name="i64_axis")
    case(m, "Sum", f32(0, 3), a([0], np.int32), name="empty")
    case(m, "Max", f32(0, 3), a([0], np.int32), name="empty")
    case(m, "Min", i32(0, 3), a([0], np.int32), name="empty_i32")
    case(m, "Prod", f32(0, 3), a([0], np.int32), name="empty")
    case(m, "Mean", f32(0, 3), a([0], np.int32), name="empty")
    case(m, "Max", a([[1, np.nan, 3], [np.nan, -1, -2]], np.float32), a([1], np.int32), name="nan")
    case(m, "Min", a([[1, np.nan, 3], [0, -1, -2]], np.float32), a([1], np.int32), name="nan")
    case(m, "Max", i32(3, 4), a([0, 1], np.int32), name="i32")
    case(m, "Max", bf16(3, 4), a([1], np.int32), name="bf16")
    case(m, "Sum", a(5.0, np.float32), a([], np.int32), name="scalar")
    case(m, "All", b([[True, False], [True, True]]), a([1], np.int32))
    case(m, "Any", b([[True, False], [False, False]]), a([1], np.int32), keep_dims=True)
    case(m, "All", b(np.zeros((0, 2), bool)), a([0], np.int32), name="empty")
    case(m, "ArgMax", x3, a(1, np.int32))
    case(m, "ArgMax", i32(3, 4, lo=0, hi=2), a(-1, np.int32), name="ties_i32", output_type=tf.int32)
    case(m, "ArgMin", x3, a(2, np.int32))
    case(m, "ArgMin", a([3, 1, 1, 2], np.float32), a(0, np.int64), name="ties", output_type=tf.int32)
    case(m, "ArgMax", a([[1, np.nan, 3], [np.nan, 0, 1]], np.float32), a(1, np.int32), name="nan")
    case(m, "ArgMax", f32(2, 0), a(1, np.int32), name="empty_axis")
    case(m, "Cumsum", f32(2, 4), a(1, np.int32))
    case(m, "Cumsum", f32(2, 4), a(1, np.int32), name="exclusive", exclusive=True)
    case(m, "Cumsum", i32(2, 4), a(0, np.int32), name="reverse", reverse=True)
    case(m, "Cumsum", f32(3, 4), a(-1, np.int32), name="exclusive_reverse", exclusive=True, reverse=True)
    case(m, "Cumprod", f32(2, 4), a(1, np.int32))
    case(m, "Cumprod", f32(2, 4), a(1, np.int32), name="exclusive_reverse", exclusive=True, reverse=True)
    case(m, "CumulativeLogsumexp", f32(2, 4), a(1, np.int32))
    case(m, "CumulativeLogsumexp", f32(2, 4), a(1, np.int32), name="exclusive", exclusive=True)
    # matrix products
    case(m, "MatMul", f32(2, 3), f32(3, 4))
    case(m, "MatMul", f32(3, 2), f32(4, 3), name="transposed", transpose_a=True, transpose_b=True)
    case(m, "MatMul", i32(2, 3), i32(3, 2), name="i32")
    case(m, "MatMul", f16(2, 8), f16(8, 2), name="f16")
    case(m, "MatMul", bf16(2, 8), bf16(8, 2), name="bf16")
    case(m, "MatMul", f32(2, 3), f32(4, 2), name="mismatch")
    case(m, "MatMul", f32(0, 3), f32(3, 2), name="empty")
    case(m, "BatchMatMul", f32(2, 2, 3), f32(2, 3, 4))
    case(m, "BatchMatMulV2", f32(2, 1, 2, 3), f32(3, 3, 4), name="broadcast")
    case(m, "BatchMatMulV2", f32(2, 3, 2), f32(2, 4, 3), name="adjoint", adj_x=True, adj_y=True)
    case(
        m,
        "BatchMatMulV2",
        a(np.arange(6).reshape(1, 2, 3) * (1 + 1j), np.complex64),
        a(np.ones((1, 2, 3)) * (2 - 1j), np.complex64),
        name="complex_adjoint",
        adj_y=True,
    )
    case(m, "BatchMatMulV2", f32(2, 2, 3), f32(3, 3, 4), name="bad_batch")
    case(m, "BatchMatMulV3", i32(2, 2, 3).astype(np.int8), i32(2, 3, 2).astype(np.int8), Tout=tf.int32)
    case(m, "Einsum", [f32(2, 3), f32(3, 4)], equation="ij,jk->ik")
    case(m, "Einsum", [f32(2, 3, 4)], name="transpose_sum", equation="abc->cb")
    case(m, "Einsum", [f32(2, 5, 3), f32(2, 3, 4)], name="batch", equation="bij,bjk->bik")
    case(m, "Einsum", [f32(2, 3, 5), f32(5, 4)], name="ellipsis", equation="...j,jk->...k")
    case(m, "Cross", f32(2, 3), f32(2, 3))


@builder
def array_cases() -> None:
    r = "array"
    x = f32(2, 3, 4)
    case(r, "StopGradient", x)
    case(r, "PreventGradient", x, message="no grad")
    case(r, "Snapshot", i32(3))
    case(r, "CheckNumerics", f32(3), message="ok")
    case(r, "CheckNumerics", a([1, np.nan], np.float32), name="nan", message="bad")
    case(r, "CheckNumericsV2", a([1, np.inf], np.float32), name="inf", message="bad")
    case(r, "CheckNumericsV2", f16(3), name="f16", message="ok")
    case(r, "EnsureShape", x, shape=[2, None, 4])
    case(r, "EnsureShape", x, name="mismatch", shape=[2, 5, 4])
    case(r, "Shape", x)
    case(r, "Shape", s([["a"], ["b"]]), name="string_i64", out_type=tf.int64)
    case(r, "Shape", a(1.0, np.float32), name="scalar")
    case(r, "ShapeN", [x, f32(5)])
    case(r, "Size", x)
    case(r, "Size", x, name="i64", out_type=tf.int64)
    case(r, "Rank", x)
    case(r, "Reshape", x, a([4, -1], np.int32))
    case(r, "Reshape", x, a([-1], np.int64), name="flatten")
    case(r, "Reshape", x, a([5, -1], np.int32), name="bad")
    case(r, "Reshape", x, a([-1, -1], np.int32), name="two_unknown")
    case(r, "Reshape", f32(0, 3), a([-1, 3], np.int32), name="empty")
    case(r, "Reshape", a([7], np.int32), a([], np.int32), name="to_scalar")
    case(r, "ExpandDims", x, a(0, np.int32))
    case(r, "ExpandDims", x, a(-1, np.int64), name="last")
    case(r, "ExpandDims", x, a(4, np.int32), name="bad")
    case(r, "Squeeze", f32(1, 3, 1, 2))
    case(r, "Squeeze", f32(1, 3, 1, 2), name="axis", axis=[-2])
    case(r, "Squeeze", f32(1, 3, 1, 2), name="bad", axis=[1])
    case(r, "Transpose", x, a([2, 0, 1], np.int32))
    case(r, "Transpose", x, a([0, 0, 1], np.int32), name="bad")
    case(r, "ConjugateTranspose", a([[1 + 1j, 2 - 1j]], np.complex64), a([1, 0], np.int32))
    case(r, "Pack", [f32(2, 3), f32(2, 3)], axis=1)
    case(r, "Pack", [a(1, np.int32), a(2, np.int32), a(3, np.int32)], name="scalars")
    case(r, "Pack", [f32(2, 3), f32(2, 3)], name="neg_axis", axis=-1)
    case(r, "Pack", [f32(2, 3), f32(3, 2)], name="bad")
    case(r, "Unpack", x, num=3, axis=1)
    case(r, "Unpack", s(["a", "b"]), name="string", num=2)
    case(r, "ConcatV2", [f32(2, 3), f32(2, 1)], a(1, np.int32))
    case(r, "ConcatV2", [i32(1, 2), i32(2, 2), i32(0, 2)], a(-2, np.int64), name="neg_axis")
    case(r, "ConcatV2", [s(["a"]), s(["b", "c"])], a(0, np.int32), name="string")
    case(r, "ConcatV2", [f32(2, 3), f32(3, 3)], a(1, np.int32), name="bad")
    case(r, "Concat", a(0, np.int32), [f32(1, 3), f32(2, 3)])
    case(r, "ConcatOffset", a(1, np.int32), [a([2, 3, 5], np.int32), a([2, 7, 5], np.int32)])
    case(r, "Split", a(1, np.int32), f32(2, 6, 2), num_split=3)
    case(r, "Split", a(0, np.int32), f32(3, 2), name="uneven", num_split=2)
    case(r, "SplitV", f32(2, 7), a([2, -1, 1], np.int32), a(1, np.int32), num_split=3)
    case(r, "SplitV", f32(6), a([2, 2, 2], np.int64), a(0, np.int32), name="i64", num_split=3)
    case(r, "SplitV", f32(6), a([2, 2, 3], np.int32), a(0, np.int32), name="bad", num_split=3)
    case(r, "Slice", x, a([0, 1, 1], np.int32), a([-1, 2, 2], np.int32))
    case(r, "Slice", x, a([0, 2, 0], np.int64), a([1, 2, 1], np.int64), name="out_of_range")
    case(r, "Slice", x, a([0, 0, 0], np.int32), a([0, 1, 0], np.int32), name="empty")
    ss = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    spec = [
        ("basic", [0, 1, 0], [2, 3, 5], [1, 1, 2], {}),
        ("negative_stride", [-1, -1, -1], [0, 0, 0], [-1, -2, -1], {}),
        ("negative_stride_masked", [0, 0, 0], [0, 0, 0], [-1, -1, -2], dict(begin_mask=7, end_mask=7)),
        ("neg_end_masked", [2, 3, 4], [0, 0, 0], [-1, -1, -1], dict(end_mask=7)),
        ("clamp", [-10, 1, 2], [10, 100, 100], [1, 1, 1], {}),
        ("clamp_negative", [10, 100, 100], [-10, -100, -100], [-1, -1, -1], {}),
        ("shrink", [1, 0, 2], [2, 4, 3], [1, 1, 1], dict(shrink_axis_mask=5)),
        ("shrink_negative", [-1, 0, -2], [0, 4, -1], [1, 1, 1], dict(shrink_axis_mask=5)),
        ("ellipsis", [0, 1], [0, 3], [1, 1], dict(ellipsis_mask=1)),
        ("ellipsis_middle", [1, 0, 2], [2, 0, 4], [1, 1, 1], dict(ellipsis_mask=2)),
        ("new_axis", [0, 0, 1], [0, 0, 3], [1, 1, 1], dict(new_axis_mask=1, begin_mask=2, end_mask=2)),
        ("new_axis_after_ellipsis", [0, 0], [0, 0], [1, 1], dict(ellipsis_mask=1, new_axis_mask=2)),
        ("new_axis_shrink", [0, 1], [0, 2], [1, 1], dict(new_axis_mask=1, shrink_axis_mask=2)),
        ("partial", [1], [3], [1], {}),
        ("masks", [5, 5, 5], [1, 1, 1], [1, 1, 1], dict(begin_mask=5, end_mask=2)),
        ("empty_range", [2, 0, 0], [1, 4, 5], [1, 1, 1], {}),
        ("big_stride", [0, 0, 0], [3, 4, 5], [5, 5, 5], {}),
        ("shrink_out_of_range", [3], [4], [1], dict(shrink_axis_mask=1)),
        ("zero_stride", [0], [1], [0], {}),
        ("too_many", [0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], {}),
    ]
    for name, bg, en, st, masks in spec:
        case(r, "StridedSlice", ss, a(bg, np.int32), a(en, np.int32), a(st, np.int32), name=name, **masks)
    case(
        r,
        "StridedSlice",
        a(np.arange(5), np.int64),
        a([-2], np.int64),
        a([0], np.int64),
        a([1], np.int64),
        name="i64_index",
        end_mask=1,
    )
    case(
        r,
        "StridedSliceGrad",
        a([3, 4], np.int32),
        a([1, 0], np.int32),
        a([3, 4], np.int32),
        a([1, 2], np.int32),
        f32(2, 2),
    )
    p = f32(5, 3)
    case(r, "GatherV2", p, a([[0, 4], [2, 2]], np.int32), a(0, np.int32))
    case(r, "GatherV2", p, a([2, 0], np.int64), a(-1, np.int32), name="last_axis")
    case(r, "GatherV2", p, a([5], np.int32), a(0, np.int32), name="out_of_range")
    case(r, "GatherV2", p, a([-1], np.int32), a(0, np.int32), name="negative")
    case(
        r,
        "GatherV2",
        f32(2, 4, 3),
        a([[0, 3], [1, 1]], np.int32),
        a(1, np.int32),
        name="batch_dims",
        batch_dims=1,
    )
    case(
        r,
        "GatherV2",
        f32(2, 3, 4),
        a([[0, 3], [1, 1]], np.int32),
        a(2, np.int32),
        name="batch_dims_axis2",
        batch_dims=1,
    )
    case(
        r,
        "GatherV2",
        f32(2, 3),
        a([[0, 2], [1, 1]], np.int32),
        a(1, np.int32),
        name="batch_dims_neg",
        batch_dims=-1,
    )
    case(r, "GatherV2", s(["a", "b", "c"]), a([2, 0], np.int32), a(0, np.int32), name="string")
    case(r, "GatherV2", p, a(np.zeros((0,)), np.int32), a(0, np.int32), name="empty_indices")
    case(r, "Gather", p, a([1, 1, 0], np.int32))
    case(r, "Fill", a([2, 3], np.int32), a(1.5, np.float32))
    case(r, "Fill", a([2], np.int64), s("x"), name="string")
    case(r, "Fill", a([0, 3], np.int32), a(1, np.int32), name="empty")
    case(r, "Fill", a([-1], np.int32), a(1, np.int32), name="negative")
    case(r, "Range", a(0, np.int32), a(10, np.int32), a(3, np.int32))
    case(r, "Range", a(10, np.int32), a(-3, np.int32), a(-4, np.int32), name="negative")
    case(r, "Range", a(0, np.float32), a(1, np.float32), a(0.1, np.float32), name="f32")
    case(r, "Range", a(0.5, np.float64), a(-1, np.float64), a(-0.3, np.float64), name="f64")
    case(r, "Range", a(0, np.int64), a(5, np.int64), a(1, np.int64), name="i64")
    case(r, "Range", a(0, np.int32), a(5, np.int32), a(0, np.int32), name="zero_delta")
    case(r, "Range", a(5, np.int32), a(0, np.int32), a(1, np.int32), name="wrong_direction")
    case(r, "Range", a(3, np.int32), a(3, np.int32), a(1, np.int32), name="empty")
    case(r, "LinSpace", a(0, np.float32), a(1, np.float32), a(5, np.int32))
    case(r, "LinSpace", a(-1, np.float64), a(1, np.float64), a(1, np.int64), name="one")
    case(r, "LinSpace", a(0, np.float32), a(1, np.float32), a(0, np.int32), name="zero")
    case(r, "ZerosLike", x)
    case(r, "ZerosLike", b([True]), name="bool")
    case(r, "OnesLike", i32(2, 2))
    case(r, "Tile", f32(2, 3), a([2, 1], np.int32))
    case(r, "Tile", s([["a", "b"]]), a([2, 2], np.int64), name="string")
    case(r, "Tile", f32(2, 3), a([2], np.int32), name="bad")
    case(r, "Tile", f32(2, 3), a([0, 2], np.int32), name="zero")


@builder
def nn_cases() -> None:
    n = "nn"
    xs = a([-10, -2.5, -1, -0.1, 0, 0.1, 1, 2.5, 7, 40], np.float32)
    for op in ["Relu", "Relu6", "Elu", "Selu", "Softplus", "Softsign"]:
        case(n, op, xs, name="f32")
        case(n, op, f16(6), name="f16")
    case(n, "Relu", a([-3, 0, 5], np.int32), name="i32")
    case(n, "Relu", a([np.nan, -np.inf, np.inf], np.float32), name="special")
    case(n, "Relu6", a([-3, 0, 5, 9], np.int64), name="i64")
    case(n, "Softplus", a([-100, -30, -15, 15, 30, 100], np.float32), name="tails")
    case(n, "Softplus", a([-100, -30, -15, 15, 30, 100], np.float64), name="tails_f64")
    case(n, "LeakyRelu", xs)
    case(n, "LeakyRelu", xs, name="alpha", alpha=0.01)
    case(n, "Softmax", f32(2, 5))
    case(n, "Softmax", a([[1000, 1000, -1000], [0, 0, 0]], np.float32), name="large")
    case(n, "Softmax", f16(2, 4), name="f16")
    case(n, "Softmax", f32(2, 0), name="empty")
    case(n, "LogSoftmax", f32(2, 5))
    case(n, "LogSoftmax", a([[1000, 1000, -1000]], np.float32), name="large")
    case(n, "BiasAdd", f32(2, 3, 4), f32(4))
    case(n, "BiasAdd", f32(2, 3, 4, 4), f32(3), name="nchw", data_format="NCHW")
    case(n, "BiasAdd", i32(2, 3), i32(3), name="i32")
    case(n, "BiasAdd", f32(2, 3), f32(4), name="bad")
    case(n, "BiasAddV1", f32(2, 3), f32(3))


@builder
def string_cases() -> None:
    t = "strings"
    case(t, "StringJoin", [s(["a", "b"]), s("-"), s(["c", "d"])], separator="/")
    case(t, "StringJoin", [s("x"), s("y")], name="scalars")
    case(t, "StringJoin", [s(["a", "b"]), s(["c"])], name="bad")
    words = s(["hello", "Hello", "", "héllo", "abc123", "a\nb"])
    case(t, "StaticRegexFullMatch", words, pattern="[a-z]+")
    case(t, "StaticRegexFullMatch", words, name="unicode_dot", pattern="h.llo")
    case(t, "StaticRegexFullMatch", words, name="classes", pattern=r"\w+\d*")
    case(t, "StaticRegexFullMatch", words, name="empty_ok", pattern="(?i)h.*|")
    case(t, "RegexFullMatch", words, s("[a-z]*[0-9]+"))


@builder
def conv_cases() -> None:
    n = "nn"
    x = f32(2, 7, 6, 3)
    w = f32(3, 3, 3, 4)
    case(n, "Conv2D", x, w, name="valid", strides=[1, 1, 1, 1], padding="VALID")
    case(n, "Conv2D", x, w, name="same_stride2", strides=[1, 2, 2, 1], padding="SAME")
    case(n, "Conv2D", x, f32(2, 2, 3, 4), name="same_even_kernel", strides=[1, 2, 1, 1], padding="SAME")
    case(n, "Conv2D", x, w, name="dilated", strides=[1, 1, 1, 1], padding="SAME", dilations=[1, 2, 2, 1])
    case(
        n,
        "Conv2D",
        x,
        w,
        name="explicit",
        strides=[1, 1, 2, 1],
        padding="EXPLICIT",
        explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0],
    )
    case(n, "Conv2D", x, f32(3, 3, 1, 6), name="grouped", strides=[1, 1, 1, 1], padding="VALID")
    case(n, "Conv2D", f16(1, 5, 5, 2), f16(3, 3, 2, 2), name="f16", strides=[1, 1, 1, 1], padding="SAME")
    case(n, "Conv2D", f32(1, 2, 2, 3), w, name="kernel_bigger", strides=[1, 1, 1, 1], padding="VALID")
    case(
        n, "Conv2D", f32(1, 5, 5, 2), f32(3, 3, 3, 2), name="bad_depth", strides=[1, 1, 1, 1], padding="VALID"
    )
    case(n, "Conv2D", f64(1, 5, 5, 2), f64(1, 1, 2, 3), name="f64_1x1", strides=[1, 1, 1, 1], padding="VALID")
    case(
        n,
        "Conv3D",
        f32(1, 4, 5, 4, 2),
        f32(2, 3, 2, 2, 3),
        name="same",
        strides=[1, 1, 2, 1, 1],
        padding="SAME",
    )
    case(
        n,
        "Conv3D",
        f32(1, 4, 5, 4, 2),
        f32(2, 2, 2, 2, 3),
        name="valid_dilated",
        strides=[1, 1, 1, 1, 1],
        padding="VALID",
        dilations=[1, 1, 2, 1, 1],
        cpu_unsupported=True,
    )
    case(n, "DepthwiseConv2dNative", x, f32(3, 3, 3, 2), name="same", strides=[1, 1, 1, 1], padding="SAME")
    case(
        n,
        "DepthwiseConv2dNative",
        x,
        f32(3, 3, 3, 1),
        name="valid_stride",
        strides=[1, 2, 2, 1],
        padding="VALID",
    )
    case(
        n,
        "DepthwiseConv2dNative",
        x,
        f32(3, 3, 3, 1),
        name="dilated",
        strides=[1, 1, 1, 1],
        padding="VALID",
        dilations=[1, 2, 2, 1],
        cpu_unsupported=True,
    )
    case(
        n,
        "DepthwiseConv2dNative",
        x,
        f32(2, 2, 3, 2),
        name="explicit",
        strides=[1, 1, 1, 1],
        padding="EXPLICIT",
        explicit_paddings=[0, 0, 1, 0, 0, 1, 0, 0],
    )
    case(
        n,
        "Conv2DBackpropInput",
        a([2, 7, 6, 3], np.int32),
        w,
        f32(2, 4, 3, 4),
        name="same_stride2",
        strides=[1, 2, 2, 1],
        padding="SAME",
    )
    case(
        n,
        "Conv2DBackpropInput",
        a([2, 8, 8, 3], np.int32),
        w,
        f32(2, 3, 3, 4),
        name="valid_stride2",
        strides=[1, 2, 2, 1],
        padding="VALID",
    )
    case(
        n,
        "Conv2DBackpropInput",
        a([1, 5, 5, 3], np.int32),
        w,
        f32(1, 5, 5, 4),
        name="dilated",
        strides=[1, 1, 1, 1],
        padding="SAME",
        dilations=[1, 2, 2, 1],
        cpu_unsupported=True,
    )
    case(
        n,
        "Conv2DBackpropInput",
        a([1, 5, 5, 3], np.int32),
        w,
        f32(1, 6, 5, 4),
        name="explicit",
        strides=[1, 1, 1, 1],
        padding="EXPLICIT",
        explicit_paddings=[0, 0, 2, 1, 1, 1, 0, 0],
    )
    case(
        n,
        "Conv3DBackpropInputV2",
        a([1, 4, 4, 4, 2], np.int32),
        f32(2, 2, 2, 2, 3),
        f32(1, 2, 2, 2, 3),
        strides=[1, 2, 2, 2, 1],
        padding="SAME",
    )
    case(
        n,
        "DepthwiseConv2dNativeBackpropInput",
        a([1, 5, 5, 3], np.int32),
        f32(3, 3, 3, 2),
        f32(1, 3, 3, 6),
        strides=[1, 2, 2, 1],
        padding="SAME",
    )
    case(n, "MaxPool", x, name="valid", ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    case(n, "MaxPool", x, name="same", ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME")
    case(
        n,
        "MaxPool",
        -np.abs(x),
        name="same_negative",
        ksize=[1, 3, 3, 1],
        strides=[1, 2, 2, 1],
        padding="SAME",
    )
    case(n, "MaxPool", i32(1, 4, 4, 2), name="i32", ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding="SAME")
    case(n, "MaxPool", f16(1, 4, 4, 2), name="f16", ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding="SAME")
    case(n, "MaxPoolV2", x, a([1, 2, 3, 1], np.int32), a([1, 1, 2, 1], np.int32), padding="SAME")
    case(n, "AvgPool", x, name="valid", ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    case(n, "AvgPool", x, name="same", ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME")
    case(n, "AvgPool", f16(1, 4, 4, 2), name="f16", ksize=[1, 3, 3, 1], strides=[1, 1, 1, 1], padding="SAME")
    case(n, "MaxPool3D", f32(1, 4, 4, 4, 2), ksize=[1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1], padding="SAME")
    case(n, "AvgPool3D", f32(1, 4, 5, 4, 2), ksize=[1, 2, 3, 2, 1], strides=[1, 2, 2, 2, 1], padding="SAME")
    c = 3
    scale, offset, mean, var = f32(c), f32(c), f32(c), pos32(c)
    reserve = dict(unchecked=[3, 4, 5], note="reserve spaces are scratch memory (unspecified values)")
    for op in ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"]:
        case(
            n, op, x, scale, offset, mean, var, name="inference", is_training=False, epsilon=0.001, **reserve
        )
    case(
        n,
        "FusedBatchNormV3",
        f32(2, 3, 4, 4),
        scale,
        offset,
        mean,
        var,
        name="nchw_inference",
        is_training=False,
        data_format="NCHW",
        epsilon=0.001,
        **reserve,
    )
    case(
        n,
        "FusedBatchNormV3",
        x,
        scale,
        offset,
        a([], np.float32),
        a([], np.float32),
        name="training",
        is_training=True,
        epsilon=0.001,
        **reserve,
    )
    case(
        n,
        "FusedBatchNormV3",
        x,
        scale,
        offset,
        mean,
        var,
        name="training_avg",
        is_training=True,
        exponential_avg_factor=0.3,
        **reserve,
    )
    case(
        n,
        "FusedBatchNormV3",
        f16(1, 3, 3, c),
        scale,
        offset,
        mean,
        var,
        name="f16",
        is_training=False,
        **reserve,
    )
    case(n, "LRN", f32(1, 3, 3, 8), depth_radius=2, bias=1.0, alpha=0.5, beta=0.75)
    case(n, "L2Loss", f32(3, 4))
    case(n, "TopKV2", f32(3, 6), a(3, np.int32))
    case(n, "TopKV2", a([[1, 3, 3, 2, 3]], np.int32), a(2, np.int32), name="ties")
    case(n, "TopKV2", a([[1, np.nan, 3]], np.float32), a(2, np.int32), name="nan")
    case(n, "TopKV2", f32(2, 3), a(4, np.int32), name="too_big")
    case(n, "TopKV2", f32(5), a(0, np.int32), name="zero")
    case(n, "InTopKV2", f32(3, 5), a([0, 4, 2], np.int32), a(2, np.int32))
    case(n, "InTopK", f32(3, 5), a([0, 4, 2], np.int32), k=3)
    case(n, "SoftmaxCrossEntropyWithLogits", f32(3, 4), np.abs(f32(3, 4)))
    case(n, "SparseSoftmaxCrossEntropyWithLogits", f32(3, 4), a([0, 3, 1], np.int32))
    case(n, "SparseSoftmaxCrossEntropyWithLogits", f32(2, 4), a([0, 4], np.int64), name="bad_label")


@builder
def array_cases_2() -> None:
    r = "array"
    x = f32(2, 3)
    case(r, "Pad", x, a([[1, 0], [2, 1]], np.int32))
    case(r, "Pad", s([["a"]]), a([[1, 0], [0, 1]], np.int64), name="string")
    case(r, "Pad", x, a([[1, 0]], np.int32), name="bad")
    case(r, "PadV2", i32(2, 2), a([[0, 1], [1, 1]], np.int32), a(-1, np.int32))
    case(r, "MirrorPad", f32(3, 4), a([[2, 1], [3, 0]], np.int32), mode="REFLECT")
    case(r, "MirrorPad", f32(3, 4), a([[3, 1], [4, 0]], np.int32), name="symmetric", mode="SYMMETRIC")
    case(r, "MirrorPad", f32(3, 4), a([[3, 1], [0, 0]], np.int32), name="too_big", mode="REFLECT")
    case(r, "ReverseV2", f32(2, 3, 4), a([0, -1], np.int32))
    case(r, "ReverseV2", f32(2, 3), a([], np.int32), name="none")
    case(r, "Reverse", f32(2, 3), b([False, True]))
    case(r, "Roll", f32(3, 4), a([1, -2], np.int32), a([0, 1], np.int32))
    case(r, "Roll", f32(5), a(7, np.int64), a(0, np.int64), name="wrap")
    case(r, "ReverseSequence", f32(3, 4, 2), a([1, 4, 2], np.int64), seq_dim=1, batch_dim=0)
    case(r, "ReverseSequence", f32(4, 3), a([2, 0, 4], np.int32), name="batch1", seq_dim=0, batch_dim=1)
    case(r, "Where", b([[True, False], [False, True]]))
    case(r, "Where", a([0, 3, 0, -1], np.float32), name="f32")
    case(r, "Where", b(np.zeros((2, 0), bool)), name="empty")
    p = f32(3, 4, 2)
    case(r, "GatherNd", p, a([[0, 1], [2, 3]], np.int32))
    case(r, "GatherNd", p, a([[[1]], [[0]]], np.int64), name="slices")
    case(r, "GatherNd", p, a([[0, 1, 1]], np.int32), name="scalars")
    case(r, "GatherNd", p, a([[3, 0]], np.int32), name="out_of_range")
    case(r, "GatherNd", s([["a", "b"], ["c", "d"]]), a([[1, 0]], np.int32), name="string")
    case(r, "ScatterNd", a([[1], [3], [1]], np.int32), f32(3, 2), a([5, 2], np.int32))
    case(r, "ScatterNd", a([[0, 1], [1, 1]], np.int64), a([1, 2], np.int32), a([2, 2], np.int64), name="i32")
    case(r, "ScatterNd", a([[5]], np.int32), f32(1), a([3], np.int32), name="out_of_range")
    for op in [
        "TensorScatterUpdate",
        "TensorScatterAdd",
        "TensorScatterSub",
        "TensorScatterMax",
        "TensorScatterMin",
    ]:
        case(r, op, f32(4, 2), a([[1], [3]], np.int32), f32(2, 2))
    case(r, "TensorScatterUpdate", f32(4, 2), a([[1, 1], [0, 0]], np.int32), f32(2), name="elements")
    case(r, "TensorScatterUpdate", f32(4, 2), a([[1]], np.int32), f32(2, 2), name="bad_updates")
    case(r, "OneHot", a([0, 2, -1, 5], np.int32), a(3, np.int32), a(1, np.float32), a(0, np.float32))
    case(
        r,
        "OneHot",
        a([[0, 2], [1, 1]], np.int64),
        a(3, np.int32),
        a(5, np.int32),
        a(-1, np.int32),
        name="axis0",
        axis=0,
    )
    case(r, "OneHot", a([1, 0], np.uint8), a(2, np.int32), b(True), b(False), name="bool_axis1", axis=1)
    case(r, "BroadcastTo", f32(3, 1), a([2, 3, 4], np.int32))
    case(r, "BroadcastTo", f32(3, 2), a([2, 3], np.int32), name="bad")
    case(r, "BroadcastArgs", a([2, 1, 3], np.int32), a([4, 1], np.int32))
    case(r, "BroadcastGradientArgs", a([2, 1, 3], np.int32), a([4, 1], np.int32))
    case(r, "BroadcastGradientArgs", a([1, 1], np.int64), a([1], np.int64), name="ones")
    case(r, "SpaceToDepth", f32(1, 4, 6, 2), block_size=2)
    case(r, "SpaceToDepth", f32(1, 4, 5, 2), name="bad", block_size=2)
    case(r, "DepthToSpace", f32(1, 2, 3, 8), block_size=2)
    case(r, "SpaceToBatchND", f32(2, 5, 4, 3), a([2, 2], np.int32), a([[1, 0], [0, 0]], np.int32), consts=[1])
    case(r, "SpaceToBatchND", f32(1, 6, 2), a([3], np.int64), a([[0, 0]], np.int64), name="1d", consts=[1])
    case(r, "BatchToSpaceND", f32(8, 3, 2, 3), a([2, 2], np.int32), a([[1, 0], [0, 1]], np.int32), consts=[1])
    case(r, "Unique", a([3, 1, 3, 2, 1], np.int32))
    case(r, "Unique", s(["b", "a", "b"]), name="string", out_idx=tf.int64)
    case(r, "UniqueWithCounts", a([3.5, 1, 3.5, 2], np.float32))
    case(r, "ListDiff", a([1, 2, 3, 4, 2], np.int32), a([2, 5], np.int32))
    case(r, "InvertPermutation", a([2, 0, 3, 1], np.int32))
    case(r, "InvertPermutation", a([2, 0, 0], np.int32), name="bad")
    case(r, "LowerBound", a([[1, 3, 3, 7]], np.float32), a([[0, 3, 5, 8]], np.float32))
    case(
        r,
        "UpperBound",
        a([[1, 3, 3, 7], [0, 0, 1, 2]], np.int32),
        a([[3, 7], [0, 5]], np.int32),
        out_type=tf.int64,
    )
    case(r, "Bucketize", a([-1, 0, 2.5, 3, 10], np.float32), boundaries=[0.0, 2.5, 5.0])
    case(r, "UnravelIndex", a([5, 0, 11], np.int32), a([3, 4], np.int32))
    case(r, "Empty", a([2, 3], np.int32), dtype=tf.float32, init=True)
    case(r, "MatrixBandPart", f32(2, 4, 4), a(1, np.int64), a(-1, np.int64))
    case(r, "MatrixBandPart", f32(3, 5), a(0, np.int32), a(2, np.int32), name="upper")
    case(r, "Diag", f32(2, 3))
    case(r, "DiagPart", f32(3, 3))
    case(r, "MatrixDiag", f32(2, 3))
    case(r, "MatrixDiagPart", f32(2, 3, 4))
    case(r, "MatrixSetDiag", f32(3, 4), f32(3))
    case(
        r, "MatrixDiagV3", f32(2, 3), a([-1, 0], np.int32), a(-1, np.int32), a(-1, np.int32), a(9, np.float32)
    )
    case(
        r,
        "MatrixDiagV3",
        f32(2, 3),
        a([0, 1], np.int32),
        a(4, np.int32),
        a(5, np.int32),
        a(0, np.float32),
        name="left_right",
        align="LEFT_RIGHT",
    )
    case(
        r,
        "MatrixDiagV3",
        f32(3),
        a(1, np.int32),
        a(-1, np.int32),
        a(-1, np.int32),
        a(0, np.float32),
        name="single",
    )
    case(
        r, "MatrixDiagV2", f32(2, 3), a([-1, 0], np.int32), a(-1, np.int32), a(-1, np.int32), a(9, np.float32)
    )
    case(r, "MatrixDiagPartV3", f32(3, 4), a([-1, 1], np.int32), a(7, np.float32))
    case(
        r,
        "MatrixDiagPartV3",
        f32(2, 4, 3),
        a([-2, 0], np.int32),
        a(0, np.float32),
        name="left_right",
        align="LEFT_RIGHT",
    )
    case(r, "MatrixDiagPartV3", f32(3, 4), a(0, np.int32), a(0, np.float32), name="main")
    case(r, "MatrixDiagPartV2", f32(3, 4), a([-1, 1], np.int32), a(7, np.float32))
    case(r, "MatrixSetDiagV3", f32(3, 4), f32(3, 3), a([-1, 1], np.int32), consts=[2, "static"])
    case(
        r,
        "MatrixSetDiagV3",
        f32(3, 4),
        f32(2, 3),
        a([0, 1], np.int32),
        name="left_left",
        align="LEFT_LEFT",
        consts=[2, "static"],
    )
    case(r, "MatrixSetDiagV2", f32(3, 4), f32(3, 3), a([-1, 1], np.int32), consts=[2, "static"])
    case(
        r,
        "ExtractImagePatches",
        f32(1, 5, 5, 2),
        ksizes=[1, 2, 3, 1],
        strides=[1, 2, 1, 1],
        rates=[1, 1, 1, 1],
        padding="SAME",
    )
    case(
        r,
        "ExtractImagePatches",
        f32(1, 6, 6, 1),
        name="rates",
        ksizes=[1, 2, 2, 1],
        strides=[1, 3, 3, 1],
        rates=[1, 2, 2, 1],
        padding="VALID",
    )
    case(r, "Bincount", a([1, 1, 3, 7], np.int32), a(5, np.int32), a([], np.float32))
    case(r, "Bincount", a([1, 1, 3], np.int32), a(4, np.int32), a([0.5, 1, 2], np.float32), name="weights")
    case(r, "DenseBincount", a([[1, 1, 3], [0, 9, 2]], np.int32), a(4, np.int32), a([], np.int32))
    case(
        r,
        "DenseBincount",
        a([1, 1, 3], np.int64),
        a(4, np.int64),
        a([], np.float32),
        name="binary",
        binary_output=True,
    )
    case(
        r, "HistogramFixedWidth", a([-1, 0, 1.5, 2, 5, 12], np.float32), a([0, 5], np.float32), a(5, np.int32)
    )
    m = "math"
    data = f32(5, 2)
    for kind in ["Sum", "Prod", "Max", "Min", "Mean"]:
        case(m, f"Segment{kind}", data, a([0, 0, 2, 2, 3], np.int32))
    case(m, "SegmentSum", i32(4), a([0, 1, 1, 1], np.int64), name="i32")
    case(m, "SegmentMean", a([1, 2, 4], np.int32), a([0, 0, 0], np.int32), name="i32")
    case(m, "SegmentSum", data, a([0, 2, 1, 2, 3], np.int32), name="unsorted")
    for kind in ["Sum", "Prod", "Max", "Min"]:
        case(m, f"UnsortedSegment{kind}", data, a([3, 0, -1, 3, 0], np.int32), a(5, np.int32))
    case(
        m,
        "UnsortedSegmentSum",
        f32(2, 3, 2),
        a([[0, 1, 0], [2, 2, 0]], np.int32),
        a(3, np.int64),
        name="2d_ids",
    )
    case(m, "UnsortedSegmentMax", i32(4), a([0, 1, 1, 0], np.int32), a(3, np.int32), name="i32_empty")
    case(m, "UnsortedSegmentSum", data, a([0, 1, 5, 0, 0], np.int32), a(3, np.int32), name="out_of_range")


@builder
def string_cases_2() -> None:
    t = "strings"
    text = s(["Hello World", "foo-bar-baz", "", "ünïcödé straße", "a  b"])
    case(t, "StaticRegexReplace", text, pattern="o", rewrite="0")
    case(t, "StaticRegexReplace", text, name="first", pattern="[a-z]+", rewrite="<\\0>", replace_global=False)
    case(t, "StaticRegexReplace", text, name="groups", pattern="(\\w+)-(\\w+)", rewrite="\\2+\\1")
    case(t, "StaticRegexReplace", text, name="unicode", pattern="ö|ß", rewrite="?")
    case(t, "RegexReplace", text, s("\\s+"), s(" "))
    case(t, "RegexReplace", text, s("^$"), s("EMPTY"), name="empty")
    case(t, "StringSplitV2", text, s(" "))
    case(t, "StringSplitV2", text, s(""), name="whitespace")
    case(t, "StringSplitV2", text, s("-"), name="maxsplit", maxsplit=1)
    case(t, "StringSplitV2", s(["a,,b", ",", ""]), s(","), name="empties")
    case(t, "StringSplitV2", s(["  a b  ", ""]), s(""), name="ws_maxsplit", maxsplit=1)
    case(t, "StringSplit", s(["a,b;c", ",,x", ""]), s(",;"))
    case(t, "StringSplit", s(["a,b;c", ",,x"]), s(","), name="keep_empty", skip_empty=False)
    case(t, "StringSplit", s(["abc"]), s(""), name="chars")
    case(t, "StringLength", text)
    case(t, "StringLength", text, name="utf8", unit="UTF8_CHAR")
    case(t, "Substr", text, a(1, np.int32), a(3, np.int32))
    case(t, "Substr", s(["hello", "world"]), a([-3, 0], np.int32), a([2, 10], np.int32), name="negative")
    case(t, "Substr", s(["ünïcödé"]), a([2], np.int32), a([3], np.int32), name="utf8", unit="UTF8_CHAR")
    case(t, "Substr", s(["abc"]), a([4], np.int32), a([1], np.int32), name="out_of_range")
    case(
        t,
        "Substr",
        s([["ab", "cd"], ["ef", "gh"]]),
        a([0, 1], np.int32),
        a([1, 1], np.int32),
        name="broadcast",
    )
    case(t, "StringLower", text)
    case(t, "StringUpper", text)
    case(t, "StringLower", text, name="utf8", encoding="utf-8")
    case(t, "StringUpper", text, name="utf8", encoding="utf-8")
    case(t, "StringStrip", s(["  a b \t\n", "x", " "]))
    case(t, "ReduceJoin", s([["a", "b", "c"], ["d", "e", "f"]]), a(1, np.int32), separator="-")
    case(t, "ReduceJoin", s([["a", "b"], ["c", "d"]]), a([0, 1], np.int32), name="all")
    case(t, "ReduceJoin", s([["a", "b"], ["c", "d"]]), a(0, np.int32), name="keep", keep_dims=True)
    case(t, "AsString", a([1.5, -2.25, 1e10, 1e-7, np.nan, np.inf], np.float32))
    case(t, "AsString", a([1.5, -2.25, 123456.789], np.float64), name="precision", precision=2)
    case(t, "AsString", a([1.5, -2.25, 123456.789], np.float64), name="shortest", shortest=True)
    case(
        t,
        "AsString",
        a([1.5, -2.25, 123456.789], np.float32),
        name="scientific",
        scientific=True,
        precision=3,
    )
    case(t, "AsString", a([5, -12, 0], np.int32), name="int_width", width=5, fill="0")
    case(t, "AsString", a([5, -12], np.int64), name="int_width_space", width=4)
    case(t, "AsString", b([True, False]), name="bool")
    case(t, "StringToNumber", s(["1.5", "-3", " 2e3 ", "inf", "nan", "0x10"][:5]))
    case(t, "StringToNumber", s(["12", "-7", " 3"]), name="i32", out_type=tf.int32)
    case(t, "StringToNumber", s(["12", "9999999999"]), name="i64", out_type=tf.int64)
    case(t, "StringToNumber", s(["12", "abc"]), name="bad", out_type=tf.int32)
    case(t, "StringToNumber", s(["1.5x"]), name="bad_float")
    case(t, "StringToNumber", s(["1.5"]), name="float_to_int", out_type=tf.int32)
    case(t, "StringToNumber", s(["1.25"]), name="f64", out_type=tf.float64)
    uni = s(["héllo", "", "a\x01b", "日本"])
    case(t, "UnicodeDecode", uni, input_encoding="UTF-8")
    case(
        t,
        "UnicodeDecode",
        s([b"a\xffb", b"\xe6\x97"]),
        name="invalid",
        input_encoding="UTF-8",
        errors="replace",
        replacement_char=63,
    )
    case(t, "UnicodeDecode", s([b"a\xffb"]), name="ignore", input_encoding="UTF-8", errors="ignore")
    case(t, "UnicodeDecode", s([b"a\xffb"]), name="strict", input_encoding="UTF-8", errors="strict")
    case(t, "UnicodeDecode", uni, name="control", input_encoding="UTF-8", replace_control_characters=True)
    case(t, "UnicodeDecodeWithOffsets", uni, input_encoding="UTF-8")
    case(
        t,
        "UnicodeEncode",
        a([104, 233, 0x65E5, 0x110000, 65], np.int32),
        a([0, 2, 5], np.int64),
        output_encoding="UTF-8",
        replacement_char=63,
    )
    case(t, "UnicodeTranscode", uni, input_encoding="UTF-8", output_encoding="UTF-16-BE")
    scripts = [65, 0x3B1, 0x416, 0x5D0, 0x627, 0x915, 0x3042, 0x30A2, 0x4E00, 0xAC00, 0x20, 0x30]
    scripts += [0x300, 0xD800, 0xE000, 0x1F600, 0x10FFFF, 0x110000, -5, 2**31 - 1, 0xE0001, 0x1D400]
    case(t, "UnicodeScript", a(scripts, np.int32))
    case(t, "EncodeBase64", s(["hello", "", "\xff\xfe?>", "ab"]))
    case(t, "EncodeBase64", s(["hello", "ab"]), name="pad", pad=True)
    case(t, "DecodeBase64", s(["aGVsbG8", "", "w7_Dvj8-", "YWI="]))
    case(t, "DecodeBase64", s(["a$b"]), name="bad")
    words = [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "hello world",
        "0123456789abcdef",
        "0123456789abcdefg",
        "x" * 31,
        "y" * 32,
        "z" * 33,
        "The quick brown fox jumps over the lazy dog!",
        "w" * 64,
        "v" * 65,
        "q" * 100,
        "long " * 40,
        "ünïcödé",
        "\x00\x01\x02",
    ]
    case(t, "StringToHashBucketFast", s(words), num_buckets=2**62)
    case(t, "StringToHashBucketFast", s(words), name="small", num_buckets=10)
    case(t, "StringToHashBucketStrong", s(words), num_buckets=2**62, key=[123, 456])
    case(t, "StringToHashBucket", s(words), num_buckets=2**62)
    case(t, "Fingerprint", s(words), s("farmhash64"))
    case(t, "Fingerprint", a([[1, 2], [3, 4]], np.int32), s("farmhash64"), name="i32")
    case(
        t,
        "StringFormat",
        [a([1, 2, 3], np.int32), a(2.5, np.float32)],
        template="x={} y={}",
        placeholder="{}",
    )
    case(t, "StringFormat", [f32(2, 3), s(["a", "b"])], name="matrix", template="{}; {}", placeholder="{}")
    case(
        t,
        "StringFormat",
        [a(np.arange(10), np.int64)],
        name="summarize",
        template="{}",
        placeholder="{}",
        summarize=2,
    )
    case(
        t,
        "StringFormat",
        [a(np.arange(24).reshape(2, 3, 4), np.int32), b([True, False])],
        name="rank3",
        template="{} {}",
        placeholder="{}",
    )
    case(
        t,
        "StringFormat",
        [a([0.1, 1e-5, 123456789.0, -0.0], np.float32), a(1.0, np.float64)],
        name="floats",
        template="{} {}",
        placeholder="{}",
    )
    case(t, "PrintV2", s("printed by a golden test"), output_stream="stderr")
    case(t, "Print", f32(2), [i32(3)], message="msg: ")
    case(t, "Assert", b(True), [s("ok"), i32(2)])
    case(t, "Assert", b(False), [s("failed"), i32(2)], name="false")
    case(
        t,
        "StringNGrams",
        s(["a", "b", "c", "d", "e"]),
        a([0, 3, 5], np.int64),
        separator=" ",
        ngram_widths=[2, 3],
        left_pad="<",
        right_pad=">",
        pad_width=0,
        preserve_short_sequences=False,
    )
    case(
        t,
        "StringNGrams",
        s(["a", "b", "c", "d", "e"]),
        a([0, 3, 5], np.int64),
        name="padded",
        separator="_",
        ngram_widths=[2, 3],
        left_pad="<",
        right_pad=">",
        pad_width=-1,
        preserve_short_sequences=False,
    )
    case(
        t,
        "StringNGrams",
        s(["a", "b", "c"]),
        a([0, 1, 3], np.int32),
        name="preserve",
        separator=" ",
        ngram_widths=[3],
        left_pad="",
        right_pad="",
        pad_width=0,
        preserve_short_sequences=True,
    )


def _png_bytes(img: np.ndarray) -> np.ndarray:
    return s(tf.io.encode_png(img).numpy())


def _jpeg_bytes(img: np.ndarray, **kw: Any) -> np.ndarray:
    return s(tf.io.encode_jpeg(img, **kw).numpy())


@builder
def image_cases() -> None:
    g = "image"
    img = f32(2, 5, 7, 3, lo=0, hi=255)
    u8 = _rng.integers(0, 256, size=(1, 4, 6, 3)).astype(np.uint8)
    for name, flags in [
        ("default", {}),
        ("align", dict(align_corners=True)),
        ("half_pixel", dict(half_pixel_centers=True)),
    ]:
        for op in ["ResizeBilinear", "ResizeNearestNeighbor", "ResizeBicubic"]:
            case(g, op, img, a([8, 4], np.int32), name=f"{name}_up_down", **flags)
            case(g, op, img, a([3, 11], np.int32), name=f"{name}_down_up", **flags)
    case(g, "ResizeBilinear", u8, a([7, 9], np.int32), name="u8", half_pixel_centers=True)
    case(g, "ResizeNearestNeighbor", u8, a([7, 9], np.int32), name="u8", half_pixel_centers=True)
    case(g, "ResizeBicubic", u8, a([7, 3], np.int32), name="u8", half_pixel_centers=True)
    case(
        g,
        "ResizeBilinear",
        img,
        a([4, 4], np.int32),
        name="bad_flags",
        align_corners=True,
        half_pixel_centers=True,
    )
    case(g, "ResizeBilinear", img, a([0, 4], np.int32), name="zero_size")
    case(g, "ResizeArea", img, a([3, 4], np.int32))
    case(g, "ResizeArea", img, a([7, 10], np.int32), name="up")
    boxes = a([[0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], [-0.2, 0.5, 1.3, 0.4], [0.5, 0.5, 0.5, 0.5]], np.float32)
    case(g, "CropAndResize", img, boxes, a([0, 1, 1, 0], np.int32), a([3, 4], np.int32))
    case(
        g,
        "CropAndResize",
        img,
        boxes,
        a([1, 0, 1, 0], np.int32),
        a([2, 5], np.int32),
        name="nearest",
        method="nearest",
        extrapolation_value=-1.0,
    )
    case(g, "CropAndResize", img, boxes[:1], a([0], np.int32), a([1, 1], np.int32), name="one_pixel")
    rgb = f32(4, 5, 3, lo=0, hi=1)
    case(g, "RGBToHSV", rgb)
    case(g, "RGBToHSV", a([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.2]], np.float32), name="gray")
    case(g, "HSVToRGB", f32(4, 5, 3, lo=0, hi=1))
    case(g, "HSVToRGB", a([[1.0, 0.5, 0.5], [0.999, 1, 1]], np.float32), name="edge")
    case(g, "AdjustContrastv2", f32(2, 4, 5, 3, lo=0, hi=1), a(1.7, np.float32))
    case(g, "AdjustSaturation", f32(4, 5, 3, lo=0, hi=1), a(0.4, np.float32))
    case(g, "AdjustHue", f32(4, 5, 3, lo=0, hi=1), a(0.3, np.float32))
    case(g, "AdjustHue", f32(4, 5, 3, lo=0, hi=1), a(-0.7, np.float32), name="negative")
    nb = a(
        [
            [0, 0, 1, 1],
            [0, 0.1, 1, 1.1],
            [0, -0.1, 1, 0.9],
            [0, 10, 1, 11],
            [0, 10.1, 1, 11.1],
            [0, 100, 1, 101],
            [1, 1, 0, 0],
        ],
        np.float32,
    )
    ns = a([0.9, 0.75, 0.6, 0.95, 0.5, 0.3, 0.9], np.float32)
    case(g, "NonMaxSuppressionV2", nb, ns, a(3, np.int32), a(0.5, np.float32))
    case(g, "NonMaxSuppressionV3", nb, ns, a(10, np.int32), a(0.5, np.float32), a(0.4, np.float32))
    case(
        g,
        "NonMaxSuppressionV4",
        nb,
        ns,
        a(6, np.int32),
        a(0.5, np.float32),
        a(0.0, np.float32),
        pad_to_max_output_size=True,
    )
    case(
        g,
        "NonMaxSuppressionV5",
        nb,
        ns,
        a(6, np.int32),
        a(0.5, np.float32),
        a(0.0, np.float32),
        a(0.5, np.float32),
        pad_to_max_output_size=True,
    )
    case(
        g,
        "NonMaxSuppressionV5",
        nb,
        ns,
        a(4, np.int32),
        a(0.5, np.float32),
        a(0.1, np.float32),
        a(0.0, np.float32),
        name="hard",
    )
    gray = _rng.integers(0, 256, size=(5, 4, 1)).astype(np.uint8)
    rgba = _rng.integers(0, 256, size=(3, 6, 4)).astype(np.uint8)
    rgb16 = _rng.integers(0, 65536, size=(3, 4, 3)).astype(np.uint16)
    smooth = np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 30, (6, 1, 3))
    case(g, "DecodePng", _png_bytes(u8[0]))
    case(g, "DecodePng", _png_bytes(gray), name="gray_to_rgb", channels=3)
    case(g, "DecodePng", _png_bytes(rgba), name="rgba")
    case(g, "DecodePng", _png_bytes(rgba), name="rgba_to_gray", channels=1)
    case(g, "DecodePng", _png_bytes(u8[0]), name="rgb_to_rgba", channels=4)
    case(g, "DecodePng", _png_bytes(rgb16), name="u16", dtype=tf.uint16)
    case(g, "DecodePng", _png_bytes(u8[0]), name="u8_as_u16", dtype=tf.uint16)
    case(g, "DecodePng", _png_bytes(smooth), name="smooth")
    case(g, "DecodePng", s(b"not a png"), name="bad")
    case(g, "DecodeImage", _png_bytes(gray), name="png", channels=1)
    case(g, "DecodeImage", _png_bytes(gray), name="png_float", channels=1, dtype=tf.float32)
    case(g, "EncodePng", u8[0], note="byte-exact: libpng's adaptive filters and zlib settings")
    case(g, "EncodePng", rgb16, name="u16")
    case(g, "EncodePng", gray, name="gray", compression=9)
    case(g, "EncodePng", smooth, name="smooth")
    case(g, "EncodePng", rgba, name="rgba", compression=1)
    case(g, "EncodePng", _rng.integers(0, 256, size=(40, 70, 3)).astype(np.uint8), name="larger")
    jpeg = _jpeg_bytes(smooth)
    lossy = "needs Pillow; Pillow's libjpeg build reconstructs pixels differently from TensorFlow's"
    case(g, "DecodeJpeg", jpeg, note=lossy, atol=8)
    case(g, "DecodeJpeg", jpeg, name="accurate", dct_method="INTEGER_ACCURATE", note="needs Pillow; exact")
    case(
        g,
        "DecodeJpeg",
        _jpeg_bytes(u8[0], quality=80),
        name="accurate_color",
        dct_method="INTEGER_ACCURATE",
        note="needs Pillow; exact",
    )
    case(g, "DecodeJpeg", jpeg, name="gray", channels=1, note=lossy, atol=8)
    case(g, "DecodeImage", jpeg, name="jpeg", channels=3, note=lossy, atol=8)
    case(g, "DecodeJpeg", s(b"\xff\xd8\xff garbage"), name="bad", note="needs Pillow")
    case(g, "EncodeJpeg", smooth, note="needs Pillow", quality=95)
    case(
        g,
        "EncodeJpeg",
        rgba[..., :3],
        name="q75_444",
        note="needs Pillow",
        quality=75,
        chroma_downsampling=False,
    )
    case(g, "EncodeJpeg", gray, name="gray", note="needs Pillow")
    case(g, "ExtractJpegShape", jpeg, note="needs Pillow")


def _bmp_bytes(img: np.ndarray) -> np.ndarray:
    """A 24-bit bottom-up BMP (BITMAPINFOHEADER) written by hand."""
    import struct as st

    h, w, _ = img.shape
    stride = (w * 3 + 3) // 4 * 4
    rows = b"".join(img[y, :, ::-1].tobytes() + b"\0" * (stride - w * 3) for y in range(h - 1, -1, -1))
    header = st.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
    info = st.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return s(header + info + rows)


_GIF = "R0lGODdhBQAEAIIAANrf5K2yt4eMkWJnbIIyNyYrMBMYHQAFCiwAAAAABQAEAAAIEgAPGChAcIBBAQgDKATAkMDAgAA7"


@builder
def image_cases_2() -> None:
    g = "image"
    img = _rng.integers(0, 256, size=(3, 5, 3)).astype(np.uint8)
    case(g, "DecodeBmp", _bmp_bytes(img), note="needs Pillow")
    case(g, "DecodeGif", s(base64.b64decode(_GIF)), note="needs Pillow")


@builder
def random_cases() -> None:
    r = "random"
    shp = a([3, 4], np.int32)
    sh = dict(check="shape", note="TensorFlow's Philox streams are not reproduced: dtype/shape only")
    case(r, "RandomUniform", shp, dtype=tf.float32, seed=1, seed2=2, **sh)
    case(r, "RandomUniform", shp, name="f16", dtype=tf.float16, **sh)
    case(r, "RandomStandardNormal", shp, dtype=tf.float64, seed=3, **sh)
    case(r, "TruncatedNormal", shp, dtype=tf.float32, **sh)
    case(r, "RandomUniformInt", shp, a(-5, np.int64), a(5, np.int64), **sh)
    case(r, "RandomUniformInt", shp, a(5, np.int32), a(5, np.int32), name="empty_range", **sh)
    case(r, "RandomShuffle", f32(5, 2), seed=4, **sh)
    case(r, "Multinomial", f32(2, 4), a(6, np.int32), **sh)
    case(
        r, "StatelessMultinomial", f32(2, 4), a(6, np.int32), a([1, 2], np.int64), output_dtype=tf.int32, **sh
    )
    seed = a([7, 8], np.int32)
    big = a([2**40 + 3, -5], np.int64)
    tol = dict(rtol=1e-5, atol=1e-5, note="Philox bits exact; sin/cos/log in float32 may differ by an ulp")
    for dt in [tf.float32, tf.float64, tf.float16, tf.bfloat16]:
        case(r, "StatelessRandomUniform", a([3, 5], np.int32), seed, name=dt.name, dtype=dt)
        case(r, "StatelessRandomNormal", a([3, 5], np.int32), big, name=dt.name, dtype=dt, **tol)
    case(r, "StatelessTruncatedNormal", a([5, 7], np.int32), seed, dtype=tf.float32, **tol)
    case(r, "StatelessTruncatedNormal", a([3], np.int32), big, name="f64", dtype=tf.float64, **tol)
    key, counter = a([5], np.uint64), a([0, 0], np.uint64)
    case(
        r,
        "StatelessRandomUniformV2",
        a([7], np.int32),
        a([2**63 + 11], np.uint64),
        a([2**32 - 1, 9], np.uint64),
        a(1, np.int32),
        dtype=tf.float32,
    )
    case(
        r,
        "StatelessRandomNormalV2",
        a([2, 3], np.int32),
        key,
        counter,
        a(1, np.int32),
        dtype=tf.float64,
        **tol,
    )
    case(r, "StatelessTruncatedNormalV2", shp, key, counter, a(1, np.int32), dtype=tf.float32, **tol)
    case(r, "StatelessRandomUniformInt", shp, seed, a(-3, np.int32), a(10, np.int32))
    case(r, "StatelessRandomUniformInt", shp, big, a(-(2**40), np.int64), a(2**41, np.int64), name="i64")
    case(r, "StatelessRandomUniformIntV2", shp, key, counter, a(1, np.int32), a(0, np.int64), a(10, np.int64))
    case(r, "StatelessRandomGetKeyCounter", seed)
    case(r, "StatelessRandomGetKeyCounter", big, name="i64")
    case(r, "StatelessRandomGetAlg")


@builder
def linalg_cases() -> None:
    la = "linalg"
    m = f32(2, 3, 3) + 3 * np.eye(3, dtype=np.float32)
    spd = (m @ np.swapaxes(m, -1, -2)).astype(np.float32)
    tol = dict(rtol=1e-4, atol=1e-5, note="LAPACK vs Eigen rounding")
    case(la, "MatrixInverse", m, **tol)
    case(la, "MatrixInverse", m, name="adjoint", adjoint=True, **tol)
    case(la, "MatrixInverse", f64(3, 3), name="f64")
    case(la, "MatrixInverse", a(np.zeros((2, 2)), np.float32), name="singular")
    case(la, "MatrixDeterminant", m, **tol)
    case(la, "LogMatrixDeterminant", f64(2, 3, 3))
    case(la, "Cholesky", spd, **tol)
    case(la, "Qr", f64(4, 3), note="column signs may differ", unchecked=[0, 1])
    case(la, "Svd", f64(4, 3), note="singular vectors are defined up to sign", unchecked=[1, 2])
    case(la, "Svd", f64(3, 5), name="no_uv", compute_uv=False, unchecked=[1, 2])
    case(la, "SelfAdjointEigV2", spd.astype(np.float64), note="eigenvectors up to sign", unchecked=[1])
    case(la, "MatrixSolve", m, f32(2, 3, 2), **tol)
    case(la, "MatrixSolve", m, f32(2, 3, 2), name="adjoint", adjoint=True, **tol)
    case(la, "MatrixTriangularSolve", m, f32(2, 3, 2), **tol)
    case(la, "MatrixTriangularSolve", m, f32(2, 3, 2), name="upper_adjoint", lower=False, adjoint=True, **tol)
    case(la, "MatrixSolveLs", f64(4, 3), f64(4, 2), a(0.0, np.float64))
    case(la, "MatrixSolveLs", f64(4, 3), f64(4, 2), a(0.5, np.float64), name="l2", fast=True)


@builder
def sparse_cases() -> None:
    sp = "sparse"
    idx = a([[0, 1], [1, 0], [1, 3], [3, 2]], np.int64)
    vals = f32(4)
    shape = a([4, 5], np.int64)
    case(sp, "SparseToDense", idx, shape, vals, a(-1, np.float32))
    case(
        sp,
        "SparseToDense",
        a([1, 3], np.int32),
        a([5], np.int32),
        a(7, np.int32),
        a(0, np.int32),
        name="vector_scalar_value",
    )
    case(
        sp,
        "SparseToDense",
        a([[1, 0], [0, 1]], np.int64),
        a([2, 2], np.int64),
        f32(2),
        a(0, np.float32),
        name="unordered",
    )
    case(
        sp,
        "SparseToDense",
        a([[1, 0], [0, 1]], np.int64),
        a([2, 2], np.int64),
        f32(2),
        a(0, np.float32),
        name="unordered_ok",
        validate_indices=False,
    )
    case(
        sp,
        "SparseToDense",
        a([[5, 0]], np.int64),
        a([2, 2], np.int64),
        f32(1),
        a(0, np.float32),
        name="out_of_bounds",
    )
    case(sp, "SparseTensorDenseMatMul", idx, vals, shape, f32(5, 3))
    case(
        sp,
        "SparseTensorDenseMatMul",
        idx,
        vals,
        shape,
        f32(2, 4),
        name="adjoint",
        adjoint_a=True,
        adjoint_b=True,
    )
    case(sp, "SparseReshape", idx, shape, a([2, -1], np.int64))
    case(sp, "SparseReshape", idx, shape, a([3, -1], np.int64), name="bad")
    case(
        sp,
        "SparseFillEmptyRows",
        a([[0, 1], [0, 0], [2, 3], [4, 1]], np.int64),
        f32(4),
        a([6, 5], np.int64),
        a(9, np.float32),
    )
    case(
        sp,
        "SparseFillEmptyRows",
        a(np.zeros((0, 2)), np.int64),
        s([]),
        a([2, 3], np.int64),
        s("x"),
        name="empty_string",
    )
    data = f32(5, 3)
    for kind in ("Sum", "Mean", "SqrtN"):
        case(sp, f"SparseSegment{kind}", data, a([0, 2, 2, 4], np.int32), a([0, 0, 2, 2], np.int32))
        case(
            sp,
            f"SparseSegment{kind}WithNumSegments",
            data,
            a([0, 2, 4], np.int64),
            a([0, 3, 3], np.int32),
            a(5, np.int32),
        )
    case(sp, "SparseSegmentSum", data, a([0, 7], np.int32), a([0, 1], np.int32), name="bad_index")
    case(sp, "SparseReduceSum", idx, vals, shape, a([1], np.int32))
    case(sp, "SparseReduceSum", idx, vals, shape, a([0], np.int32), name="keep", keep_dims=True)
    case(sp, "SparseReduceMax", idx, vals, shape, a([1], np.int32))
    case(sp, "SparseReduceSumSparse", idx, vals, shape, a([0], np.int32))
    case(sp, "SparseReorder", a([[1, 0], [0, 3], [0, 1]], np.int64), f32(3), a([2, 4], np.int64))
    dense = f32(4, 5)
    case(sp, "SparseDenseCwiseMul", idx, vals, shape, dense)
    case(sp, "SparseDenseCwiseAdd", idx, vals, shape, f32(5), name="broadcast")
    case(sp, "SparseDenseCwiseDiv", idx, vals, shape, dense + a(5, np.float32))
    case(sp, "SparseSlice", idx, vals, shape, a([1, 1], np.int64), a([2, 3], np.int64))
    case(
        sp,
        "SparseConcat",
        [idx, a([[0, 0]], np.int64)],
        [vals, f32(1)],
        [shape, a([4, 2], np.int64)],
        concat_dim=1,
    )
    case(sp, "SparseAdd", idx, vals, shape, a([[0, 1], [2, 2]], np.int64), f32(2), shape, a(0, np.float32))


def _example(**features: Any) -> bytes:
    feats = {}
    for key, value in features.items():
        if isinstance(value, list) and value and isinstance(value[0], float):
            feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=value))
        elif isinstance(value, list) and value and isinstance(value[0], int):
            feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
        else:
            feats[key] = tf.train.Feature()
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString(deterministic=True)


@builder
def parsing_cases() -> None:
    p = "parsing"
    ex = [
        _example(
            age=[25], score=[0.5, 1.5], tags=[b"a", b"b", b"c"], emb=[1.0, 2.0, 3.0, 4.0], seq=[1, 2, 3]
        ),
        _example(age=[40], tags=[b"z"], emb=[5.0, 6.0, 7.0, 8.0], seq=[9]),
        _example(score=[2.5], emb=[0.0, 0.0, 0.0, 1.0], tags=[]),
    ]
    serialized = s(ex)
    empty = s([])
    case(
        p,
        "ParseExampleV2",
        serialized,
        empty,
        s(["tags", "score"]),
        s(["age", "emb"]),
        s(["seq"]),
        [a([-1], np.int64), a(np.zeros((2, 2)), np.float32)],
        num_sparse=2,
        sparse_types=[tf.string, tf.float32],
        ragged_value_types=[tf.int64],
        ragged_split_types=[tf.int64],
        dense_shapes=[[1], [2, 2]],
    )
    case(
        p,
        "ParseExampleV2",
        s(ex[0]),
        empty,
        s(["tags"]),
        s(["emb"]),
        s([]),
        [a([], np.float32)],
        name="scalar",
        num_sparse=1,
        sparse_types=[tf.string],
        ragged_value_types=[],
        ragged_split_types=[],
        dense_shapes=[[4]],
    )
    case(
        p,
        "ParseExampleV2",
        serialized,
        empty,
        s([]),
        s(["age"]),
        s([]),
        [a([], np.int64)],
        name="missing_required",
        num_sparse=0,
        sparse_types=[],
        ragged_value_types=[],
        ragged_split_types=[],
        dense_shapes=[[1]],
    )
    case(
        p,
        "ParseExampleV2",
        serialized,
        empty,
        s([]),
        s(["score"]),
        s([]),
        [a([7.0], np.float32)],
        name="var_len",
        num_sparse=0,
        sparse_types=[],
        ragged_value_types=[],
        ragged_split_types=[],
        dense_shapes=[[None]],
    )
    case(
        p,
        "ParseExampleV2",
        serialized,
        empty,
        s([]),
        s(["age"]),
        s([]),
        [a([0.0], np.float32)],
        name="type_mismatch",
        num_sparse=0,
        sparse_types=[],
        ragged_value_types=[],
        ragged_split_types=[],
        dense_shapes=[[1]],
    )
    case(
        p,
        "ParseExampleV2",
        s([b"\xff\xff garbage"]),
        empty,
        s(["tags"]),
        s([]),
        s([]),
        [],
        name="corrupt",
        num_sparse=1,
        sparse_types=[tf.string],
        ragged_value_types=[],
        ragged_split_types=[],
        dense_shapes=[],
    )
    case(
        p,
        "ParseExample",
        serialized,
        empty,
        [s("tags")],
        [s("age")],
        [a([-1], np.int64)],
        sparse_types=[tf.string],
        dense_shapes=[[1]],
    )
    case(
        p,
        "ParseSingleExample",
        s(ex[1]),
        [a([0.0, 0.0, 0.0, 0.0], np.float32)],
        num_sparse=1,
        sparse_keys=["seq"],
        dense_keys=["emb"],
        sparse_types=[tf.int64],
        dense_shapes=[[4]],
    )
    raw = s([np.arange(4, dtype=np.float32).tobytes(), np.ones(4, np.float32).tobytes()])
    case(p, "DecodeRaw", raw, out_type=tf.float32)
    case(p, "DecodeRaw", raw, name="i16_big_endian", out_type=tf.int16, little_endian=False)
    case(p, "DecodeRaw", raw, name="u8", out_type=tf.uint8)
    case(p, "DecodeRaw", s(["abc", "de"]), name="ragged", out_type=tf.uint8)
    case(p, "DecodePaddedRaw", s(["abcd", "ef"]), a(6, np.int32), out_type=tf.int16)
    import gzip as _gzip
    import zlib as _zlib

    case(
        p, "DecodeCompressed", s([_zlib.compress(b"hello" * 5), _zlib.compress(b"")]), compression_type="ZLIB"
    )
    case(
        p, "DecodeCompressed", s([_gzip.compress(b"gz data", mtime=0)]), name="gzip", compression_type="GZIP"
    )
    case(p, "DecodeCompressed", s(["plain"]), name="none", compression_type="")
    recs = s(['1,2.5,"a,b",x', '3,,"q""uote",', ",1e3,plain,y"])
    case(
        p,
        "DecodeCSV",
        recs,
        [a([0], np.int32), a([-1.0], np.float32), a([""], object) if False else s([""]), s(["dflt"])],
    )
    case(p, "DecodeCSV", s(["1;2", "3;4"]), [a([], np.int64), a([], np.int64)], name="delim", field_delim=";")
    case(p, "DecodeCSV", s(["1,2,3"]), [a([], np.int64), a([0], np.int32)], name="select", select_cols=[0, 2])
    case(p, "DecodeCSV", s(["1,"]), [a([], np.int64), a([], np.int64)], name="missing")
    case(p, "DecodeCSV", s(["a,2"]), [a([0], np.int64), a([], np.int64)], name="bad_int")
    case(p, "DecodeCSV", s(["NA,2"]), [a([5], np.int64), a([0], np.int64)], name="na", na_value="NA")
    case(p, "SerializeTensor", f32(2, 3), check="serialized")
    case(p, "SerializeTensor", s(["a", "bc"]), name="string", check="serialized")
    case(
        p,
        "ParseTensor",
        s(tf.io.serialize_tensor(tf.constant([[1, 2], [3, 4]], tf.int32)).numpy()),
        out_type=tf.int32,
    )
    case(
        p,
        "ParseTensor",
        s(tf.io.serialize_tensor(tf.constant(["x", "yz"])).numpy()),
        name="string",
        out_type=tf.string,
    )
    case(
        p,
        "ParseTensor",
        s(tf.io.serialize_tensor(tf.constant([1.0])).numpy()),
        name="type_mismatch",
        out_type=tf.int32,
    )


@builder
def more_cases() -> None:
    m = "math"
    cx = (f32(2, 8) + 1j * f32(2, 8)).astype(np.complex64)
    tolf = dict(rtol=1e-4, atol=1e-5, note="FFT rounding differs between pocketfft and Eigen")
    for op in ["FFT", "IFFT"]:
        case(m, op, cx, **tolf)
    for op in ["FFT2D", "IFFT2D"]:
        case(m, op, cx, **tolf)
    case(m, "FFT3D", (f32(2, 2, 4) + 0j).astype(np.complex64), **tolf)
    case(m, "IFFT3D", (f32(2, 2, 4) + 0j).astype(np.complex64), **tolf)
    case(m, "RFFT", f32(2, 8), a([8], np.int32), **tolf)
    case(m, "RFFT", f32(2, 8), a([6], np.int32), name="crop", **tolf)
    case(m, "IRFFT", cx[:, :5], a([8], np.int32), **tolf)
    case(m, "RFFT2D", f32(2, 4, 6), a([4, 6], np.int32), **tolf)
    case(m, "IRFFT2D", (f32(2, 4, 4) + 1j * f32(2, 4, 4)).astype(np.complex64), a([4, 6], np.int32), **tolf)
    case(m, "RFFT3D", f32(2, 2, 4), a([2, 2, 4], np.int32), **tolf)
    case(m, "IRFFT3D", (f32(1, 2, 2, 3) + 0j).astype(np.complex64), a([2, 2, 4], np.int32), **tolf)
    case(m, "Angle", cx)
    q = "quantization"
    xq = a(np.linspace(-8, 8, 23), np.float32)
    case(q, "FakeQuantWithMinMaxArgs", xq, min=-6.0, max=6.0)
    case(q, "FakeQuantWithMinMaxArgs", xq, name="narrow4", min=-1.3, max=5.1, num_bits=4, narrow_range=True)
    case(q, "FakeQuantWithMinMaxVars", xq, a(-2.5, np.float32), a(3.7, np.float32))
    case(
        q,
        "FakeQuantWithMinMaxVarsPerChannel",
        xq.reshape(-1, 1)[:22].reshape(11, 2),
        a([-1, -3], np.float32),
        a([1, 2.5], np.float32),
    )
    case(q, "QuantizeAndDequantizeV2", xq, a(0, np.float32), a(0, np.float32))
    case(
        q,
        "QuantizeAndDequantizeV2",
        xq,
        a(-3, np.float32),
        a(5, np.float32),
        name="range",
        range_given=True,
        num_bits=4,
    )
    case(
        q,
        "QuantizeAndDequantizeV2",
        xq,
        a(-3, np.float32),
        a(5, np.float32),
        name="unsigned_half_up",
        range_given=True,
        signed_input=False,
        round_mode="HALF_UP",
    )
    case(
        q,
        "QuantizeAndDequantizeV3",
        xq,
        a(-3, np.float32),
        a(5, np.float32),
        a(6, np.int32),
        range_given=True,
    )
    case(
        q,
        "QuantizeAndDequantizeV4",
        xq,
        a(-2, np.float32),
        a(2.5, np.float32),
        range_given=True,
        narrow_range=True,
    )
    case(q, "QuantizeV2", xq, a(-6, np.float32), a(6, np.float32), T=tf.quint8)
    case(q, "QuantizeV2", xq, a(-6, np.float32), a(6, np.float32), name="scaled", T=tf.qint8, mode="SCALED")
    case(q, "QuantizeV2", xq, a(-6, np.float32), a(6, np.float32), name="qint8_combined", T=tf.qint8)
    case(
        q,
        "Dequantize",
        a([0, 10, 128, 255], np.uint8),
        a(-6, np.float32),
        a(6, np.float32),
        note="quint8 input",
        quant_in=tf.quint8,
    )
    case(
        q,
        "Dequantize",
        a([-128, -3, 0, 127], np.int8),
        a(-6, np.float32),
        a(6, np.float32),
        name="scaled",
        mode="SCALED",
        quant_in=tf.qint8,
    )
    r = "array"
    case(r, "DynamicStitch", [a([0, 2], np.int32), a([[1], [3]], np.int32)], [f32(2, 3), f32(2, 1, 3)])
    case(
        r,
        "DynamicStitch",
        [a([0, 1], np.int32), a([1], np.int32)],
        [s(["a", "b"]), s(["c"])],
        name="overwrite",
    )
    case(r, "ParallelDynamicStitch", [a([0, 2], np.int32), a([1, 3], np.int32)], [f32(2), f32(2)])
    case(r, "DynamicPartition", f32(5, 2), a([0, 2, 1, 0, 2], np.int32), num_partitions=3)
    case(r, "DynamicPartition", f32(5), a([0, 3, 1, 0, 2], np.int32), name="bad", num_partitions=3)
    rv = f32(6)
    case(
        r,
        "RaggedTensorToTensor",
        a([-1, -1], np.int64),
        rv,
        a(0, np.float32),
        [a([0, 2, 2, 6], np.int64)],
        row_partition_types=["ROW_SPLITS"],
    )
    case(
        r,
        "RaggedTensorToTensor",
        a([2, 3], np.int64),
        rv,
        a(-1, np.float32),
        [a([0, 2, 2, 6], np.int64)],
        name="crop",
        row_partition_types=["ROW_SPLITS"],
    )
    case(
        r,
        "RaggedTensorToTensor",
        a([-1, -1], np.int64),
        rv,
        a(9, np.float32),
        [a(4, np.int64), a([0, 0, 2, 2, 2, 3], np.int64)],
        name="rowids",
        row_partition_types=["FIRST_DIM_SIZE", "VALUE_ROWIDS"],
    )
    case(
        r,
        "RaggedTensorToTensor",
        a([-1, -1, -1], np.int64),
        rv,
        a(0, np.float32),
        [a([0, 1, 3], np.int64), a([0, 2, 3, 6], np.int64)],
        name="two_levels",
        row_partition_types=["ROW_SPLITS", "ROW_SPLITS"],
    )
    case(
        r,
        "RaggedTensorToTensor",
        a([-1, -1], np.int64),
        s(["a", "b", "c"]),
        s(""),
        [a([0, 1, 3], np.int64)],
        name="string",
        row_partition_types=["ROW_SPLITS"],
    )
    case(r, "RaggedRange", a([0, 5, 2], np.int32), a([3, 5, 10], np.int32), a([1, 1, 3], np.int32))
    case(r, "RaggedRange", a(0.5, np.float32), a([2, 3], np.float32), a(0.5, np.float32), name="f32")
    case(r, "RaggedTensorToSparse", [a([0, 2, 2, 6], np.int64)], rv)
    case(
        r, "RaggedTensorToSparse", [a([0, 1, 3], np.int64), a([0, 2, 3, 6], np.int64)], rv, name="two_levels"
    )


@builder
def more_cases_2() -> None:
    r = "array"
    case(
        r,
        "RaggedBincount",
        a([0, 3, 3, 6], np.int64),
        a([1, 1, 4, 0, 2, 7], np.int32),
        a(5, np.int32),
        a([], np.float32),
    )
    case(
        r,
        "RaggedBincount",
        a([0, 3, 6], np.int64),
        a([1, 1, 4, 0, 2, 2], np.int64),
        a(4, np.int64),
        a([], np.int64),
        name="binary",
        binary_output=True,
    )
    case(
        r,
        "RaggedBincount",
        a([0, 2, 3], np.int64),
        a([1, 1, 0], np.int32),
        a(3, np.int32),
        a([0.5, 1, 2], np.float32),
        name="weights",
    )
    case(r, "RaggedGather", [a([0, 2, 2, 5], np.int64)], f32(5), a([2, 0, 2], np.int32), OUTPUT_RAGGED_RANK=1)
    case(
        r,
        "RaggedGather",
        [a([0, 2, 3], np.int64), a([0, 1, 3, 5], np.int64)],
        s(["a", "b", "c", "d", "e"]),
        a([[1, 0], [1, 1]], np.int64),
        name="nested",
        OUTPUT_RAGGED_RANK=3,
    )
    case(
        r,
        "RaggedGather",
        [a([0, 2, 3], np.int64)],
        f32(3),
        a([3], np.int32),
        name="bad",
        OUTPUT_RAGGED_RANK=1,
    )
    t = "strings"
    case(
        t,
        "UnsortedSegmentJoin",
        s(["a", "b", "c", "d"]),
        a([1, 0, 1, 0], np.int32),
        a(3, np.int32),
        separator="-",
    )
    case(t, "UnsortedSegmentJoin", s(["a", "b"]), a([1, -1], np.int32), a(3, np.int32), name="negative")
    case(
        t,
        "UnsortedSegmentJoin",
        s([["a", "b"], ["c", "d"]]),
        a([0, 0], np.int64),
        a(1, np.int32),
        name="inner",
        separator="",
    )
    case(t, "UnsortedSegmentJoin", s(["a"]), a([4], np.int32), a(3, np.int32), name="bad")


@builder
def scale_translate_cases() -> None:
    g = "image"
    img = f32(1, 6, 7, 2, lo=0, hi=255)
    for kernel in [
        "lanczos1",
        "lanczos3",
        "lanczos5",
        "gaussian",
        "box",
        "triangle",
        "keyscubic",
        "mitchellcubic",
    ]:
        case(
            g,
            "ScaleAndTranslate",
            img,
            a([4, 10], np.int32),
            a([4 / 6, 10 / 7], np.float32),
            a([0, 0], np.float32),
            name=kernel,
            kernel_type=kernel,
            antialias=True,
        )
    case(
        g,
        "ScaleAndTranslate",
        img,
        a([9, 3], np.int32),
        a([1.5, 0.4], np.float32),
        a([0.5, -1.0], np.float32),
        name="translate_no_antialias",
        kernel_type="triangle",
        antialias=False,
    )


@builder
def last_cases() -> None:
    n = "nn"
    x = f32(2, 7, 6, 3)
    case(
        n,
        "Conv2DBackpropFilter",
        x,
        a([3, 3, 3, 4], np.int32),
        f32(2, 4, 3, 4),
        strides=[1, 2, 2, 1],
        padding="SAME",
    )
    case(
        n,
        "Conv2DBackpropFilter",
        x,
        a([2, 2, 3, 2], np.int32),
        f32(2, 6, 5, 2),
        name="valid",
        strides=[1, 1, 1, 1],
        padding="VALID",
    )
    case(n, "MaxPoolWithArgmax", x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    case(
        n,
        "MaxPoolWithArgmax",
        x,
        name="batch_index",
        ksize=[1, 3, 3, 1],
        strides=[1, 2, 1, 1],
        padding="VALID",
        include_batch_in_index=True,
        Targmax=tf.int32,
    )
    au = "audio"
    wav = tf.audio.encode_wav(f32(50, 2, lo=-1.2, hi=1.2), 16000).numpy()
    case(au, "DecodeWav", s(wav))
    case(au, "DecodeWav", s(wav), name="desired", desired_channels=1, desired_samples=60)
    case(au, "DecodeWav", s(b"RIFX????"), name="bad")

    case(au, "EncodeWav", f32(30, 1, lo=-1.5, hi=1.5), a(8000, np.int32))
    case("random", "Timestamp", check="shape")


@builder
def projective_cases() -> None:
    g = "image"
    img = f32(2, 5, 6, 2, lo=0, hi=10)
    rot = a(
        [[0.8, -0.6, 1.5, 0.6, 0.8, -1.0, 0.0, 0.0], [1.2, 0.1, -2.0, 0.0, 0.9, 3.0, 0.01, -0.02]], np.float32
    )
    for mode in ["CONSTANT", "REFLECT", "WRAP", "NEAREST"]:
        for interp in ["NEAREST", "BILINEAR"]:
            case(
                g,
                "ImageProjectiveTransformV3",
                img,
                rot,
                a([5, 7], np.int32),
                a(-1.0, np.float32),
                name=f"{mode.lower()}_{interp.lower()}",
                interpolation=interp,
                fill_mode=mode,
            )
    case(
        g,
        "ImageProjectiveTransformV2",
        img,
        rot[:1],
        a([4, 6], np.int32),
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


@builder
def special_cases() -> None:
    m = "math"
    x, y = pos32(6, lo=0.2, hi=4), pos32(6, lo=0.2, hi=4)
    tol = dict(rtol=1e-4, atol=1e-6, note="series/continued-fraction evaluations differ in the last bits")
    case(m, "Igamma", x, y, **tol)
    case(m, "Igammac", x, y, **tol)
    case(m, "Zeta", x + a(1.5, np.float32), y, **tol)
    case(m, "Polygamma", a([0, 1, 2, 3, 1, 0], np.float32), y, **tol)
    case(m, "BesselI0e", f32(6), **tol)
    case(m, "BesselI1e", f32(6), **tol)
    case(m, "BesselI0", f32(6), **tol)
    case(m, "BesselI1", f32(6), **tol)
    case(m, "Ndtri", a([0.01, 0.2, 0.5, 0.9, 0.999, 0.0], np.float32), **tol)
    case(m, "Erfinv", a([-0.99, -0.2, 0.0, 0.5, 0.9, 1.0], np.float32), **tol)
    case(m, "Betainc", pos32(5), pos32(5), a([0.1, 0.3, 0.5, 0.7, 0.9], np.float32), **tol)
    case("array", "ScatterNdNonAliasingAdd", f32(4, 2), a([[1], [3], [1]], np.int32), f32(3, 2))
    r = "random"
    sh = dict(check="shape")
    case(r, "RandomGamma", a([3, 2], np.int32), a([1.0, 2.0], np.float32), seed=3, **sh)
    case(r, "RandomPoissonV2", a([4], np.int32), a([1.0, 5.0], np.float32), dtype=tf.int64, **sh)
    case(
        r, "StatelessRandomGammaV2", a([3, 2], np.int32), a([1, 2], np.int64), a([1.0, 2.0], np.float32), **sh
    )
    case(
        r,
        "StatelessRandomPoisson",
        a([3, 2], np.int32),
        a([1, 2], np.int64),
        a([1.0, 2.0], np.float32),
        dtype=tf.int32,
        **sh,
    )
    case(
        r,
        "StatelessRandomBinomial",
        a([3, 2], np.int32),
        a([1, 2], np.int64),
        a([10.0, 5.0], np.float32),
        a([0.5, 0.1], np.float32),
        dtype=tf.int32,
        **sh,
    )
    # values: TensorFlow's CPU samplers on the seed's Philox stream (fixed inputs, no _rng draws)
    logits = a([[1.0, 2.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [5.0, -np.inf, 1.0, 2.0]], np.float32)
    case(r, "StatelessMultinomial", logits, a(9, np.int32), a([7, 8], np.int64), name="values")
    counts = a([[5.0, 50.0, 1000.0, 30.0, 0.0, 4.0]], np.float64)
    probs = a([0.9, 0.7, 0.01, 0.5, 0.5, 1.0], np.float64)
    big_seed = a([2**40 + 3, -5], np.int64)
    shape = a([4, 1, 6], np.int32)
    case(r, "StatelessRandomBinomial", shape, big_seed, counts, probs, name="values", dtype=tf.int32)
    case(
        r,
        "StatelessRandomBinomial",
        a([5], np.int32),
        a([7, 8], np.int32),
        a(100.0, np.float32),
        a(0.4, np.float32),
        name="btrs_f32",
        dtype=tf.float32,
    )


@builder
def combined_nms_cases() -> None:
    g = "image"
    boxes = _rng.uniform(-0.1, 1.1, size=(2, 6, 1, 4)).astype(np.float32)
    boxes[..., 2:] = boxes[..., :2] + np.abs(boxes[..., 2:] - boxes[..., :2]) * 0.5
    scores = _rng.uniform(0, 1, size=(2, 6, 3)).astype(np.float32)
    case(
        g,
        "CombinedNonMaxSuppression",
        boxes,
        scores,
        a(3, np.int32),
        a(5, np.int32),
        a(0.3, np.float32),
        a(0.2, np.float32),
    )
    case(
        g,
        "CombinedNonMaxSuppression",
        boxes,
        scores,
        a(2, np.int32),
        a(10, np.int32),
        a(0.5, np.float32),
        a(0.0, np.float32),
        name="pad_noclip",
        pad_per_class=True,
        clip_boxes=False,
    )
    qboxes = np.repeat(boxes, 3, axis=2) + _rng.uniform(0, 0.05, size=(2, 6, 3, 4)).astype(np.float32)
    case(
        g,
        "CombinedNonMaxSuppression",
        qboxes,
        scores,
        a(2, np.int32),
        a(4, np.int32),
        a(0.4, np.float32),
        a(0.1, np.float32),
        name="per_class_boxes",
    )


@builder
def draw_boxes_cases() -> None:
    g = "image"
    img = f32(2, 7, 9, 3, lo=0.2, hi=0.8)
    boxes = a(
        [
            [[0.1, 0.1, 0.6, 0.9], [-0.2, 0.5, 0.5, 1.4], [0.3, 0.3, 0.2, 0.8]],
            [[0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], [1.2, 0, 1.5, 1]],
        ],
        np.float32,
    )
    case(g, "DrawBoundingBoxesV2", img, boxes, a([[0.1, 0.2, 0.3, 1], [0.9, 0.8, 0.7, 1]], np.float32))
    case(g, "DrawBoundingBoxesV2", img, boxes, a(np.zeros((0, 4)), np.float32), name="default_colors")
    case(g, "DrawBoundingBoxes", f32(1, 5, 5, 4, lo=0, hi=1), boxes[:1])
    case(g, "DrawBoundingBoxes", f32(1, 5, 5, 1, lo=0, hi=1), boxes[1:], name="gray")


@builder
def gradient_cases() -> None:
    """The gradient ops tf.gradients emits (TF1 training graphs)."""
    m, n = "math", "nn"
    y, dy = f32(2, 3, lo=-0.9, hi=0.9), f32(2, 3)
    for op in ["TanhGrad", "SigmoidGrad", "ReciprocalGrad", "InvGrad"]:
        case(m, op, y, dy, name="f32")
        case(m, op, f64(4, lo=-0.9, hi=0.9), f64(4), name="f64")
        case(m, op, f16(3, lo=-0.9, hi=0.9), f16(3), name="f16")
    for op in ["SqrtGrad", "RsqrtGrad"]:
        case(m, op, pos32(2, 3), dy, name="f32")
        case(m, op, f64(4, lo=0.2, hi=3), f64(4), name="f64")
        case(m, op, f16(3, lo=0.5, hi=2), f16(3), name="f16")
    cy = (f32(3, lo=-0.9, hi=0.9) + 1j * f32(3, lo=-0.9, hi=0.9)).astype(np.complex64)
    cdy = (f32(3) + 1j * f32(3)).astype(np.complex64)
    for op in ["TanhGrad", "SigmoidGrad", "SqrtGrad", "RsqrtGrad", "ReciprocalGrad"]:
        case(m, op, cy, cdy, name="c64")
    case(m, "TanhGrad", f32(2, 3), f32(3, 2), name="shape_mismatch")

    g, feats = f32(3, 4), f32(3, 4, lo=-4, hi=8)
    feats[0, :2] = [0.0, 6.0]  # the boundaries: no gradient at 0 (Relu) and at 6 (Relu6)
    for op in ["ReluGrad", "Relu6Grad", "SoftplusGrad", "SoftsignGrad"]:
        case(n, op, g, feats, name="f32")
        case(n, op, f64(5), f64(5, lo=-4, hi=8), name="f64")
        case(n, op, f16(5), f16(5, lo=-4, hi=8), name="f16")
    case(n, "ReluGrad", i32(6), i32(6), name="i32")
    case(n, "Relu6Grad", i32(6), i32(6, lo=-3, hi=9), name="i32")
    case(n, "ReluGrad", f32(3), f32(4), name="shape_mismatch")
    elu_out = np.where(feats > 0, feats, np.expm1(np.minimum(feats, 0))).astype(np.float32)
    case(n, "EluGrad", g, elu_out, name="f32")
    case(n, "EluGrad", f16(5), np.expm1(f16(5)).astype(np.float16), name="f16")
    selu_out = np.where(feats > 0, 1.0507 * feats, 1.7581 * np.expm1(np.minimum(feats, 0))).astype(np.float32)
    case(n, "SeluGrad", g, selu_out, name="f32")
    case(n, "SeluGrad", f64(5), f64(5, lo=-1.7, hi=3), name="f64")
    case(n, "LeakyReluGrad", g, feats, name="f32", alpha=0.3)
    case(n, "LeakyReluGrad", f64(5), f64(5), name="default_alpha")

    case(n, "BiasAddGrad", f32(2, 3, 4, 5), name="nhwc")
    case(n, "BiasAddGrad", f32(2, 5, 3, 4), name="nchw", data_format="NCHW")
    case(n, "BiasAddGrad", f64(6, 3), name="2d")
    case(n, "BiasAddGrad", f16(4, 3, 2), name="f16")
    case(n, "BiasAddGrad", i32(4, 3), name="i32")

    def max_pool_case(
        x: np.ndarray, ks: list[int], st: list[int], pad: str, name: str, op: str = "MaxPool"
    ) -> None:
        pool = tf.nn.max_pool2d if op == "MaxPool" else tf.nn.max_pool3d
        y = pool(tf.constant(x, dtype=x.dtype), ks[1:-1], st[1:-1], pad).numpy()
        dy = f32(*y.shape).astype(x.dtype)
        if op == "MaxPool":
            case(n, "MaxPoolGrad", x, y, dy, name=name, ksize=ks, strides=st, padding=pad)
            ka, sa = a(ks, np.int32), a(st, np.int32)
            case(n, "MaxPoolGradV2", x, y, dy, ka, sa, name=name, padding=pad, consts=[3, 4])
        else:
            case(n, "MaxPool3DGrad", x, y, dy, name=name, ksize=ks, strides=st, padding=pad)

    max_pool_case(f32(2, 4, 6, 3), [1, 2, 2, 1], [1, 2, 2, 1], "VALID", "valid")
    max_pool_case(f32(1, 5, 5, 2), [1, 3, 3, 1], [1, 2, 2, 1], "SAME", "same")
    max_pool_case(f32(1, 5, 4, 2), [1, 3, 2, 1], [1, 1, 1, 1], "SAME", "overlapping")
    max_pool_case(f32(1, 6, 6, 1), [1, 3, 3, 1], [1, 2, 2, 1], "VALID", "valid_overlap")
    max_pool_case(f64(1, 4, 4, 2), [1, 2, 2, 1], [1, 1, 1, 1], "VALID", "f64")
    max_pool_case(f16(1, 4, 4, 2), [1, 2, 2, 1], [1, 2, 2, 1], "SAME", "f16")
    max_pool_case(f32(1, 4, 4, 4, 2), [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "VALID", "valid", "MaxPool3D")
    max_pool_case(f32(1, 3, 5, 4, 1), [1, 2, 3, 2, 1], [1, 1, 2, 1, 1], "SAME", "same", "MaxPool3D")

    def avg_pool_case(
        shape: list[int], ks: list[int], st: list[int], pad: str, name: str, dtype: Any = np.float32
    ) -> None:
        pool = tf.nn.avg_pool2d if len(shape) == 4 else tf.nn.avg_pool3d
        y = pool(np.zeros(shape, np.float32), ks[1:-1], st[1:-1], pad).numpy()
        op = "AvgPoolGrad" if len(shape) == 4 else "AvgPool3DGrad"
        dy = f32(*y.shape).astype(dtype)
        case(n, op, a(shape, np.int32), dy, name=name, ksize=ks, strides=st, padding=pad, consts=[0])

    avg_pool_case([2, 4, 6, 3], [1, 2, 2, 1], [1, 2, 2, 1], "VALID", "valid")
    avg_pool_case([1, 5, 5, 2], [1, 3, 3, 1], [1, 2, 2, 1], "SAME", "same")
    avg_pool_case([1, 3, 3, 2], [1, 2, 2, 1], [1, 1, 1, 1], "SAME", "same_stride1")
    avg_pool_case([1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID", "f64", np.float64)
    avg_pool_case([1, 4, 4, 2], [1, 2, 2, 1], [1, 2, 2, 1], "SAME", "f16", np.float16)
    avg_pool_case([1, 4, 4, 4, 2], [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "VALID", "valid")
    avg_pool_case([1, 3, 5, 4, 1], [1, 2, 3, 2, 1], [1, 1, 2, 1, 1], "SAME", "same")

    x = f32(2, 3, 4, 5)
    dy, scale = f32(2, 3, 4, 5), f32(5, lo=0.5, hi=1.5)
    bmean, bvar = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    pmean, pvar = f32(5, lo=-0.5, hi=0.5), pos32(5)
    for op in ["FusedBatchNormGrad", "FusedBatchNormGradV2", "FusedBatchNormGradV3"]:
        extra = [f32(5)] if op.endswith("V3") else []
        case(n, op, dy, x, scale, bmean, bvar, *extra, name="training", epsilon=0.001, unchecked=[3, 4])
        case(n, op, dy, x, scale, pmean, pvar, *extra, name="inference", is_training=False, unchecked=[3, 4])
    xc = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    dyc = np.ascontiguousarray(np.moveaxis(dy, -1, 1))
    case(
        n,
        "FusedBatchNormGradV3",
        dyc,
        xc,
        scale,
        bmean,
        bvar,
        f32(5),
        name="nchw",
        data_format="NCHW",
        unchecked=[3, 4],
    )
    case(
        n,
        "FusedBatchNormGradV3",
        dy.astype(np.float16),
        x.astype(np.float16),
        scale,
        bmean,
        bvar,
        f32(5),
        name="f16",
        unchecked=[3, 4],
    )


@builder
def gradient_cases_2() -> None:
    """More gradients: depthwise filters, LRN, mirror padding, resizing."""
    n, r, g = "nn", "array", "image"
    x = f32(2, 5, 5, 3)
    for name, pad, st in [("same", "SAME", 1), ("valid_stride2", "VALID", 2)]:
        y = tf.nn.depthwise_conv2d(x, np.ones((3, 3, 3, 2), np.float32), [1, st, st, 1], pad).numpy()
        case(
            n,
            "DepthwiseConv2dNativeBackpropFilter",
            x,
            a([3, 3, 3, 2], np.int32),
            f32(*y.shape),
            name=name,
            strides=[1, st, st, 1],
            padding=pad,
            consts=[1],
        )
    case(
        n,
        "DepthwiseConv2dNativeBackpropFilter",
        f64(1, 4, 4, 2),
        a([2, 2, 2, 1], np.int32),
        f64(1, 3, 3, 2),
        name="f64",
        strides=[1, 1, 1, 1],
        padding="VALID",
        consts=[1],
    )
    xi = f32(2, 3, 3, 7)
    yi = tf.nn.local_response_normalization(xi, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75).numpy()
    case(n, "LRNGrad", f32(2, 3, 3, 7), xi, yi, name="f32", depth_radius=2, bias=1.5, alpha=0.3, beta=0.75)
    xd = f32(1, 2, 2, 4)
    yd = tf.nn.local_response_normalization(xd).numpy()
    case(n, "LRNGrad", f32(1, 2, 2, 4), xd, yd, name="defaults")

    for mode in ["REFLECT", "SYMMETRIC"]:
        case(r, "MirrorPadGrad", f32(7, 8), a([[2, 1], [1, 3]], np.int32), name=mode.lower(), mode=mode)
        case(
            r,
            "MirrorPadGrad",
            i32(2, 6, 3),
            a([[0, 0], [2, 2], [1, 0]], np.int32),
            name=mode.lower() + "_i32",
            mode=mode,
        )

    for name, kw in [
        ("default", {}),
        ("align_corners", {"align_corners": True}),
        ("half_pixel", {"half_pixel_centers": True}),
    ]:
        case(g, "ResizeBilinearGrad", f32(2, 5, 7, 3), f32(2, 3, 4, 3), name=name + "_up", **kw)
        case(g, "ResizeBilinearGrad", f32(1, 2, 3, 2), f32(1, 5, 4, 2), name=name + "_down", **kw)
        case(
            g,
            "ResizeNearestNeighborGrad",
            f32(2, 5, 7, 3),
            a([3, 4], np.int32),
            name=name + "_down",
            consts=[1],
            **kw,
        )
        case(
            g,
            "ResizeNearestNeighborGrad",
            f32(1, 2, 3, 2),
            a([5, 4], np.int32),
            name=name + "_up",
            consts=[1],
            **kw,
        )
    case(g, "ResizeBilinearGrad", f32(1, 4, 4, 1), f64(1, 2, 2, 1), name="f64")
    case(g, "ResizeNearestNeighborGrad", i32(1, 4, 4, 1), a([2, 2], np.int32), name="i32", consts=[1])


@builder
def gradient_cases_3() -> None:
    """Gradients of sparse segment reductions, 3-D convolution filters, max pooling with argmax."""
    n, sp = "nn", "sparse"
    grad, indices, ids = f32(3, 4), a([0, 2, 2, 5, 1], np.int32), a([0, 0, 1, 2, 2], np.int32)
    for op in ["SparseSegmentSumGrad", "SparseSegmentMeanGrad", "SparseSegmentSqrtNGrad"]:
        case(sp, op, grad, indices, ids, a(6, np.int32), name="f32")
        case(
            sp,
            op,
            f64(4),
            a([1, 1, 0], np.int64),
            a([0, 3, 3], np.int32),
            a(3, np.int32),
            name="f64_empty_segments",
        )
    case(
        sp,
        "SparseSegmentMeanGrad",
        grad,
        indices,
        a([0, 0, 1, 2, 3], np.int32),
        a(6, np.int32),
        name="bad_segment",
    )

    def conv_filter_case(op: str, x: np.ndarray, ks: list[int], name: str, **attrs: Any) -> None:
        conv = tf.nn.conv2d if x.ndim == 4 else tf.nn.conv3d
        spatial = x.ndim - 2
        st = attrs.get("strides", [1] * x.ndim)
        dil = attrs.get("dilations", [1] * x.ndim)
        kw = {"dilations": dil[1:-1]} if x.ndim == 4 else {"dilations": dil}
        y = conv(x, np.ones(ks, np.float32), st if x.ndim == 5 else st[1:-1], attrs["padding"], **kw).numpy()
        del spatial
        case(n, op, x, a(ks, np.int32), f32(*y.shape), name=name, consts=[1], **attrs)

    conv_filter_case(
        "Conv2DBackpropFilter",
        f32(2, 6, 5, 3),
        [3, 2, 3, 4],
        "same_stride2",
        strides=[1, 2, 2, 1],
        padding="SAME",
    )
    conv_filter_case(
        "Conv2DBackpropFilter",
        f32(1, 7, 7, 2),
        [3, 3, 2, 2],
        "dilated",
        strides=[1, 1, 1, 1],
        padding="VALID",
        dilations=[1, 2, 2, 1],
        cpu_unsupported=True,
    )
    conv_filter_case(
        "Conv3DBackpropFilterV2",
        f32(1, 4, 5, 4, 2),
        [2, 3, 2, 2, 3],
        "valid",
        strides=[1, 1, 1, 1, 1],
        padding="VALID",
    )
    conv_filter_case(
        "Conv3DBackpropFilterV2",
        f32(2, 5, 4, 4, 1),
        [3, 3, 3, 1, 2],
        "same_stride2",
        strides=[1, 2, 2, 2, 1],
        padding="SAME",
    )

    for name, ks, st, pad, batch in [
        ("valid", [1, 2, 2, 1], [1, 2, 2, 1], "VALID", False),
        ("same_overlap", [1, 3, 3, 1], [1, 1, 1, 1], "SAME", False),
        ("with_batch", [1, 2, 2, 1], [1, 1, 1, 1], "VALID", True),
    ]:
        x = f32(2, 4, 5, 3)
        y, arg = tf.nn.max_pool_with_argmax(x, ks, st, pad, include_batch_in_index=batch)
        case(
            n,
            "MaxPoolGradWithArgmax",
            x,
            f32(*y.shape),
            arg.numpy(),
            name=name,
            ksize=ks,
            strides=st,
            padding=pad,
            include_batch_in_index=batch,
        )


@builder
def image_gradient_cases() -> None:
    """Gradients of bicubic resizing and crop_and_resize."""
    g = "image"
    for name, kw in [
        ("default", {}),
        ("align_corners", {"align_corners": True}),
        ("half_pixel", {"half_pixel_centers": True}),
    ]:
        case(g, "ResizeBicubicGrad", f32(2, 6, 7, 2), f32(2, 4, 5, 2), name=name + "_up", **kw)
        case(g, "ResizeBicubicGrad", f32(1, 2, 3, 1), f32(1, 5, 6, 1), name=name + "_down", **kw)
    case(g, "ResizeBicubicGrad", f32(1, 3, 3, 1), f64(1, 2, 2, 1), name="f64")
    boxes = a(
        [[0.1, 0.2, 0.8, 0.9], [-0.2, 0.3, 0.6, 1.3], [0.5, 0.5, 0.5, 0.5], [0.9, 0.7, 0.2, 0.1]], np.float32
    )
    box_ind = a([0, 1, 1, 0], np.int32)
    grads = f32(4, 3, 4, 2)
    for method in ["bilinear", "nearest"]:
        case(
            g,
            "CropAndResizeGradImage",
            grads,
            boxes,
            box_ind,
            a([2, 5, 6, 2], np.int32),
            name=method,
            method=method,
            T=tf.float32,
            consts=[3],
        )
    case(
        g,
        "CropAndResizeGradImage",
        f32(1, 1, 1, 1),
        boxes[:1],
        box_ind[:1],
        a([1, 4, 4, 1], np.int32),
        name="one_pixel_f64",
        T=tf.float64,
        consts=[3],
    )
    case(g, "CropAndResizeGradBoxes", grads, f32(2, 5, 6, 2), boxes, box_ind, name="bilinear")
    case(g, "CropAndResizeGradBoxes", f32(4, 1, 1, 3), f32(2, 4, 4, 3), boxes, box_ind, name="one_pixel")


@builder
def ctc_cases() -> None:
    """CTCLoss: loss and gradient (blank = the last class), its label options and refusals."""
    n = "nn"
    logits = f32(6, 3, 5)
    idx = a([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [2, 0]], np.int64)
    vals = a([1, 1, 3, 2, 0, 3], np.int32)  # batch 0 repeats a label
    seq = a([6, 4, 5], np.int32)
    case(n, "CTCLoss", logits, idx, vals, seq, name="default")
    case(n, "CTCLoss", logits, idx, vals, seq, name="no_merge", ctc_merge_repeated=False)
    case(n, "CTCLoss", logits, idx, vals, seq, name="collapse", preprocess_collapse_repeated=True)
    case(
        n,
        "CTCLoss",
        f64(4, 2, 3),
        a([[0, 0], [1, 0], [1, 1]], np.int64),
        a([1, 0, 1], np.int32),
        a([4, 3], np.int32),
        name="f64",
        rtol=1e-6,
        atol=1e-7,
        note="TensorFlow's float64 CTC is ~3e-8 off a float64 evaluation (loss relative, gradient absolute)",
    )
    short = a([6, 1, 5], np.int32)  # batch 1 has 2 labels in 1 step
    case(n, "CTCLoss", logits, idx, vals, short, name="too_long")
    case(
        n, "CTCLoss", logits, idx, vals, short, name="ignore_too_long", ignore_longer_outputs_than_inputs=True
    )


@builder
def summary_cases() -> None:
    m = "summary"
    case(m, "ScalarSummary", s(["loss", "acc"]), a([0.25, -3.5], np.float32))
    case(m, "ScalarSummary", s("zero"), a(0.0, np.float32), name="zero")
    case(m, "ScalarSummary", s([["a", "b"]]), a([[1, 7]], np.int64), name="int64")
    case(m, "ScalarSummary", s(["a", "b"]), a([1.0], np.float64), name="bad_shape")
    case(m, "HistogramSummary", s("weights"), f32(3, 4))
    case(m, "HistogramSummary", s("ints"), a([0, 0, 3, -7, 1000000], np.int32), name="ints")
    case(m, "HistogramSummary", s("small"), a([1e-13, -1e-13, 0.0, 2e-12, 5.0e19], np.float64), name="tiny")
    case(m, "HistogramSummary", s("empty"), a(np.zeros((0, 3)), np.float32), name="empty")
    case(m, "HistogramSummary", s("nan"), a([1.0, np.nan], np.float32), name="nan")
    one = tf.raw_ops.ScalarSummary(tags=["x", "y"], values=[1.0, 2.0]).numpy()
    two = tf.raw_ops.HistogramSummary(tag="h", values=[0.5, -1.0, 3.0]).numpy()
    dup = tf.raw_ops.ScalarSummary(tags=["y"], values=[3.0]).numpy()
    case(m, "MergeSummary", [s(one), s(two)])
    case(m, "MergeSummary", [s([one, two])], name="vector")
    case(m, "MergeSummary", [s(one), s(dup)], name="duplicate")
    case(m, "MergeSummary", [s(b"\xff\xff")], name="garbage")
    meta = b"\n\x08\n\x06scalar"
    case(m, "TensorSummaryV2", s("t"), f32(2, 3), s(meta))
    case(m, "TensorSummaryV2", s("words"), s(["a", "bc"]), s(b""), name="strings")
    case(m, "TensorSummaryV2", s("one"), a(7, np.int64), s(meta), name="scalar")


@builder
def old_graph_cases() -> None:
    n = "nn"
    x, mean, var = f32(2, 3, 3, 4), f32(4), pos32(4)
    beta, gamma = f32(4), f32(4)
    old = {"graph_producer": 8}
    case(n, "BatchNormWithGlobalNormalization", x, mean, var, beta, gamma,
         variance_epsilon=0.001, scale_after_normalization=True, **old)
    case(n, "BatchNormWithGlobalNormalization", x, mean, var, beta, gamma, name="unscaled",
         variance_epsilon=1e-5, scale_after_normalization=False, **old)
    case(n, "BatchNormWithGlobalNormalization", f64(1, 2, 2, 3), f64(3), a([0.5, 1, 2], np.float64),
         f64(3), f64(3), name="f64", variance_epsilon=0.01, scale_after_normalization=True, **old)
    case(n, "BatchNormWithGlobalNormalization", f32(2, 4), f32(4), pos32(4), f32(4), f32(4), name="rank2",
         variance_epsilon=0.001, scale_after_normalization=True, **old)
    mm = "math"
    case(mm, "SparseMatMul", f32(3, 4), f32(4, 2))
    case(mm, "SparseMatMul", f32(4, 3), f32(2, 4), name="transposed", transpose_a=True, transpose_b=True,
         a_is_sparse=True)
    case(mm, "SparseMatMul", f32(3, 4), f32(3, 2), name="bad")
    logits = f32(6, 3, 5)
    logits[1:3, 0, :] = logits[0, 0, :]  # repeats to merge
    case(n, "CTCGreedyDecoder", logits, a([6, 4, 0], np.int32), merge_repeated=True)
    case(n, "CTCGreedyDecoder", logits, a([6, 6, 2], np.int32), name="unmerged", merge_repeated=False)
    case(n, "CTCGreedyDecoder", logits, a([6, 3, 5], np.int32), name="blank0", merge_repeated=True,
         blank_index=0)
    case(n, "CTCGreedyDecoder", f64(4, 2, 3), a([4, 1], np.int32), name="f64", merge_repeated=True)
    case(n, "CTCGreedyDecoder", logits, a([7, 1, 1], np.int32), name="too_long", merge_repeated=True)


@builder
def speech_cases() -> None:
    """AudioSpectrogram and Mfcc: the front end of TensorFlow's speech-command graphs."""
    au = "audio"
    audio = f32(1000, 2, lo=-1.0, hi=1.0)
    case(au, "AudioSpectrogram", audio, window_size=256, stride=128, magnitude_squared=True)
    case(au, "AudioSpectrogram", audio, name="magnitude", window_size=200, stride=75)
    case(au, "AudioSpectrogram", audio[:100], name="short", window_size=256, stride=128)
    spec = tf.raw_ops.AudioSpectrogram(
        input=f32(4000, 1, lo=-1.0, hi=1.0), window_size=480, stride=160, magnitude_squared=True
    ).numpy()
    case(au, "Mfcc", spec, a(16000, np.int32))
    case(au, "Mfcc", spec, a(8000, np.int32), name="custom", upper_frequency_limit=3000.0,
         lower_frequency_limit=100.0, filterbank_channel_count=20, dct_coefficient_count=10)
    case(au, "Mfcc", spec, a(16000, np.int32), name="too_many_dct", dct_coefficient_count=50)
    case(au, "Mfcc", spec[:, :, :10], a(16000, np.int32), name="too_short")


@builder
def fused_rnn_cases() -> None:
    """tf.contrib.rnn's fused cells (LSTMBlockCell, LSTMBlockFusedCell, GRUBlockCell)."""
    n = "nn"
    batch, inp, cell = 2, 3, 4
    x, cs, h = f32(batch, inp), f32(batch, cell), f32(batch, cell)
    w, b = f32(inp + cell, 4 * cell, lo=-1, hi=1), f32(4 * cell, lo=-1, hi=1)
    wci, wcf, wco = f32(cell), f32(cell), f32(cell)
    case(n, "LSTMBlockCell", x, cs, h, w, wci, wcf, wco, b, forget_bias=1.0, cell_clip=3.0)
    case(n, "LSTMBlockCell", x, cs * 3, h, w, wci, wcf, wco, b, name="peephole_clip", forget_bias=0.5,
         cell_clip=1.5, use_peephole=True)
    case(n, "LSTMBlockCell", x, cs, h, w, wci, wcf, wco, b, name="no_clip", cell_clip=-1.0)
    case(n, "LSTMBlockCell", x, cs, h, w[:5], wci, wcf, wco, b, name="bad_w")
    xs = f32(5, batch, inp)
    case(n, "BlockLSTM", a(5, np.int64), xs, cs, h, w, wci, wcf, wco, b, forget_bias=1.0, cell_clip=3.0)
    case(n, "BlockLSTM", a(3, np.int64), xs, cs, h, w, wci, wcf, wco, b, name="short_peephole",
         forget_bias=0.0, cell_clip=0.5, use_peephole=True, unchecked=[0, 2, 3, 4, 5],
         note="past seq_len_max TF zeroes cs and h and leaves i, f, o, ci, co uninitialized")
    case(n, "BlockLSTMV2", a(5, np.int64), xs, cs, h, w, wci, wcf, wco, b, cell_clip=0.0)
    case(n, "BlockLSTMV2", a(5, np.int64), xs, cs, h, w, wci, wcf, wco, b, name="peephole", cell_clip=2.0,
         use_peephole=True)
    w_ru, w_c = f32(inp + cell, 2 * cell, lo=-1, hi=1), f32(inp + cell, cell, lo=-1, hi=1)
    b_ru, b_c = f32(2 * cell, lo=-1, hi=1), f32(cell, lo=-1, hi=1)
    case(n, "GRUBlockCell", x, h, w_ru, w_c, b_ru, b_c)
    case(n, "GRUBlockCell", x, h, w_ru, w_c[:, :3], b_ru, b_c, name="bad_wc")


@builder
def sparse_cross_cases() -> None:
    """SparseCross (crossed_column, tf.sparse.cross_hashed) and SparseCrossV2 (tf.sparse.cross)."""
    sp = "sparse"
    idx1 = a([[0, 0], [0, 1], [2, 0]], np.int64)
    words = s(["a", "bc", "d"])
    idx2 = a([[0, 0], [1, 0], [2, 0], [2, 1]], np.int64)
    ints = a([7, -3, 11, 0], np.int64)
    shape = a([3, 2], np.int64)
    dense = s([["x"], ["y"], ["z"]])
    common = {"num_buckets": 0, "hash_key": 0, "out_type": tf.string, "internal_type": tf.string}
    more = s(["u", "v", "w", "t"])
    case(sp, "SparseCross", [idx1, idx2], [words, more], [shape, shape], [dense], hashed_output=False,
         **common)
    dense_ints = a([[1, 2], [3, 4], [5, 6]], np.int64)
    case(sp, "SparseCross", [idx1], [words], [shape], [dense_ints], name="dense_int", hashed_output=False,
         **common)
    hashed = {"out_type": tf.int64, "internal_type": tf.int64}
    case(sp, "SparseCross", [idx1, idx2], [words, ints], [shape, shape], [dense], name="hashed",
         hashed_output=True, num_buckets=1000, hash_key=0xDECAFCAFFE, **hashed)
    case(sp, "SparseCross", [idx1, idx2], [words, ints], [shape, shape], [], name="hashed_unbucketed",
         hashed_output=True, num_buckets=0, hash_key=5, **hashed)
    case(sp, "SparseCrossV2", [idx1, idx2], [words, ints], [shape, shape], [dense], s("|"))
    case(sp, "SparseCrossV2", [], [], [], [dense, a([[1], [2], [3]], np.int64)], s("_X_"), name="dense_only")


@builder
def old_graph_cases_2() -> None:
    """NonMaxSuppression (V1, TF 1.0/1.1 detection graphs) and EditDistance (OCR/speech error rates)."""
    boxes = a(
        [[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 10.1, 1, 11.1]], np.float32
    )
    scores = a([0.9, 0.75, 0.6, 0.95, 0.5], np.float32)
    case("image", "NonMaxSuppression", boxes, scores, a(3, np.int32), iou_threshold=0.5)
    case("image", "NonMaxSuppression", boxes, scores, a(10, np.int32), name="loose", iou_threshold=0.95)
    sp = "sparse"
    hyp_idx = a([[0, 0, 0], [0, 0, 1], [0, 0, 2], [1, 0, 0], [1, 1, 0], [1, 1, 1]], np.int64)
    hyp_val = a([1, 2, 3, 4, 5, 6], np.int64)
    truth_idx = a([[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 1], [1, 0, 2], [0, 1, 0]], np.int64)
    truth_val = a([1, 3, 4, 9, 4, 7], np.int64)
    shape = a([2, 2, 3], np.int64)
    case(sp, "EditDistance", hyp_idx, hyp_val, shape, truth_idx, truth_val, shape, normalize=True)
    case(sp, "EditDistance", hyp_idx, hyp_val, shape, truth_idx, truth_val, a([2, 3, 3], np.int64),
         name="unnormalized", normalize=False)
    case(sp, "EditDistance", a([[0, 0], [0, 1]], np.int64), s(["ab", "c"]), a([1, 2], np.int64),
         a([[0, 0]], np.int64), s(["ab"]), a([1, 2], np.int64), name="strings", normalize=True)
    case(sp, "EditDistance", a([[0], [1]], np.int64), a([1, 2], np.int64), a([2], np.int64),
         a([[0]], np.int64), a([1], np.int64), a([3], np.int64), name="rank1", normalize=True)


def _sequence_example(context: dict[str, Any], lists: dict[str, list[list[Any]]]) -> bytes:
    def feature(value: list[Any]) -> Any:
        if value and isinstance(value[0], float):
            return tf.train.Feature(float_list=tf.train.FloatList(value=value))
        if value and isinstance(value[0], bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=value))
        if value and isinstance(value[0], int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=value))
        return tf.train.Feature()

    example = tf.train.SequenceExample(
        context=tf.train.Features(feature={k: feature(v) for k, v in context.items()}),
        feature_lists=tf.train.FeatureLists(
            feature_list={k: tf.train.FeatureList(feature=[feature(f) for f in v]) for k, v in lists.items()}
        ),
    )
    return example.SerializeToString(deterministic=True)


@builder
def sequence_example_cases() -> None:
    """ParseSingleSequenceExample: the TF1 parser of SequenceExamples (text and sequence models)."""
    p = "parsing"
    seq = _sequence_example(
        {"length": [3], "label": [b"pos"], "weights": [0.5, 1.5]},
        {
            "tokens": [[4], [7], [9]],
            "chars": [[b"a", b"b"], [], [b"c"]],
            "emb": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
        },
    )
    common = {
        "context_sparse_types": [tf.float32],
        "context_dense_shapes": [[], [1]],
        "feature_list_sparse_types": [tf.string],
        "feature_list_dense_types": [tf.int64, tf.float32],
        "feature_list_dense_shapes": [[1], [2]],
    }
    case(
        p,
        "ParseSingleSequenceExample",
        s(seq),
        s([]),
        [s("weights")],
        [s("length"), s("label")],
        [s("chars")],
        [s("tokens"), s("emb")],
        [a(0, np.int64), s([b"none"])],
        s(""),
        **common,
    )
    missing = _sequence_example({"label": [b"neg"]}, {"tokens": [[1]]})
    case(
        p,
        "ParseSingleSequenceExample",
        s(missing),
        s(["emb"]),
        [s("weights")],
        [s("length"), s("label")],
        [s("chars")],
        [s("tokens"), s("emb")],
        [a(-1, np.int64), s([b"none"])],
        s(""),
        name="defaults_and_missing",
        **common,
    )
    case(
        p,
        "ParseSingleSequenceExample",
        s(missing),
        s([]),
        [s("weights")],
        [s("length"), s("label")],
        [s("chars")],
        [s("tokens"), s("emb")],
        [a(-1, np.int64), s([b"none"])],
        s(""),
        name="required_list",
        **common,
    )


@builder
def accumulate_cases() -> None:
    m = "math"
    case(m, "AccumulateNV2", [f32(2, 3), f32(2, 3), f32(2, 3)], name="f32", shape=[2, 3])
    case(m, "AccumulateNV2", [i32(4), i32(4)], name="i32", shape=[4])


@builder
def image_summary_cases() -> None:
    """ImageSummary: PNG images in a Summary, float images rescaled the way TensorFlow does."""
    m = "summary"
    case(m, "ImageSummary", s("img"), a(_rng.integers(0, 256, size=(2, 5, 6, 3)), np.uint8))
    case(m, "ImageSummary", s("pos"), f32(4, 4, 3, 1, lo=0.0, hi=2.0), name="positive", max_images=2)
    case(m, "ImageSummary", s("signed"), f32(1, 3, 5, 3), name="signed", max_images=1)
    nan = f32(2, 3, 3, 4)
    nan[0, 1, 1, 2] = np.nan
    nan[1, 0, 0, 0] = np.inf
    case(m, "ImageSummary", s("bad"), nan, name="nonfinite")
    case(m, "ImageSummary", s("d"), f64(1, 2, 2, 1), name="f64")
    case(m, "ImageSummary", s("h"), f16(1, 2, 3, 3), name="f16")
    case(m, "ImageSummary", s("z"), a(np.zeros((1, 2, 2, 1)), np.float32), name="zeros")
    case(m, "ImageSummary", s("bad_depth"), f32(1, 2, 2, 2), name="bad_depth")


@builder
def audio_summary_cases() -> None:
    """AudioSummaryV2: WAV clips in a Summary."""
    m = "summary"
    case(m, "AudioSummaryV2", s("speech"), f32(4, 50, lo=-1.2, hi=1.2), a(16000.0, np.float32))
    case(m, "AudioSummaryV2", s("stereo"), f32(2, 20, 2, lo=-1, hi=1), a(8000.4, np.float32), name="stereo",
         max_outputs=1)
    case(m, "AudioSummaryV2", s("bad"), f32(1, 5), a(0.0, np.float32), name="bad_rate")


@builder
def morphology_cases() -> None:
    """NthElement (percentiles) and Dilation2D (morphological dilation)."""
    n = "nn"
    case(n, "NthElement", f32(3, 7), a(2, np.int32))
    case(n, "NthElement", f32(2, 2, 5), a(0, np.int32), name="reverse", reverse=True)
    case(n, "NthElement", a([[3, 1, 2, 2]], np.int32), a(3, np.int32), name="i32_last")
    case(n, "NthElement", f32(2, 3), a(3, np.int32), name="too_big")
    img, filt = f32(2, 7, 6, 3), f32(3, 2, 3)
    case(n, "Dilation2D", img, filt, strides=[1, 1, 1, 1], rates=[1, 1, 1, 1], padding="VALID")
    case(n, "Dilation2D", img, filt, name="same_stride", strides=[1, 2, 2, 1], rates=[1, 1, 1, 1],
         padding="SAME")
    case(n, "Dilation2D", img, filt, name="rates", strides=[1, 1, 2, 1], rates=[1, 2, 2, 1], padding="SAME")


@builder
def fused_rnn_half_cases() -> None:
    """LSTMBlockCell / BlockLSTM in float16: Eigen rounds every product and partial sum to half."""
    n = "nn"
    x, cs, h = f16(2, 3, lo=-1, hi=1), f16(2, 4, lo=-1, hi=1), f16(2, 4, lo=-1, hi=1)
    w, b = f16(7, 16, lo=-1, hi=1), f16(16, lo=-1, hi=1)
    wci, wcf, wco = f16(4, lo=-1, hi=1), f16(4, lo=-1, hi=1), f16(4, lo=-1, hi=1)
    case(n, "LSTMBlockCell", x, cs, h, w, wci, wcf, wco, b, name="f16", cell_clip=3.0)
    case(n, "LSTMBlockCell", x, cs, h, w, wci, wcf, wco, b, name="f16_peephole", use_peephole=True)
    case(n, "BlockLSTM", a(3, np.int64), f16(3, 2, 3, lo=-1, hi=1), cs, h, w, wci, wcf, wco, b, name="f16")


@builder
def old_graph_half_cases() -> None:
    """Half-precision variants of old-graph ops (BatchNormWithGlobalNormalization, SparseMatMul)."""
    case("nn", "BatchNormWithGlobalNormalization", f16(2, 3, 3, 4), f16(4), a([0.5, 1, 2, 3], np.float16),
         f16(4), f16(4), name="f16", variance_epsilon=0.001, scale_after_normalization=True, graph_producer=8,
         rtol=4e-3, atol=4e-3, note="half: within 2 ulp of Eigen's per-op half rounding")
    case("math", "SparseMatMul", bf16(3, 4), f32(4, 2), name="bf16", b_is_sparse=True)


@builder
def fake_quant_gradient_cases() -> None:
    """Quantization-aware training: the fake-quant gradients (inside, below and above the nudged range)."""
    q = "quantization"
    xq = a(np.linspace(-8, 8, 23), np.float32)
    gq = f32(23)
    case(q, "FakeQuantWithMinMaxArgsGradient", gq, xq, min=-6.0, max=6.0)
    case(
        q,
        "FakeQuantWithMinMaxArgsGradient",
        gq,
        xq,
        name="narrow4",
        min=-1.3,
        max=5.1,
        num_bits=4,
        narrow_range=True,
    )
    case(q, "FakeQuantWithMinMaxVarsGradient", gq, xq, a(-2.5, np.float32), a(3.7, np.float32))
    case(
        q,
        "FakeQuantWithMinMaxVarsGradient",
        gq,
        xq,
        a(0.5, np.float32),
        a(9.0, np.float32),
        name="nudged_zero",
        num_bits=5,
    )
    x2, g2 = xq[:22].reshape(11, 2), f32(11, 2)
    case(
        q,
        "FakeQuantWithMinMaxVarsPerChannelGradient",
        g2,
        x2,
        a([-1, -3], np.float32),
        a([1, 2.5], np.float32),
    )


# CASES-END

if __name__ == "__main__":
    sys.exit(main(sys.argv))
