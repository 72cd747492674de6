"""String ops. Strings are NumPy object arrays of bytes. Regexes run on RE2 (the `google-re2`
package, the engine TensorFlow uses): TF's syntax and semantics, and linear-time matching, so no
pattern can make a kernel backtrack for ever."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import struct
import sys
from typing import Any

import numpy as np
import re2

from savedmodel.errors import PolicyError
from savedmodel.format import dtypes as tfdtypes
from savedmodel.format.farmhash import fingerprint64
from savedmodel.ops._common import (
    broadcast_shape,
    fail,
    int_list,
    object_array,
    reduction_axes,
    scalar_int,
    shape_str,
    str_map,
    to_bytes,
)
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory
from savedmodel.policy import PRINT_FILE_PREFIX, PRINT_STREAMS, check_string_length, limits_of

STRING = ("string",)


def _text(value: Any) -> str:
    return to_bytes(value).decode("utf-8", "surrogateescape")


_RE2_OPTIONS = re2.Options()  # RE2's defaults (UTF-8, Perl syntax), as TensorFlow's `RE2(pattern)`
_RE2_OPTIONS.log_errors = False


def _show(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


@functools.lru_cache(maxsize=256)
def compile_re2(pattern: bytes | str) -> Any:
    """Compile an RE2 pattern as TensorFlow does; an invalid one fails with TF's message."""
    data = pattern.encode("utf-8", "surrogateescape") if isinstance(pattern, str) else bytes(pattern)
    try:
        compiled = re2.compile(data, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        detail = detail.decode("utf-8", "backslashreplace") if isinstance(detail, bytes) else str(detail)
        fail(f"Invalid pattern: {_show(data)}, error: {detail}")
    if b"(?<" in data and _opens_angle_group(data):
        fail(f"Invalid pattern: {_show(data)}, error: invalid perl operator: (?<")
    return compiled


def _opens_angle_group(data: bytes) -> bool:
    """Whether the pattern uses `(?<name>...)`, which newer RE2 accepts but TensorFlow's does not.

    Breaking every `(?<` apart leaves escaped or bracketed occurrences valid, so the pattern
    stops compiling exactly when one of them opened a group."""
    try:
        re2.compile(data.replace(b"(?<", b"(?\x00<"), _RE2_OPTIONS)
    except re2.error:
        return True
    return False


# --------------------------------------------------------------------------- join / match


@kernel_factory("StringJoin", family="strings", dtypes=STRING)
def _string_join(node: NodeSpec) -> Any:
    separator = to_bytes(node.attrs.get("separator", b"") or b"")

    def run(ctx: Any, *xs: np.ndarray) -> np.ndarray:
        shapes = [x.shape for x in xs if x.ndim]
        for s in shapes[1:]:
            if s != shapes[0]:
                fail(f"Input shapes do not match: {shape_str(shapes[0])} vs. {shape_str(s)}")
        shape = shapes[0] if shapes else ()
        parts = [np.broadcast_to(np.asarray(x, dtype=object), shape) for x in xs]
        out = np.empty(shape, dtype=object)
        limits = limits_of(ctx)
        for idx in np.ndindex(shape):
            out[idx] = separator.join(to_bytes(p[idx]) for p in parts)
            check_string_length(len(out[idx]), "StringJoin", limits)
        return out

    return run


@kernel_factory(
    "StaticRegexFullMatch",
    family="strings",
    dtypes=STRING,
    notes="RE2 (google-re2), with TensorFlow's refusal of (?<name>...) groups",
)
def _static_regex_full_match(node: NodeSpec) -> Any:
    pattern = compile_re2(to_bytes(node.attrs["pattern"]))
    return lambda ctx, x: str_map(lambda b: pattern.fullmatch(b) is not None, x, np.bool_)


@kernel("RegexFullMatch", family="strings", dtypes=STRING)
def _regex_full_match(ctx: Any, x: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    if np.ndim(pattern) != 0:
        fail("Pattern must be scalar")
    compiled = compile_re2(to_bytes(pattern[()]))
    return str_map(lambda b: compiled.fullmatch(b) is not None, x, np.bool_)


def _attr_text(node: NodeSpec, name: str, default: str = "") -> str:
    value = node.attrs.get(name, default.encode())
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


def _scalar_string(x: np.ndarray, what: str) -> bytes:
    if np.ndim(x) != 0:
        fail(f"{what} must be a scalar, got shape {shape_str(np.shape(x))}")
    return to_bytes(np.asarray(x, dtype=object)[()])


# --------------------------------------------------------------------------- regex replace

# RE2::Replace / RE2::GlobalReplace, which TensorFlow's RegexReplace kernels call. A rewrite
# string takes \0 (the whole match) to \9 and \\ (a backslash); any other escape is invalid:
# Replace then leaves the string as it is, GlobalReplace keeps what it wrote before the bad escape.
Rewrite = tuple[tuple[bytes | int, ...], bool, int]


@functools.lru_cache(maxsize=256)
def _parse_rewrite(rewrite: bytes) -> Rewrite:
    """(pieces: literal bytes or group numbers, whether it is valid, highest group it names)."""
    highest = 0
    i = 0
    while i < len(rewrite):  # RE2's MaxSubmatch scans the whole string, bad escapes or not
        if rewrite[i] == 0x5C and i + 1 < len(rewrite) and 0x30 <= rewrite[i + 1] <= 0x39:
            highest = max(highest, rewrite[i + 1] - 0x30)
        i += 2 if rewrite[i] == 0x5C else 1
    pieces: list[bytes | int] = []
    literal = bytearray()
    i = 0
    while i < len(rewrite):
        c = rewrite[i]
        if c != 0x5C:
            literal.append(c)
            i += 1
            continue
        nxt = rewrite[i + 1] if i + 1 < len(rewrite) else -1
        if 0x30 <= nxt <= 0x39:
            pieces += [bytes(literal), nxt - 0x30]
            literal.clear()
        elif nxt == 0x5C:
            literal.append(0x5C)
        else:
            pieces.append(bytes(literal))
            return tuple(p for p in pieces if p != b""), False, highest
        i += 2
    pieces.append(bytes(literal))
    return tuple(p for p in pieces if p != b""), True, highest


def _expand(out: bytearray, pieces: tuple[bytes | int, ...], match: Any) -> None:
    for piece in pieces:
        out += piece if isinstance(piece, bytes) else (match.group(piece) or b"")


def _rune_length(data: bytes, pos: int) -> int:
    """Bytes in the UTF-8 character at `pos` (1 for an invalid or truncated sequence)."""
    lead = data[pos]
    if lead < 0x80:
        return 1
    if lead < 0xC0 or lead >= 0xF8:
        return 1
    size = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    if pos + size > len(data) or any((b & 0xC0) != 0x80 for b in data[pos + 1 : pos + size]):
        return 1
    value = lead & (0x7F >> size)
    for b in data[pos + 1 : pos + size]:
        value = (value << 6) | (b & 0x3F)
    smallest = {2: 0x80, 3: 0x800, 4: 0x10000}[size]
    return size if smallest <= value <= 0x10FFFF else 1


def re2_replace(text: bytes, compiled: Any, rewrite: bytes) -> bytes:
    """RE2::Replace: the first match rewritten (text unchanged when the rewrite is unusable)."""
    pieces, valid, highest = _parse_rewrite(rewrite)
    if not valid or highest > compiled.groups:
        return text
    match = compiled.search(text)
    if match is None:
        return text
    out = bytearray(text[: match.start()])
    _expand(out, pieces, match)
    out += text[match.end() :]
    return bytes(out)


def re2_global_replace(text: bytes, compiled: Any, rewrite: bytes) -> bytes:
    """RE2::GlobalReplace: every non-overlapping match rewritten, left to right; an empty match
    right after the previous match is skipped (one UTF-8 character ahead)."""
    pieces, _, highest = _parse_rewrite(rewrite)
    if highest > compiled.groups:
        return text
    out = bytearray()
    pos, last_end, count = 0, -1, 0
    while pos <= len(text):
        match = compiled.search(text, pos)
        if match is None:
            break
        start, end = match.span()
        out += text[pos:start]
        if start == end == last_end:
            step = _rune_length(text, pos) if pos < len(text) else 1
            out += text[pos : pos + step]
            pos += step
            continue
        _expand(out, pieces, match)  # an invalid rewrite writes only what precedes its bad escape
        pos = last_end = end
        count += 1
    if count == 0:
        return text
    out += text[pos:]
    return bytes(out)


def _regex_replace(
    ctx: Any, x: np.ndarray, pattern: bytes, rewrite: bytes, replace_global: bool, op: str
) -> np.ndarray:
    compiled = compile_re2(pattern)
    replace = re2_global_replace if replace_global else re2_replace
    limits = limits_of(ctx)

    def one(b: Any) -> bytes:
        out = replace(to_bytes(b), compiled, rewrite)
        check_string_length(len(out), op, limits)  # a global rewrite can multiply the length
        return out

    return str_map(one, x)


@kernel_factory("StaticRegexReplace", family="strings", dtypes=STRING, notes=r"RE2 rewrite syntax (\0-\9)")
def _static_regex_replace(node: NodeSpec) -> Any:
    pattern = to_bytes(node.attrs["pattern"])
    rewrite = to_bytes(node.attrs["rewrite"])
    replace_global = bool(node.attrs.get("replace_global", True))
    compile_re2(pattern)  # an invalid pattern fails when the graph is loaded, as in TensorFlow
    return lambda ctx, x: _regex_replace(ctx, x, pattern, rewrite, replace_global, node.op)


@kernel_factory("RegexReplace", family="strings", dtypes=STRING, notes=r"RE2 rewrite syntax (\0-\9)")
def _regex_replace_kernel(node: NodeSpec) -> Any:
    replace_global = bool(node.attrs.get("replace_global", True))

    def run(ctx: Any, x: np.ndarray, pattern: np.ndarray, rewrite: np.ndarray) -> np.ndarray:
        pattern_text, rewrite_text = _scalar_string(pattern, "pattern"), _scalar_string(rewrite, "rewrite")
        return _regex_replace(ctx, x, pattern_text, rewrite_text, replace_global, node.op)

    return run


# --------------------------------------------------------------------------- split


def _sparse_from_rows(rows: list[list[bytes]]) -> list[np.ndarray]:
    indices = [[i, j] for i, row in enumerate(rows) for j in range(len(row))]
    values = object_array([v for row in rows for v in row])
    width = max((len(r) for r in rows), default=0)
    return [
        np.array(indices, dtype=np.int64).reshape(-1, 2),
        values,
        np.array([len(rows), width], dtype=np.int64),
    ]


@kernel_factory("StringSplitV2", family="strings", dtypes=STRING)
def _string_split_v2(node: NodeSpec) -> Any:
    maxsplit = int(node.attrs.get("maxsplit", -1))

    def run(ctx: Any, x: np.ndarray, sep: np.ndarray) -> list[np.ndarray]:
        if x.ndim != 1:
            fail(f"input must be a vector, got shape: {shape_str(x.shape)}")
        separator = _scalar_string(sep, "sep")
        rows = []
        for v in x:
            b = to_bytes(v)
            if separator:
                parts = b.split(separator, maxsplit)
            else:
                parts = b.split(None, maxsplit) if maxsplit >= 0 else b.split()
            rows.append(parts)
        return _sparse_from_rows(rows)

    return run


@kernel_factory("StringSplit", family="strings", dtypes=STRING)
def _string_split(node: NodeSpec) -> Any:
    skip_empty = bool(node.attrs.get("skip_empty", True))

    def run(ctx: Any, x: np.ndarray, delimiter: np.ndarray) -> list[np.ndarray]:
        if x.ndim != 1:
            fail(f"input must be a vector, got shape: {shape_str(x.shape)}")
        delims = _scalar_string(delimiter, "delimiter")
        rows = []
        for v in x:
            b = to_bytes(v)
            if not delims:
                parts = [bytes([c]) for c in b]
            else:
                parts = re.split(b"[" + re.escape(delims) + b"]", b)
            if skip_empty:
                parts = [p for p in parts if p]
            rows.append(parts)
        return _sparse_from_rows(rows)

    return run


# --------------------------------------------------------------------------- length, substr, case


def _utf8_len(b: bytes) -> int:
    return sum(1 for c in b if (c & 0xC0) != 0x80)


@kernel_factory("StringLength", family="strings", dtypes=STRING)
def _string_length(node: NodeSpec) -> Any:
    unit = _attr_text(node, "unit", "BYTE")
    measure = _utf8_len if unit == "UTF8_CHAR" else len
    return lambda ctx, x: str_map(measure, x, np.int32)


def _utf8_starts(b: bytes) -> list[int]:
    return [i for i, c in enumerate(b) if (c & 0xC0) != 0x80]


@kernel_factory("Substr", family="strings", dtypes=STRING)
def _substr(node: NodeSpec) -> Any:
    unit = _attr_text(node, "unit", "BYTE")

    def one(b: bytes, pos: int, length: int) -> bytes:
        if unit == "UTF8_CHAR":
            starts = _utf8_starts(b) + [len(b)]
            n = len(starts) - 1
        else:
            n = len(b)
        if pos < -n or pos > n:
            fail(f"pos {pos} out of range for string b'{b.decode('utf-8', 'replace')}' at index 0")
        if pos < 0:
            pos += n
        end = min(pos + max(length, 0), n)
        if unit == "UTF8_CHAR":
            return b[starts[pos] : starts[end]]
        return b[pos:end]

    def run(ctx: Any, x: np.ndarray, pos: np.ndarray, length: np.ndarray) -> np.ndarray:
        if pos.shape != length.shape:
            fail(
                f"pos and len should have the same shape, got: {shape_str(pos.shape)} vs. "
                f"{shape_str(length.shape)}"
            )
        shape = broadcast_shape(x.shape, pos.shape)
        bx = np.broadcast_to(np.asarray(x, dtype=object), shape)
        bp, bl = np.broadcast_to(pos, shape), np.broadcast_to(length, shape)
        out = np.empty(shape, dtype=object)
        for idx in np.ndindex(shape):
            out[idx] = one(to_bytes(bx[idx]), int(bp[idx]), int(bl[idx]))
        return out

    return run


_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _case_kernel(op: str, table: bytes, method: str) -> None:
    @kernel_factory(op, family="strings", dtypes=STRING)
    def prepare(node: NodeSpec) -> Any:
        encoding = _attr_text(node, "encoding", "")
        if encoding.lower().replace("-", "") == "utf8":
            return lambda ctx, x: str_map(
                lambda b: getattr(_text(b), method)().encode("utf-8", "surrogateescape"), x
            )
        return lambda ctx, x: str_map(lambda b: b.translate(table), x)


_case_kernel("StringLower", _ASCII_LOWER, "lower")
_case_kernel("StringUpper", _ASCII_UPPER, "upper")


@kernel("StringStrip", family="strings", dtypes=STRING)
def _string_strip(ctx: Any, x: np.ndarray) -> np.ndarray:
    return str_map(lambda b: b.strip(b" \t\n\v\f\r"), x)


@kernel_factory("ReduceJoin", family="strings", dtypes=STRING)
def _reduce_join(node: NodeSpec) -> Any:
    keep = bool(node.attrs.get("keep_dims", False))
    separator = to_bytes(node.attrs.get("separator", b"") or b"")

    def run(ctx: Any, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
        if np.size(axes) == 0:
            return x.copy()
        reduction_axes(axes, x.ndim)  # validates
        ax = []
        for a in int_list(axes):
            a = a + x.ndim if a < 0 else a
            if a not in ax:
                ax.append(a)
        # the first listed axis varies fastest in the joined order
        moved = np.moveaxis(np.asarray(x, dtype=object), ax[::-1], range(x.ndim - len(ax), x.ndim))
        outer = moved.shape[: x.ndim - len(ax)]
        flat = moved.reshape(outer + (-1,))
        out = np.empty(outer, dtype=object)
        limits = limits_of(ctx)
        for idx in np.ndindex(outer):
            out[idx] = separator.join(to_bytes(v) for v in flat[idx])
            check_string_length(len(out[idx]), "ReduceJoin", limits)
        if keep:
            out = out.reshape([1 if i in ax else d for i, d in enumerate(x.shape)])
        return out

    return run


# --------------------------------------------------------------------------- number <-> string


def _format_number(value: Any, kind: str, fmt: str) -> bytes:
    return (fmt % value).encode()


@kernel_factory(
    "AsString", family="strings", dtypes=("float32", "float64", "int32", "int64", "bool", "string")
)
def _as_string(node: NodeSpec) -> Any:
    precision = int(node.attrs.get("precision", -1))
    scientific = bool(node.attrs.get("scientific", False))
    shortest = bool(node.attrs.get("shortest", False))
    width = int(node.attrs.get("width", -1))
    fill = _attr_text(node, "fill", "")
    if scientific and shortest:
        raise_error = "Cannot select both scientific and shortest notation"
    else:
        raise_error = ""
    if len(fill) > 1:
        raise_error = f"Fill string must be one or fewer characters: {fill}"

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if raise_error:
            fail(raise_error)
        check_string_length(max(width, precision), "AsString (width/precision)", limits_of(ctx))
        flags = fill if fill in ("0", "-", "+", " ", "#") else ""
        w = str(width) if width > -1 else ""
        if x.dtype.kind in "fc" or x.dtype.name in ("float16", "bfloat16"):
            p = f".{precision}" if precision > -1 else ""
            conv = "e" if scientific else ("g" if shortest else "f")
            fmt = f"%{flags}{w}{p}{conv}"
            data = x.astype(np.float64)
        elif x.dtype == np.bool_:
            return str_map_any(lambda v: b"true" if v else b"false", x)
        elif x.dtype.kind == "O":
            return x.copy()
        else:
            fmt = f"%{flags}{w}d"
            data = x.astype(object)
        return str_map_any(lambda v: _c_format(fmt, v), data)

    return run


def _c_format(fmt: str, value: Any) -> bytes:
    if isinstance(value, float) and not np.isfinite(value):
        text = "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        width = re.search(r"(\d+)", fmt.split(".")[0])
        return text.rjust(int(width.group(1)) if width else 0).encode()
    return (fmt % value).encode()


def str_map_any(fn: Any, x: np.ndarray) -> np.ndarray:
    flat = [fn(v) for v in np.asarray(x).reshape(-1).tolist()]
    return object_array(flat, x.shape)


_INT_TEXT = re.compile(rb"^\s*[+-]?\d+\s*$")
_FLOAT_TEXT = re.compile(
    rb"^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)\s*$", re.IGNORECASE
)


@kernel_factory("StringToNumber", family="strings", dtypes=STRING)
def _string_to_number(node: NodeSpec) -> Any:
    out = node.attrs.dtype("out_type", tfdtypes.DT.DT_FLOAT)

    def parse(b: bytes) -> Any:
        if out.kind in "iu":
            if not _INT_TEXT.match(b):
                fail(f"StringToNumberOp could not correctly convert string: {b.decode('utf-8', 'replace')}")
            v = int(b)
            info = np.iinfo(out)
            if not info.min <= v <= info.max:
                fail(f"StringToNumberOp could not correctly convert string: {b.decode('utf-8', 'replace')}")
            return v
        if not _FLOAT_TEXT.match(b):
            fail(f"StringToNumberOp could not correctly convert string: {b.decode('utf-8', 'replace')}")
        return float(b)

    return lambda ctx, x: str_map(parse, x, out)


# --------------------------------------------------------------------------- unicode

_UNICODE_REPLACEMENT = 0xFFFD


def _sequence_length(b: bytes, i: int) -> tuple[int, int]:
    """(length of the well-formed UTF-8 sequence at i or 0, bytes an ill-formed one spans): the
    maximal valid prefix of a broken sequence counts as one error, as ICU and TensorFlow do."""
    c = b[i]
    if c < 0x80:
        return 1, 1
    if 0xC2 <= c < 0xE0:
        n, lo, hi = 2, 0x80, 0xBF
    elif 0xE0 <= c < 0xF0:
        n = 3
        lo, hi = (0xA0, 0xBF) if c == 0xE0 else (0x80, 0x9F) if c == 0xED else (0x80, 0xBF)
    elif 0xF0 <= c < 0xF5:
        n = 4
        lo, hi = (0x90, 0xBF) if c == 0xF0 else (0x80, 0x8F) if c == 0xF4 else (0x80, 0xBF)
    else:
        return 0, 1
    k = 1
    while k < n and i + k < len(b):
        limit_lo, limit_hi = (lo, hi) if k == 1 else (0x80, 0xBF)
        if not limit_lo <= b[i + k] <= limit_hi:
            break
        k += 1
    return (n, n) if k == n else (0, k)


def _decode_codepoints(
    b: bytes, errors: str, replacement: int, replace_control: bool
) -> tuple[list[int], list[int]]:
    """Code points and their byte offsets; invalid bytes per `errors` (strict/replace/ignore)."""
    points, offsets = [], []
    i = 0
    while i < len(b):
        n, span = _sequence_length(b, i)
        if not n:
            if errors == "strict":
                fail(f"Invalid formatting on input string at byte {i}")
            if errors == "replace":
                points.append(replacement)
                offsets.append(i)
            i += span
            continue
        cp = ord(b[i : i + n].decode("utf-8"))
        if replace_control and (cp < 0x20 or 0x7F <= cp < 0xA0):
            cp = replacement
        points.append(cp)
        offsets.append(i)
        i += n
    return points, offsets


def _unicode_decode(node: NodeSpec, with_offsets: bool) -> Any:
    encoding = _attr_text(node, "input_encoding", "UTF-8").upper().replace("-", "")
    errors = _attr_text(node, "errors", "replace")
    replacement = int(node.attrs.get("replacement_char", _UNICODE_REPLACEMENT))
    replace_control = bool(node.attrs.get("replace_control_characters", False))
    splits_type = node.attrs.dtype("Tsplits", tfdtypes.DT.DT_INT64)
    if encoding not in ("UTF8",):
        raise_encoding = f"unsupported input_encoding {encoding!r} (only UTF-8)"
    else:
        raise_encoding = ""

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        if raise_encoding:
            fail(raise_encoding)
        splits, chars, starts = [0], [], []
        for v in np.asarray(x, dtype=object).reshape(-1):
            points, offsets = _decode_codepoints(to_bytes(v), errors, replacement, replace_control)
            chars.extend(points)
            starts.extend(offsets)
            splits.append(len(chars))
        out = [np.array(splits, dtype=splits_type), np.array(chars, dtype=np.int32)]
        if with_offsets:
            out.append(np.array(starts, dtype=np.int64))
        return out

    return run


kernel_factory("UnicodeDecode", family="strings", dtypes=STRING, notes="UTF-8 input only")(
    lambda node: _unicode_decode(node, False)
)
kernel_factory("UnicodeDecodeWithOffsets", family="strings", dtypes=STRING, notes="UTF-8 input only")(
    lambda node: _unicode_decode(node, True)
)


@kernel_factory("UnicodeEncode", family="strings", dtypes=("int32",))
def _unicode_encode(node: NodeSpec) -> Any:
    errors = _attr_text(node, "errors", "replace")
    replacement = int(node.attrs.get("replacement_char", _UNICODE_REPLACEMENT))

    def run(ctx: Any, values: np.ndarray, splits: np.ndarray) -> np.ndarray:
        out = []
        for i in range(len(splits) - 1):
            chars = []
            for cp in values[int(splits[i]) : int(splits[i + 1])]:
                cp = int(cp)
                if 0 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
                    chars.append(chr(cp))
                elif errors == "strict":
                    fail(f"code point {cp} is not valid")
                elif errors == "replace":
                    chars.append(chr(replacement))
            out.append("".join(chars).encode("utf-8"))
        return object_array(out)

    return run


@kernel("UnicodeScript", family="strings", dtypes=("int32",))
def _unicode_script(ctx: Any, x: np.ndarray) -> np.ndarray:
    """ICU UScriptCode of each int32 code point (-1 outside 0..0x10FFFF), from a table derived
    from TensorFlow by tools/oracle/make_unicode_script_table.py."""
    from savedmodel.ops._unicode_script import CODES, STARTS

    points = np.asarray(x, dtype=np.int32)
    valid = (points >= 0) & (points <= 0x10FFFF)
    index = np.searchsorted(np.asarray(STARTS, dtype=np.int64), points, side="right") - 1
    codes = np.asarray(CODES, dtype=np.int32)[np.clip(index, 0, len(CODES) - 1)]
    return np.where(valid, codes, np.int32(-1)).astype(np.int32)


@kernel_factory("UnicodeTranscode", family="strings", dtypes=STRING, notes="UTF-8, UTF-16-BE, UTF-32-BE")
def _unicode_transcode(node: NodeSpec) -> Any:
    errors = _attr_text(node, "errors", "replace")
    replacement = int(node.attrs.get("replacement_char", _UNICODE_REPLACEMENT))
    replace_control = bool(node.attrs.get("replace_control_characters", False))
    src = _attr_text(node, "input_encoding", "UTF-8").upper().replace("-", "")
    dst = _attr_text(node, "output_encoding", "UTF-8").upper().replace("-", "")
    codecs = {"UTF8": "utf-8", "UTF16BE": "utf-16-be", "UTF32BE": "utf-32-be"}

    def one(b: bytes) -> bytes:
        if src == "UTF8":
            points, _ = _decode_codepoints(b, errors, replacement, replace_control)
            text = "".join(chr(p) for p in points)
        else:
            text = b.decode(codecs[src], "replace" if errors != "strict" else "strict")
        return text.encode(codecs[dst], "surrogatepass")

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if src not in codecs or dst not in codecs:
            fail(f"unsupported encoding: {src} -> {dst}")
        return str_map(one, x)

    return run


# --------------------------------------------------------------------------- base64


@kernel_factory("EncodeBase64", family="strings", dtypes=STRING)
def _encode_base64(node: NodeSpec) -> Any:
    pad = bool(node.attrs.get("pad", False))

    def one(b: bytes) -> bytes:
        out = base64.urlsafe_b64encode(b)
        return out if pad else out.rstrip(b"=")

    return lambda ctx, x: str_map(one, x)


@kernel("DecodeBase64", family="strings", dtypes=STRING)
def _decode_base64(ctx: Any, x: np.ndarray) -> np.ndarray:
    def one(b: bytes) -> bytes:
        stripped = b.rstrip(b"=")
        if len(stripped) % 4 == 1 or re.search(rb"[^A-Za-z0-9_\-]", stripped):
            fail("Invalid character found in base64.")
        try:
            return base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
        except (binascii.Error, ValueError):
            fail("Invalid character found in base64.")

    return str_map(one, x)


# --------------------------------------------------------------------------- hashing

_M64 = (1 << 64) - 1


def _f64(b: bytes, i: int) -> int:
    return struct.unpack_from("<Q", b, i)[0]


def _siphash24(key0: int, key1: int, data: bytes) -> int:
    v0 = key0 ^ 0x736F6D6570736575
    v1 = key1 ^ 0x646F72616E646F6D
    v2 = key0 ^ 0x6C7967656E657261
    v3 = key1 ^ 0x7465646279746573

    def rounds(v0: int, v1: int, v2: int, v3: int, n: int) -> tuple[int, int, int, int]:
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(data)
    full = n - n % 8
    for i in range(0, full, 8):
        m = _f64(data, i)
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    tail = data[full:] + b"\0" * (7 - n % 8)
    m = int.from_bytes(tail, "little") | ((n & 0xFF) << 56)
    v3 ^= m
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= m
    v2 ^= 0xFF
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _rotl(v: int, s: int) -> int:
    return ((v << s) | (v >> (64 - s))) & _M64


def _tf_hash64(data: bytes, seed: int = 0xDECAFCAFFE) -> int:
    """TensorFlow's legacy Hash64 (a MurmurHash2-64 variant), used by StringToHashBucket."""
    m = 0xC6A4A7935BD1E995
    n = len(data)
    h = (seed ^ (n * m)) & _M64
    full = n - n % 8
    for i in range(0, full, 8):
        k = (_f64(data, i) * m) & _M64
        k ^= k >> 47
        k = (k * m) & _M64
        h ^= k
        h = (h * m) & _M64
    rest = data[full:]
    if rest:
        for j in range(len(rest) - 1, -1, -1):
            h ^= rest[j] << (8 * j)
        h = (h * m) & _M64
    h ^= h >> 47
    h = (h * m) & _M64
    h ^= h >> 47
    return h


def _buckets(node: NodeSpec) -> int:
    n = int(node.attrs["num_buckets"])
    if n < 1:
        fail(f"num_buckets must be >= 1, got {n}")
    return n


@kernel_factory(
    "StringToHashBucketFast", family="strings", dtypes=STRING, notes="FarmHash Fingerprint64, bit-exact"
)
def _string_to_hash_bucket_fast(node: NodeSpec) -> Any:
    n = _buckets(node)
    return lambda ctx, x: str_map(lambda b: fingerprint64(b) % n, x, np.int64)


@kernel_factory("StringToHashBucketStrong", family="strings", dtypes=STRING, notes="SipHash-2-4, bit-exact")
def _string_to_hash_bucket_strong(node: NodeSpec) -> Any:
    n = _buckets(node)
    key = [int(k) for k in node.attrs["key"]]
    if len(key) != 2:
        raise_msg = "Key must have 2 elements"
    else:
        raise_msg = ""

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        if raise_msg:
            fail(raise_msg)
        return str_map(lambda b: _siphash24(key[0] & _M64, key[1] & _M64, b) % n, x, np.int64)

    return run


@kernel_factory("StringToHashBucket", family="strings", dtypes=STRING, notes="TensorFlow Hash64, bit-exact")
def _string_to_hash_bucket(node: NodeSpec) -> Any:
    n = _buckets(node)
    return lambda ctx, x: str_map(lambda b: _tf_hash64(b) % n, x, np.int64)


@kernel("Fingerprint", family="strings", dtypes=("all",), notes="farmhash64, bit-exact")
def _fingerprint(ctx: Any, data: np.ndarray, method: np.ndarray) -> np.ndarray:
    name = _scalar_string(method, "method")
    if name != b"farmhash64":
        fail(f"Unsupported fingerprint method: {name.decode('utf-8', 'replace')}")
    if data.ndim < 1:
        fail("data must have rank at least one")
    # Each row's Fingerprint64 as 8 little-endian bytes. A string row of one element is hashed
    # directly; longer rows hash the concatenation of their elements' little-endian fingerprints.
    # Other dtypes hash the row's raw little-endian bytes.
    rows = data.shape[0]
    out = np.zeros((rows, 8), dtype=np.uint8)
    for i in range(rows):
        row = data[i]
        if data.dtype.kind == "O":
            items = [to_bytes(v) for v in np.asarray(row, dtype=object).reshape(-1)]
            if len(items) == 1:
                fp = fingerprint64(items[0])
            else:
                combined = b"".join(struct.pack("<Q", fingerprint64(v)) for v in items)
                fp = fingerprint64(combined)
        else:
            fp = fingerprint64(np.ascontiguousarray(row).astype(row.dtype.newbyteorder("<")).tobytes())
        out[i] = np.frombuffer(struct.pack("<Q", fp), dtype=np.uint8)
    return out


# --------------------------------------------------------------------------- formatting, printing


def float_text(value: float, double: bool) -> str:
    """Shortest of %.6g / %.9g (float) or %.15g / %.17g (double) that reads back exactly."""
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    short, full = (15, 17) if double else (6, 9)
    text = f"{value:.{short}g}"
    same = float(text) == value if double else np.float32(float(text)) == np.float32(value)
    return text if same else f"{value:.{full}g}"


def _format_scalar(v: Any, dtype: np.dtype) -> str:
    if dtype.kind == "O":
        return '"' + to_bytes(v).decode("utf-8", "replace") + '"'
    if dtype == np.bool_:
        return "1" if v else "0"
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return float_text(float(v), dtype.itemsize == 8)
    return str(int(v)) if dtype.kind in "iu" else str(v)


def summarize(x: np.ndarray, limit: int = 3) -> str:
    """TensorFlow's summary of a tensor's values, as tf.print / StringFormat print them."""
    x = np.asarray(x)
    if x.ndim == 0:
        return _format_scalar(x[()], x.dtype)

    def render(a: np.ndarray, depth: int) -> str:
        n = a.shape[0]
        if limit >= 0 and n > 2 * limit:
            idx: list[int | None] = list(range(limit)) + [None] + list(range(n - limit, n))
        else:
            idx = list(range(n))
        if a.ndim == 1:
            parts = ["..." if i is None else _format_scalar(a[i], x.dtype) for i in idx]
            return "[" + " ".join(parts) + "]"
        sep = "\n" * (a.ndim - 1) + " " * (depth + 1)
        parts = ["..." if i is None else render(a[i], depth + 1) for i in idx]
        return "[" + sep.join(parts) + "]"

    return render(x, 0)


@kernel_factory("StringFormat", family="strings", dtypes=("all",))
def _string_format(node: NodeSpec) -> Any:
    template = _attr_text(node, "template", "%s")
    placeholder = _attr_text(node, "placeholder", "%s")
    limit = int(node.attrs.get("summarize", 3))

    def run(ctx: Any, *inputs: np.ndarray) -> np.ndarray:
        pieces = template.split(placeholder)
        if len(pieces) - 1 != len(inputs):
            fail(
                f"num placeholders in template and num inputs must match: {len(pieces) - 1} vs. {len(inputs)}"
            )
        out = pieces[0]
        for value, piece in zip(inputs, pieces[1:], strict=True):
            out += summarize(value, limit) + piece
        return np.array(out.encode("utf-8"), dtype=object)

    return run


@kernel_factory(
    "PrintV2",
    family="strings",
    side_effects=True,
    dtypes=STRING,
    notes="stdout/stderr/log streams; file:// outputs need allow_file_access (policy)",
)
def _print_v2(node: NodeSpec) -> Any:
    # Prints to the process's stdout or stderr (TF's log(...) streams go to stderr too). A
    # "file://<path>" stream appends to that file, a file op: the policy refuses it unless file
    # access is allowed (savedmodel.policy.refuses).
    stream = _attr_text(node, "output_stream", "stderr")
    end = _attr_text(node, "end", "\n")
    path = stream[len(PRINT_FILE_PREFIX) :] if stream.startswith(PRINT_FILE_PREFIX) else None

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        text = _scalar_string(x, "input").decode("utf-8", "replace") + end
        if path is not None:
            _print_to_file(ctx, path, text)
        elif stream in PRINT_STREAMS:
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(text)
            target.flush()
        else:
            fail(f"Unknown output stream: {stream}; valid streams are {', '.join(sorted(PRINT_STREAMS))}")
        return []

    return run


def _print_to_file(ctx: Any, path: str, text: str) -> None:
    policy = getattr(getattr(ctx, "runtime", None), "policy", None)
    if policy is None or not policy.allow_file_access:
        raise PolicyError(
            f"PrintV2 to file://{path} touches the file system; pass allow_file_access=True to allow it"
        )
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail(f"PrintV2 cannot append to {path}: {exc.strerror or exc}")


@kernel_factory("Print", family="strings", side_effects=True, dtypes=("all",))
def _print_v1(node: NodeSpec) -> Any:
    message = _attr_text(node, "message", "")
    first_n = int(node.attrs.get("first_n", -1))
    limit = int(node.attrs.get("summarize", 3))
    count = [0]

    def run(ctx: Any, x: np.ndarray, *data: np.ndarray) -> np.ndarray:
        if first_n < 0 or count[0] < first_n:
            count[0] += 1
            sys.stderr.write(message + "".join(summarize(d, limit) for d in data) + "\n")
        return x

    return run


@kernel_factory(
    "Assert",
    family="strings",
    side_effects=True,
    dtypes=("all",),
    notes="raises ExecutionError when the condition is false",
)
def _assert(node: NodeSpec) -> Any:
    limit = int(node.attrs.get("summarize", 3))

    def run(ctx: Any, condition: np.ndarray, *data: np.ndarray) -> list[np.ndarray]:
        if np.ndim(condition) != 0:
            fail(f"In[0] should be a scalar: {shape_str(np.shape(condition))}")
        if not bool(condition[()]):
            shown = "\n".join(summarize(d, limit) for d in data)
            fail(f"assertion failed: {shown}")
        return []

    return run


# --------------------------------------------------------------------------- ngrams


@kernel_factory("StringNGrams", family="strings", dtypes=STRING)
def _string_ngrams(node: NodeSpec) -> Any:
    separator = to_bytes(node.attrs.get("separator", b" "))
    widths = [int(w) for w in node.attrs["ngram_widths"]]
    left_pad = to_bytes(node.attrs.get("left_pad", b""))
    right_pad = to_bytes(node.attrs.get("right_pad", b""))
    pad_width = int(node.attrs.get("pad_width", 0))
    preserve = bool(node.attrs.get("preserve_short_sequences", False))

    def run(ctx: Any, data: np.ndarray, splits: np.ndarray) -> list[np.ndarray]:
        out: list[bytes] = []
        out_splits = [0]
        split_list = int_list(splits, "data_splits")
        for i in range(len(split_list) - 1):
            tokens = [to_bytes(t) for t in data[split_list[i] : split_list[i + 1]]]
            row: list[bytes] = []
            for w in widths:
                pad = min(pad_width if pad_width >= 0 else w - 1, w - 1)
                seq = [left_pad] * pad + tokens + [right_pad] * pad
                for start in range(0, len(seq) - w + 1):
                    row.append(separator.join(seq[start : start + w]))
            if preserve and not row and tokens:
                pad = min(pad_width if pad_width >= 0 else 0, 0)
                row.append(separator.join([left_pad] * 0 + tokens))
            out.extend(row)
            out_splits.append(len(out))
        return [object_array(out), np.array(out_splits, dtype=splits.dtype)]

    return run


@kernel_factory("UnsortedSegmentJoin", family="strings", dtypes=STRING)
def _unsorted_segment_join(node: NodeSpec) -> Any:
    separator = to_bytes(node.attrs.get("separator", b"") or b"")

    def run(ctx: Any, inputs: np.ndarray, segment_ids: np.ndarray, num_segments: np.ndarray) -> np.ndarray:
        num = scalar_int(num_segments, "num_segments")
        if inputs.shape[: segment_ids.ndim] != segment_ids.shape:
            fail(
                f"segment_ids.shape = {shape_str(segment_ids.shape)} must be a prefix of input.shape = "
                f"{shape_str(inputs.shape)}"
            )
        inner = inputs.shape[segment_ids.ndim :]
        flat_ids = segment_ids.reshape(-1).astype(np.int64)
        rows = np.asarray(inputs, dtype=object).reshape((flat_ids.size,) + inner)
        if flat_ids.size and (flat_ids.max() >= num or flat_ids.min() < 0):
            fail("segment_ids are not allowed to exceed num_segments or to have negative values.")
        parts: list[list[Any]] = [[] for _ in range(num)]
        for i, sid in enumerate(flat_ids):
            if sid >= 0:
                parts[sid].append(np.asarray(rows[i], dtype=object))
        out = np.empty((num,) + inner, dtype=object)
        for k in range(num):
            for idx in np.ndindex(*inner):
                out[(k,) + idx] = separator.join(to_bytes(r[idx]) for r in parts[k])
        return out

    return run


__all__ = ["compile_re2", "fingerprint64", "summarize", "scalar_int"]
