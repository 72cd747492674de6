"""`savedmodel diff A B`: what differs between two SavedModels (or checkpoints).

Compared: tag sets; per common tag set, signature keys, method names, the keys,
dtypes, shapes and encodings of signature inputs/outputs (tensor names are
ignored: they are an export detail), and the ops used; then the variables
(names, dtypes, shapes, and with --values their values, equal within
--rtol/--atol as numpy.allclose, NaNs equal). When A or B is a checkpoint prefix
rather than a SavedModel directory, only variables are compared.

Like diff(1): prints nothing and exits 0 when equal, prints one line per
difference and exits 1 when different, exits 2 on trouble (unreadable input).

JSON schema (--json): {"a": str, "b": str, "equal": bool, "differences":
[{"kind": str, "where": str, "a": any, "b": any, "message": str}]} where kind is
one of tag_set, signature, method_name, tensor, tensor_dtype, tensor_shape,
tensor_encoding, ops, variable, variable_dtype, variable_shape, variable_value.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.cli.commands import help_of
from savedmodel.errors import SavedModelError
from savedmodel.inspect import MetaGraphInfo, ModelInfo, SignatureInfo, TensorInfo, describe, open_bundle


@dataclass
class Difference:
    kind: str
    where: str
    a: Any
    b: Any
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "where": self.where, "a": self.a, "b": self.b, "message": self.message}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "diff",
        help=help_of("diff"),
        description="Compare two SavedModels (or checkpoints). "
        "Exit status 0: equal, 1: different, 2: trouble.",
    )
    parser.add_argument("a", help="first SavedModel directory or checkpoint prefix")
    parser.add_argument("b", help="second SavedModel directory or checkpoint prefix")
    parser.add_argument("--values", action="store_true", help="also compare variable values")
    parser.add_argument(
        "--rtol", type=float, default=1e-5, help="relative tolerance for --values (default 1e-5)"
    )
    parser.add_argument(
        "--atol", type=float, default=1e-8, help="absolute tolerance for --values (default 1e-8)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)
    return parser


def _tags_text(tags: frozenset[str]) -> str:
    return ",".join(sorted(tags)) or "<no tags>"


def _shape_text(shape: list[int] | None) -> str:
    return "unknown_rank" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


def _only(
    kind: str, where: str, what: str, names_a: set[str], names_b: set[str], quote: bool = False
) -> list[Difference]:
    out = []
    prefix = f"{where}: " if where else ""
    only_a, only_b = sorted(names_a - names_b), sorted(names_b - names_a)
    for side, names in (("A", only_a), ("B", only_b)):
        if names:
            listed = ", ".join(repr(n) if quote else n for n in names)
            a, b = (names, None) if side == "A" else (None, names)
            out.append(Difference(kind, where, a, b, f"{prefix}{what} only in {side}: {listed}"))
    return out


def compare_tensor(where: str, a: TensorInfo, b: TensorInfo) -> list[Difference]:
    out = []
    if a.dtype != b.dtype:
        out.append(
            Difference(
                "tensor_dtype",
                where,
                a.dtype_enum_name,
                b.dtype_enum_name,
                f"{where}: dtype {a.dtype_enum_name} != {b.dtype_enum_name}",
            )
        )
    if a.shape != b.shape:
        out.append(
            Difference(
                "tensor_shape",
                where,
                a.shape,
                b.shape,
                f"{where}: shape {_shape_text(a.shape)} != {_shape_text(b.shape)}",
            )
        )
    if a.encoding != b.encoding:
        out.append(
            Difference(
                "tensor_encoding",
                where,
                a.encoding,
                b.encoding,
                f"{where}: encoding {a.encoding or 'none'} != {b.encoding or 'none'}",
            )
        )
    elif a.encoding == "composite_tensor":
        spec_a, spec_b = repr(a.type_spec), repr(b.type_spec)
        if spec_a != spec_b:
            out.append(
                Difference(
                    "tensor_encoding", where, spec_a, spec_b, f"{where}: type spec {spec_a} != {spec_b}"
                )
            )
    return out


def compare_signature(where: str, a: SignatureInfo, b: SignatureInfo) -> list[Difference]:
    out = []
    if a.method_name != b.method_name:
        out.append(
            Difference(
                "method_name",
                where,
                a.method_name,
                b.method_name,
                f"{where}: method name {a.method_name!r} != {b.method_name!r}",
            )
        )
    for side, ta, tb in (("input", a.inputs, b.inputs), ("output", a.outputs, b.outputs)):
        out += _only("tensor", where, f"{side}s", set(ta), set(tb))
        for key in sorted(set(ta) & set(tb)):
            out += compare_tensor(f"{where} {side} {key!r}", ta[key], tb[key])
    return out


def compare_meta_graph(a: MetaGraphInfo, b: MetaGraphInfo) -> list[Difference]:
    where = f"[{_tags_text(a.tag_set)}]"
    out = _only("signature", where, "signatures", set(a.signatures), set(b.signatures))
    for key in sorted(set(a.signatures) & set(b.signatures)):
        out += compare_signature(f"{where} signature {key!r}", a.signatures[key], b.signatures[key])
    out += _only("ops", where, "ops", set(a.ops), set(b.ops))
    return out


def compare_graphs(a: ModelInfo, b: ModelInfo) -> list[Difference]:
    by_tags_a = {mg.tag_set: mg for mg in a.meta_graphs}
    by_tags_b = {mg.tag_set: mg for mg in b.meta_graphs}
    names_a = {_tags_text(t): t for t in by_tags_a}
    names_b = {_tags_text(t): t for t in by_tags_b}
    out = _only("tag_set", "", "tag sets", set(names_a), set(names_b), quote=True)
    for name in sorted(set(names_a) & set(names_b)):
        out += compare_meta_graph(by_tags_a[names_a[name]], by_tags_b[names_b[name]])
    return out


def _values_differ(va: np.ndarray, vb: np.ndarray, rtol: float, atol: float) -> str | None:
    """None when equal within tolerance, else a short description."""
    if va.dtype.kind in "OSUV" or vb.dtype.kind in "OSUV":
        unequal = int(np.sum(va != vb)) if va.shape == vb.shape else va.size
        return None if unequal == 0 else f"{unequal} of {va.size} elements differ"
    fa = va.astype(np.complex128 if va.dtype.kind == "c" else np.float64)
    fb = vb.astype(np.complex128 if vb.dtype.kind == "c" else np.float64)
    close = np.isclose(fa, fb, rtol=rtol, atol=atol, equal_nan=True)
    if bool(np.all(close)):
        return None
    with np.errstate(invalid="ignore"):
        diff = np.abs(fa - fb)
    finite = diff[np.isfinite(diff)]
    biggest = float(finite.max()) if finite.size else float("nan")
    return f"{int(np.sum(~close))} of {va.size} elements differ (max abs diff {biggest:.6g})"


def compare_variables(path_a: str, path_b: str, values: bool, rtol: float, atol: float) -> list[Difference]:
    reader_a, reader_b = open_bundle(path_a), open_bundle(path_b)
    try:
        keys_a = set(reader_a.keys()) if reader_a else set()
        keys_b = set(reader_b.keys()) if reader_b else set()
        keys_a.discard("_CHECKPOINTABLE_OBJECT_GRAPH")
        keys_b.discard("_CHECKPOINTABLE_OBJECT_GRAPH")
        out = _only("variable", "", "variables", keys_a, keys_b)
        for key in sorted(keys_a & keys_b):
            out += _compare_variable(reader_a, reader_b, key, values, rtol, atol)
        return out
    finally:
        for reader in (reader_a, reader_b):
            if reader is not None:
                reader.close()


def _compare_variable(
    reader_a: Any, reader_b: Any, key: str, values: bool, rtol: float, atol: float
) -> list[Difference]:
    from savedmodel.format.dtypes import dtype_name

    where = f"variable {key!r}"
    dtype_a, dtype_b = dtype_name(int(reader_a.dtype(key))), dtype_name(int(reader_b.dtype(key)))
    shape_a, shape_b = list(reader_a.shape(key)), list(reader_b.shape(key))
    out = []
    if dtype_a != dtype_b:
        out.append(
            Difference("variable_dtype", where, dtype_a, dtype_b, f"{where}: dtype {dtype_a} != {dtype_b}")
        )
    if shape_a != shape_b:
        out.append(
            Difference("variable_shape", where, shape_a, shape_b, f"{where}: shape {shape_a} != {shape_b}")
        )
    if values and not out:
        problem = _values_differ(np.asarray(reader_a.read(key)), np.asarray(reader_b.read(key)), rtol, atol)
        if problem:
            out.append(Difference("variable_value", where, None, None, f"{where}: values differ: {problem}"))
    return out


def _is_saved_model(path: str) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file())


def compare(
    path_a: str, path_b: str, values: bool = False, rtol: float = 1e-5, atol: float = 1e-8
) -> list[Difference]:
    """All differences between A and B (an empty list when they are equal)."""
    out: list[Difference] = []
    if _is_saved_model(path_a) and _is_saved_model(path_b):
        out += compare_graphs(describe(path_a), describe(path_b))
    elif _is_saved_model(path_a) or _is_saved_model(path_b):
        for path in (path_a, path_b):
            if not _is_saved_model(path):
                describe(path)  # raises a clear error for a missing or broken directory
    out += compare_variables(path_a, path_b, values, rtol, atol)
    return out


def run(args: argparse.Namespace) -> int:
    try:
        differences = compare(args.a, args.b, args.values, args.rtol, args.atol)
    except SavedModelError as exc:
        print(f"savedmodel diff: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = {
            "a": args.a,
            "b": args.b,
            "equal": not differences,
            "differences": [d.to_json() for d in differences],
        }
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for difference in differences:
            sys.stdout.write(difference.message + "\n")
    return 1 if differences else 0
