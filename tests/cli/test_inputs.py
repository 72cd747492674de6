"""--inputs / --input_exprs / --input_examples parsing (savedmodel.cli.inputs).

Expected values for valid expressions are what TF's old `eval(expr)` (with
NumPy as np) returned, written here as the same NumPy calls; the random
constructors are checked against a RandomState seeded with 0, shared in order.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from savedmodel.cli import expressions, inputs
from savedmodel.errors import InvalidInputError, LimitExceededError, PolicyError
from savedmodel.format import dtypes
from savedmodel.proto import example_pb2

DT = dtypes.DT

# --------------------------------------------------------------------------- expressions

VALID_EXPRESSIONS = [
    ("10", 10),
    ("-3", -3),
    ("+2.5", 2.5),
    ("1.5e3", 1500.0),
    ("-1e-3", -0.001),
    ("1+2j", 1 + 2j),
    ("'abc'", "abc"),
    ('b"\\x00x"', b"\x00x"),
    ("True", True),
    ("None", None),
    ("[1, -2, 3.5]", [1, -2, 3.5]),
    ("[[1, 2], [3, 4]]", [[1, 2], [3, 4]]),
    ("(1,)", (1,)),
    ("()", ()),
    ("{'a': [1], 2: 'b'}", {"a": [1], 2: "b"}),
    ("['x', b'y']", ["x", b"y"]),
    ("2 * 3 - 1", 5),
    ("10 ** 9", 10**9),
    ("7 / 2", 3.5),
    ("np.ones(2)", np.ones(2)),
    ("numpy.zeros((2, 3))", np.zeros((2, 3))),
    ("np.ones((2, 3), dtype=np.float32)", np.ones((2, 3), dtype=np.float32)),
    ("np.zeros([4], dtype='int64')", np.zeros([4], dtype="int64")),
    ("np.zeros(3, dtype=int)", np.zeros(3, dtype=int)),
    ("np.full((2, 2), 7)", np.full((2, 2), 7)),
    ("np.full(3, -1.5, dtype=np.float32)", np.full(3, -1.5, dtype=np.float32)),
    ("np.arange(5)", np.arange(5)),
    ("np.arange(1, 10, 3)", np.arange(1, 10, 3)),
    ("np.arange(0.0, 1.0, 0.25)", np.arange(0.0, 1.0, 0.25)),
    ("np.arange(10, 0, -3)", np.arange(10, 0, -3)),
    ("np.arange(6, dtype=np.float32).reshape(2, 3)", np.arange(6, dtype=np.float32).reshape(2, 3)),
    ("np.arange(6).reshape((3, -1))", np.arange(6).reshape((3, -1))),
    ("np.linspace(0, 1, 5)", np.linspace(0, 1, 5)),
    ("np.linspace(0, 1, num=4, endpoint=False)", np.linspace(0, 1, num=4, endpoint=False)),
    ("np.eye(3)", np.eye(3)),
    ("np.eye(2, 3, k=1, dtype=np.int32)", np.eye(2, 3, k=1, dtype=np.int32)),
    ("np.identity(2)", np.identity(2)),
    ("np.array([[1, 2], [3, 4]], dtype=np.int8)", np.array([[1, 2], [3, 4]], dtype=np.int8)),
    ("np.asarray([1.5, 2])", np.asarray([1.5, 2])),
    ("np.array(['a', 'bc'])", np.array(["a", "bc"])),
    ("np.array([1, 2]).astype(np.float16)", np.array([1, 2]).astype(np.float16)),
    ("np.array([[1, 2, 3]]).T", np.array([[1, 2, 3]]).T),
    ("np.ones_like([[1, 2]])", np.ones_like([[1, 2]])),
    ("np.zeros_like([1.5, 2.5], dtype=np.int64)", np.zeros_like([1.5, 2.5], dtype=np.int64)),
    ("np.full_like([1, 2, 3], 9)", np.full_like([1, 2, 3], 9)),
    ("np.float32(1.5)", np.float32(1.5)),
    ("np.int64(-7)", np.int64(-7)),
    ("np.float32([1, 2])", np.float32([1, 2])),
    ("np.uint8(255)", np.uint8(255)),
    ("np.bool_(1)", np.bool_(1)),
    ("-np.ones(2) * 3 + 1", -np.ones(2) * 3 + 1),
    ("np.ones((2, 1)) + np.arange(3)", np.ones((2, 1)) + np.arange(3)),
    ("np.pi", np.pi),
    ("[np.inf, -np.inf]", [np.inf, -np.inf]),
    ("  np.ones(1)", np.ones(1)),
]


@pytest.mark.parametrize("text, expected", VALID_EXPRESSIONS, ids=[t for t, _ in VALID_EXPRESSIONS])
def test_valid_expressions_match_numpy(text, expected):
    value = expressions.evaluate_expression(text, "k")
    if isinstance(expected, np.ndarray | np.generic):
        assert type(value) is type(expected)
        assert np.asarray(value).dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(value, expected)
    else:
        assert value == expected
        assert type(value) is type(expected)


def test_nan_constant():
    assert np.isnan(expressions.evaluate_expression("np.nan"))


def test_random_constructors_are_seeded_in_order():
    values = inputs.parse_input_exprs(
        "a=np.random.rand(2, 3);b=np.random.randn(4);c=np.random.randint(0, 10, size=(5,));"
        "d=np.random.random((2,));e=np.random.uniform(-1, 1, size=3);f=np.random.normal(0, 2, 2)"
    )
    rng = np.random.RandomState(expressions.RANDOM_SEED)
    np.testing.assert_array_equal(values["a"], rng.rand(2, 3))
    np.testing.assert_array_equal(values["b"], rng.randn(4))
    np.testing.assert_array_equal(values["c"], rng.randint(0, 10, size=(5,)))
    np.testing.assert_array_equal(values["d"], rng.random_sample((2,)))
    np.testing.assert_array_equal(values["e"], rng.uniform(-1, 1, size=3))
    np.testing.assert_array_equal(values["f"], rng.normal(0, 2, 2))
    # Same command line, same values.
    again = inputs.parse_input_exprs("a=np.random.rand(2, 3)")
    np.testing.assert_array_equal(again["a"], values["a"])


HOSTILE = [
    ("__import__('os')", "call to '__import__'"),
    ("__import__('os').system('true')", "'system'"),
    ("np.load('x')", "call to 'np.load'"),
    ("numpy.save('x', 1)", "call to 'np.save'"),
    ("np.fromfile('/etc/passwd')", "np.fromfile"),
    ("np.lib.npyio.load('x')", "np.lib.npyio.load"),
    ("np.ctypeslib", "np.ctypeslib"),
    ("().__class__", "'__class__'"),
    ("().__class__.__bases__[0].__subclasses__()", "'__subclasses__'"),
    ("np.ones(3).__class__", "'__class__'"),
    ("np.ones(3).tofile('x')", "'tofile'"),
    ("np.ones(3).dump('x')", "'dump'"),
    ("np.__dict__", "np.__dict__"),
    ("open('/etc/passwd')", "call to 'open'"),
    ("eval('1')", "call to 'eval'"),
    ("os", "name 'os'"),
    ("x", "name 'x'"),
    ("np", "name 'np'"),
    ("[x for x in range(3)]", "list comprehension"),
    ("{x: 1 for x in 'ab'}", "dict comprehension"),
    ("(x for x in [])", "generator expression"),
    ("lambda: 1", "lambda"),
    ("[1, 2][0]", "subscript"),
    ("f'{1}'", "f-string"),
    ("1 if True else 2", "conditional expression"),
    ("1 < 2", "comparison"),
    ("(y := 3)", "assignment expression"),
    ("'a' * 10", "Mult on str"),
    ("[0] * 10", "Mult on list"),
    ("not True", "operator Not"),
    ("1 << 100", "operator LShift"),
    ("np.ones(*[3])", "'*' or '**'"),
    ("np.ones(2, dtype=object)", "name 'object'"),
    ("np.ones(2, dtype='O')", "dtype 'O'"),
    ("np.array([1], dtype=np.object_)", "np.object_"),
    ("...", "'...'"),
    ("getattr(np, 'load')('x')", "call of a computed value"),
    ("getattr(np, 'load')", "call to 'getattr'"),
    ("(lambda: 0)()", "call of a computed value"),
]


@pytest.mark.parametrize("text, construct", HOSTILE, ids=[t for t, _ in HOSTILE])
def test_hostile_expressions_are_refused_naming_key_and_construct(text, construct):
    with pytest.raises(InvalidInputError) as info:
        inputs.parse_input_exprs(f"the_key={text}")
    message = str(info.value)
    assert "the_key" in message
    assert construct in message


HUGE = [
    "np.ones(10 ** 9)",
    "np.zeros((100000, 100000))",
    "np.full((10000, 10000, 10), 1)",
    "np.arange(1e12)",
    "np.arange(0, 1, 1e-12)",
    "np.linspace(0, 1, 10 ** 9)",
    "np.eye(100000)",
    "np.identity(20000)",
    "np.random.rand(100000, 100000)",
    "np.random.randint(0, 2, size=(10 ** 5, 10 ** 5))",
    "np.ones((10 ** 5, 1)) * np.ones((1, 10 ** 5))",
    "9 ** 9 ** 9",
]


@pytest.mark.parametrize("text", HUGE)
def test_huge_arrays_are_refused_before_allocation(text):
    with pytest.raises(LimitExceededError, match="k"):
        inputs.parse_input_exprs(f"k={text}")


BAD_ARGUMENTS = [
    "np.ones(-1)",
    "np.ones('a')",
    "np.ones((2, 2.5))",
    "np.ones(True)",
    "np.arange(0, 5, 0)",
    "np.arange('a')",
    "np.linspace(0, 1, -2)",
    "np.full(2)",
    "np.full(2, [1, 2])",
    "np.ones(2, color=3)",
    "np.array([[1], [1, 2]])",
    "np.arange(6).reshape(4, 4)",
    "np.arange(6).reshape('a')",
    "np.float32('x')",
    "1 / 0",
    "np.ones(2) + np.ones(3)",
    "[1, 2",
    "",
    "1; import os",
]


@pytest.mark.parametrize("text", BAD_ARGUMENTS)
def test_bad_arguments_are_one_clean_error(text):
    with pytest.raises(InvalidInputError, match="--input_exprs"):
        inputs.parse_input_exprs(f"k={text}")


def test_deep_nesting_is_a_clean_error():
    with pytest.raises(InvalidInputError):
        inputs.parse_input_exprs("k=" + "[" * 5000 + "]" * 5000)


def test_overlong_expression_is_refused():
    with pytest.raises(LimitExceededError):
        expressions.evaluate_expression("1" * (expressions.MAX_EXPRESSION_CHARS + 1))


def test_parse_input_exprs_splits_keys_and_keeps_equals_in_values():
    values = inputs.parse_input_exprs("a=1; b = 'x=y' ;;c=[1,2]")
    assert values == {"a": 1, "b": "x=y", "c": [1, 2]}


@pytest.mark.parametrize("text", ["novalue", "=3"])
def test_malformed_input_exprs(text):
    with pytest.raises(InvalidInputError, match="--input_exprs"):
        inputs.parse_input_exprs(text)


# --------------------------------------------------------------------------- --inputs


def test_parse_inputs_arg_matches_tf_syntax():
    parsed = inputs.parse_inputs_arg("a=x.npy;b=y.npz[v];;c=d=e.npy")
    assert parsed == {"a": ("x.npy", None), "b": ("y.npz", "v"), "c": ("d=e.npy", None)}


@pytest.mark.parametrize("text", ["noequals", "a=x.npz[v", "a=x[1][2]", "=x.npy"])
def test_parse_inputs_arg_rejects_bad_format(text):
    with pytest.raises(InvalidInputError, match="format is incorrect"):
        inputs.parse_inputs_arg(text)


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6, dtype=np.int16).reshape(2, 3))
    np.savez(tmp_path / "two.npz", x=np.ones(2, np.float32), y=np.array([b"s"]))
    np.savez(tmp_path / "one.npz", only=np.array([1.5]))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", o=np.array([None], dtype=object))
    with open(tmp_path / "data.pkl", "wb") as handle:
        pickle.dump({"v": np.array([4, 5])}, handle)
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04garbage")
    return tmp_path


def test_npy_and_npz_inputs(files):
    warnings: list[str] = []
    feeds = inputs.load_input_files(
        inputs.parse_inputs_arg(
            f"a={files}/a.npy;b={files}/two.npz[x];c={files}/one.npz;d={files}/two.npz[y];e={files}/a.npy[zzz]"
        ),
        warn=warnings.append,
    )
    np.testing.assert_array_equal(feeds["a"], np.arange(6, dtype=np.int16).reshape(2, 3))
    assert feeds["a"].dtype == np.int16
    np.testing.assert_array_equal(feeds["b"], np.ones(2, np.float32))
    np.testing.assert_array_equal(feeds["c"], [1.5])
    assert feeds["d"].tolist() == [b"s"]
    np.testing.assert_array_equal(feeds["e"], feeds["a"])
    assert warnings == [f'Input file {files}/a.npy contains a single ndarray. Name key "zzz" ignored.']


def test_npz_needs_a_name_when_it_holds_several(files):
    with pytest.raises(InvalidInputError, match="more than one ndarrays"):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={files}/two.npz"))


def test_npz_unknown_name(files):
    with pytest.raises(InvalidInputError, match='does not contain variable with name "nope"'):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={files}/two.npz[nope]"))


@pytest.mark.parametrize("name", ["data.pkl", "obj.npy", "obj.npz[o]"])
def test_pickles_are_refused_by_default(files, name):
    with pytest.raises(PolicyError, match="--allow_pickle"):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={files}/{name}"))


def test_pickles_load_with_allow_pickle(files):
    feeds = inputs.load_input_files(
        inputs.parse_inputs_arg(f"a={files}/data.pkl[v];b={files}/obj.npy;c={files}/data.pkl"),
        allow_pickle=True,
    )
    np.testing.assert_array_equal(feeds["a"], [4, 5])
    assert feeds["b"][0] == {"a": 1}
    assert set(feeds["c"]) == {"v"}


def test_pickle_without_the_named_variable(files):
    with pytest.raises(InvalidInputError, match='variable with name "w"'):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={files}/data.pkl[w]"), allow_pickle=True)


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing.npy", "does not exist"),
        ("junk.npy", "not a readable .npy"),
        ("junk.npz", "not a readable .npz"),
    ],
)
def test_unreadable_files(files, name, message):
    with pytest.raises(InvalidInputError, match=message):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={files}/{name}"))


def test_directory_input(files):
    with pytest.raises(InvalidInputError, match="directory"):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={files}"))


def test_npy_header_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    np.save(tmp_path / "big.npy", np.zeros(1000))
    monkeypatch.setattr(inputs, "MAX_ELEMENTS", 100)
    with pytest.raises(LimitExceededError, match="1000 elements"):
        inputs.load_input_files(inputs.parse_inputs_arg(f"a={tmp_path}/big.npy"))


# --------------------------------------------------------------------------- --input_examples


def _parse_example(data: bytes) -> dict:
    example = example_pb2.Example.FromString(data)
    result = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        result[name] = (kind, list(getattr(feature, kind).value))
    return result


def test_input_examples_build_tf_examples():
    feeds = inputs.parse_input_examples(
        'inputs=[{"f": [1.0, 2], "i": [3, -4], "s": ["a", "é"], "b": [b"\\x00"], "t": [1]}, {}];'
        'other=[{"x": [1]}]'
    )
    assert set(feeds) == {"inputs", "other"}
    batch = feeds["inputs"]
    assert batch.dtype == object and batch.shape == (2,)
    first = _parse_example(batch[0])
    assert first["f"][0] == "float_list" and first["f"][1] == [1.0, 2.0]
    assert first["i"] == ("int64_list", [3, -4])
    assert first["s"] == ("bytes_list", [b"a", "é".encode()])
    assert first["b"] == ("bytes_list", [b"\x00"])
    assert first["t"] == ("int64_list", [1])
    assert _parse_example(batch[1]) == {}
    assert _parse_example(feeds["other"][0]) == {"x": ("int64_list", [1])}


def test_input_examples_match_tensorflows_serialization():
    # Bytes TF's saved_model_cli._create_example_string produced for {"a": [1.5], "b": [2], "c": ["x"]}
    # (field order aside): features { feature { key: "a" value { float_list { value: 1.5 } } } ... }
    data = inputs.make_example({"a": [1.5], "b": [2], "c": ["x"]})
    expected = example_pb2.Example()
    expected.features.feature["a"].float_list.value.append(1.5)
    expected.features.feature["b"].int64_list.value.append(2)
    expected.features.feature["c"].bytes_list.value.append(b"x")
    assert example_pb2.Example.FromString(data) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ('k={"f": [1.0]}', "must be a list of dictionaries"),
        ("k=[1, 2]", "must be a list of dictionaries"),
        ('k=[{"f": 1.0}]', "feature value must be a list"),
        ('k=[{"f": []}]', "empty value list"),
        ('k=[{"f": [None]}]', "not supported"),
        ('k=[{"f": [True]}]', "values of type bool"),
        ('k=[{"f": [1, True]}]', "type of the first"),
        ('k=[{"f": [1, 2.5]}]', "type of the first"),
        ('k=[{"f": [1.0, "a"]}]', "type of the first"),
        ('k=[{"f": [1180591620717411303424]}]', "type of the first"),
        ("k=[{1: [1]}]", "must be a string"),
        ("k=[{'f': np.ones(2)}]", "not a valid Python literal"),
        ("k=[{'f': __import__('os')}]", "not a valid Python literal"),
    ],
)
def test_bad_input_examples(text, message):
    with pytest.raises(InvalidInputError, match=message):
        inputs.parse_input_examples(text)


# --------------------------------------------------------------------------- precedence


def test_precedence_examples_over_exprs_over_files(files):
    warnings: list[str] = []
    feeds = inputs.build_feed_dict(
        inputs=f"a={files}/a.npy;b={files}/one.npz;c={files}/one.npz",
        input_exprs="b=[9];c=[8]",
        input_examples='c=[{"z": [1]}]',
        warn=warnings.append,
    )
    assert feeds["a"].dtype == np.int16
    assert feeds["b"] == [9]
    assert isinstance(feeds["c"], np.ndarray) and feeds["c"].dtype == object
    assert warnings == [
        "input_key b has been specified with both --inputs and --input_exprs options. "
        "Value in --input_exprs will be used.",
        "input_key c has been specified with both --inputs and --input_exprs options. "
        "Value in --input_exprs will be used.",
        "input_key c has been specified in multiple options. Value in --input_examples will be used.",
    ]


# --------------------------------------------------------------------------- coerce_feed


@pytest.mark.parametrize(
    "value, dtype, shape, expected",
    [
        (10, DT.DT_FLOAT, (), np.array(10.0, np.float32)),
        ([10], DT.DT_FLOAT, (-1,), np.array([10.0], np.float32)),
        (1.7, DT.DT_INT32, (), np.array(1, np.int32)),
        (np.arange(4.0).reshape(2, 2), DT.DT_FLOAT, (-1, 2), np.arange(4, dtype=np.float32).reshape(2, 2)),
        (np.array([7], np.int32), DT.DT_INT64, (None,), np.array([7], np.int64)),
        ([True, False], DT.DT_BOOL, (2,), np.array([True, False])),
        ([[1, 2]], DT.DT_DOUBLE, None, np.array([[1.0, 2.0]])),
        (1 + 2j, DT.DT_COMPLEX64, (), np.array(1 + 2j, np.complex64)),
    ],
)
def test_coerce_feed_numeric(value, dtype, shape, expected):
    shape = None if shape is None else tuple(-1 if d is None else d for d in shape)
    array = inputs.coerce_feed("k", value, dtype, shape)
    assert array.dtype == expected.dtype
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", np.array(b"abc", dtype=object)),
        (["a", b"b"], np.array([b"a", b"b"], dtype=object)),
        (np.array(["x", "yz"]), np.array([b"x", b"yz"], dtype=object)),
        (np.array([b"x"]), np.array([b"x"], dtype=object)),
        ([["é"]], np.array([["é".encode()]], dtype=object)),
    ],
)
def test_coerce_feed_strings(value, expected):
    array = inputs.coerce_feed("k", value, DT.DT_STRING, None)
    assert array.dtype == object and array.shape == expected.shape
    assert array.tolist() == expected.tolist()


@pytest.mark.parametrize(
    "value, dtype, shape, message",
    [
        ("abc", DT.DT_FLOAT, (), "expects float32 ()"),
        (["a"], DT.DT_INT32, (-1,), "str value 'a'"),
        (np.array(["a"]), DT.DT_FLOAT, (-1,), "an array of <U1"),
        (300, DT.DT_UINT8, (), "expects uint8 ()"),
        (1 + 2j, DT.DT_FLOAT, (), "complex"),
        ([[1], [1, 2]], DT.DT_FLOAT, None, "expects float32 <unknown>"),
        ([1, 2], DT.DT_STRING, (-1,), "int"),
        (np.ones(2), DT.DT_STRING, (-1,), "an array of float64"),
        ([1.0, 2.0], DT.DT_FLOAT, (), "cannot feed a value of shape (2,)"),
        (
            np.ones((3, 2)),
            DT.DT_FLOAT,
            (-1, 3),
            "expects float32 (None, 3); cannot feed a value of shape (3, 2)",
        ),
        (5, DT.DT_FLOAT, (1,), "expects float32 (1,)"),
        (None, DT.DT_FLOAT, (), "NoneType"),
    ],
)
def test_coerce_feed_errors_show_the_expected_spec(value, dtype, shape, message):
    with pytest.raises(InvalidInputError) as info:
        inputs.coerce_feed("key", value, dtype, shape, "x:0")
    assert "input 'key' (x:0)" in str(info.value)
    assert message in str(info.value)


def test_format_shape():
    assert inputs.format_shape(()) == "()"
    assert inputs.format_shape((-1,)) == "(None,)"
    assert inputs.format_shape((-1, 2)) == "(None, 2)"
    assert inputs.format_shape(None) == "<unknown>"
