"""Regex kernels on RE2, FarmHash kernels on pyfarmhash, SciPy-backed kernels without SciPy.

Expected values are what TensorFlow 2.21 returned for the same calls (tools/oracle/.venv, run by
hand when these tests were written): the goldens in tests/fixtures/kernels cover the usual cases,
these pin down the engine's corner cases.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import savedmodel.ops.math as math_ops
from savedmodel.errors import ExecutionError, LimitExceededError
from savedmodel.format import farmhash, fingerprint
from savedmodel.ops import strings
from savedmodel.ops.registry import Attrs, NodeSpec, lookup
from savedmodel.policy import Limits, using_limits
from savedmodel.proto import attr_value_pb2


def _node(op: str, **attrs: object) -> NodeSpec:
    amap = {}
    for name, value in attrs.items():
        av = attr_value_pb2.AttrValue()
        if isinstance(value, bool):
            av.b = value
        elif isinstance(value, int):
            av.i = value
        else:
            av.s = value.encode() if isinstance(value, str) else value
        amap[name] = av
    return NodeSpec(name="n", op=op, attrs=Attrs(amap), num_inputs=0)


def _strings(*values: str | bytes) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v.encode() if isinstance(v, str) else v for v in values]
    return out


def _scalar(value: str) -> np.ndarray:
    return np.array(value.encode(), dtype=object)


def _replace(text: str | bytes, pattern: str, rewrite: str, replace_global: bool = True) -> bytes:
    run = lookup("RegexReplace").prepare(_node("RegexReplace", replace_global=replace_global))
    return run(None, _strings(text), _scalar(pattern), _scalar(rewrite))[0]


# --------------------------------------------------------------------------- regex: RE2 semantics

# (input, pattern, rewrite, replace_global, TensorFlow's output)
TF_REPLACE_CASES = [
    ("abxd", "x*", "-", True, "-a-b-d-"),  # no empty match right after a match (Python's re differs)
    ("abxd", "x*", "-", False, "-abxd"),
    ("héllo", "", "-", True, "-h-é-l-l-o-"),  # steps over whole UTF-8 characters
    ("aaa", "^a", "X", True, "Xaa"),
    ("hello world", r"(\w+) (\w+)", r"\2 \1 [\0] \\", True, "world hello [hello world] \\"),
    ("hello", "(l)", r"\2", True, "hello"),  # names a group the pattern lacks: unchanged
    ("hello", "(l)", r"<\a>", True, "he<<o"),  # bad escape: what precedes it, per match
    ("hello", "(l)", r"<\a>", False, "hello"),
    ("hello", "(l)", "x\\", True, "hexxo"),
    ("ÀB\u00e9", r"\w", "_", True, "À_é"),  # \w is ASCII-only
    ("ÀB", r"\pL", "_", True, "__"),
    ("ÀB", "(?i)b", "_", True, "À_"),
    ("abc", r"c\z", "Z", True, "abZ"),
    ("a\nb\n", "$", "E", True, "a\nb\nE"),
    ("a\nb", "(?m)^", "S", True, "Sa\nSb"),
    ("日本語", ".", "x", False, "x本語"),
    ("aXbXc", "X", r"\0\0", True, "aXXbXXc"),
]


@pytest.mark.parametrize("case", TF_REPLACE_CASES, ids=lambda c: f"{c[1]!r}->{c[2]!r},{c[3]}")
def test_regex_replace_matches_tensorflow(case: tuple) -> None:
    text, pattern, rewrite, replace_global, expected = case
    assert _replace(text, pattern, rewrite, replace_global) == expected.encode()


def test_regex_on_invalid_utf8_bytes_matches_tensorflow() -> None:
    assert _replace(b"\xff\xfeab", ".", "x") == b"\xff\xfexx"  # invalid bytes are not characters
    assert _replace(b"a\xc3", ".", "x") == b"x\xc3"
    assert _replace(b"\xffab", "", "-") == b"-\xff-a-b-"


def test_catastrophic_backtracking_pattern_is_linear() -> None:
    """`(a+)+$` backtracks exponentially in Python's re; RE2 answers at once, as TensorFlow does."""
    long_b, long_a = "a" * 50_000 + "b", "a" * 50_000
    start = time.perf_counter()
    full = lookup("StaticRegexFullMatch").prepare(_node("StaticRegexFullMatch", pattern="(a+)+$"))
    assert full(None, _strings(long_b, long_a)).tolist() == [False, True]
    assert _replace(long_b, "(a+)+$", "X") == long_b.encode()
    assert _replace(long_a, "(a+)+$", "X") == b"X"
    static = lookup("StaticRegexReplace").prepare(
        _node("StaticRegexReplace", pattern="(x*)*z", rewrite="Q", replace_global=True)
    )
    assert static(None, _strings("x" * 20_000 + "y"))[0] == b"x" * 20_000 + b"y"
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "pattern, error",
    [
        ("(a", "missing ): (a"),
        ("a**", "bad repetition operator: **"),
        (r"\1", r"invalid escape sequence: \1"),
        ("(?<n>a)", "invalid perl operator: (?<"),  # newer RE2 accepts it, TensorFlow's does not
        ("a{1001}", "invalid repetition size: {1001}"),
    ],
)
def test_invalid_pattern_fails_at_prepare_with_tensorflows_message(pattern: str, error: str) -> None:
    for op in ("StaticRegexFullMatch", "StaticRegexReplace"):
        with pytest.raises(ExecutionError) as info:
            lookup(op).prepare(_node(op, pattern=pattern, rewrite=""))
        assert str(info.value) == f"Invalid pattern: {pattern}, error: {error}"
    with pytest.raises(ExecutionError, match="Invalid pattern"):
        lookup("RegexFullMatch").prepare(_node("RegexFullMatch"))(None, _strings("a"), _scalar(pattern))


def test_angle_bracket_check_leaves_literal_uses_alone() -> None:
    for pattern in (r"\(?<n", "[(?<]"):
        strings.compile_re2(pattern.encode())


# --------------------------------------------------------------------------- FarmHash


def test_one_farmhash_for_kernels_and_fingerprint_pb() -> None:
    assert strings.fingerprint64 is farmhash.fingerprint64
    assert fingerprint.fingerprint64 is farmhash.fingerprint64
    assert farmhash.fingerprint64(bytearray(b"hello")) == 13009744463427800296


def test_string_to_hash_bucket_fast_matches_tensorflow() -> None:
    run = lookup("StringToHashBucketFast").prepare(_node("StringToHashBucketFast", num_buckets=1 << 62))
    got = run(None, _strings(b"", b"hello", b"x" * 100))
    assert got.dtype == np.int64
    assert got.tolist() == [1936946117179621455, 3786372426573024488, 1978794067220662815]


def test_fingerprint_layout_matches_tensorflow() -> None:
    """8 little-endian bytes per row; a row of one string is hashed once, whatever the rank."""
    run = lookup("Fingerprint").prepare(_node("Fingerprint"))
    method = _scalar("farmhash64")
    one = [[227, 117, 223, 182, 101, 66, 69, 179], [119, 129, 82, 223, 68, 160, 90, 83]]
    for shape in [(2,), (2, 1), (2, 1, 1)]:
        got = run(None, _strings("a", "bc").reshape(shape), method)
        assert got.dtype == np.uint8 and got.tolist() == one
    two = run(None, _strings("a", "x", "bc", "").reshape(2, 2), method)
    assert two.tolist() == [[236, 170, 160, 22, 11, 11, 109, 219], [207, 18, 33, 101, 168, 43, 162, 141]]


# --------------------------------------------------------------------------- SciPy, optional


@pytest.fixture
def no_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(math_ops, "_scipy_special", lambda: None)


@pytest.mark.parametrize("op", ["Igamma", "Zeta", "Betainc", "BesselI0e", "Erfinv", "Digamma"])
def test_scipy_kernels_fail_at_prepare_naming_the_extra(no_scipy: None, op: str) -> None:
    with pytest.raises(ExecutionError, match=r"needs SciPy.*savedmodel\[special\]"):
        lookup(op).prepare(_node(op))


def test_erf_erfc_lgamma_need_no_scipy(no_scipy: None) -> None:
    x = np.array([-2.5, -0.5, 0.0, 0.5, 1.5, 3.7, np.nan], dtype=np.float32)
    expected = {  # TensorFlow's float32 outputs
        "Erf": [-0.99959296, -0.5204999, 0.0, 0.5204999, 0.9661051, 0.99999994, np.nan],
        "Erfc": [1.999593, 1.5205, 1.0, 0.4795001, 0.03389485, 1.6715099e-07, np.nan],
    }
    for op, want in expected.items():
        got = lookup(op).prepare(_node(op))(None, x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, np.array(want, np.float32), rtol=1e-5, equal_nan=True)
    lgamma = lookup("Lgamma").prepare(_node("Lgamma"))(None, np.array([0.5, 1.0, 10.0, -1.0], np.float32))
    np.testing.assert_allclose(lgamma, [0.5723649, 0.0, 12.801827, np.inf], rtol=1e-5)


def test_global_rewrite_growth_is_bounded_by_max_string_length() -> None:
    with using_limits(Limits(max_string_length=1000)):
        assert len(_replace("a" * 100, "", "01234567")) == 100 + 101 * 8
        with pytest.raises(LimitExceededError, match="RegexReplace"):
            _replace("a" * 100, "", "x" * 20)
