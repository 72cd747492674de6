"""Malformed SavedModels: only typed savedmodel errors come out, nothing hangs.

Two families of cases:
- fixture mutations: the seed SavedModels with saved_model.pb, variables.index or
  variables.data truncated or with bytes flipped (deterministic positions);
- hand-built graphs: cycles, missing functions and inputs, self-recursive and
  deeply nested functions, absurd shapes, endless loops, wrong attr types,
  asset paths escaping the model directory, file-system ops.

Each case runs three ways: the API (`savedmodel.load` then every signature
called with zeros of its declared shape), `savedmodel show --all` and
`savedmodel run` (through `savedmodel.cli.main.main`): the API may only raise
SavedModelError subclasses (the expected one where the case names it), the CLI
must exit 0 or 1 with a single stderr line and no traceback. Every case runs
under a SIGALRM timeout.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main as cli_main
from savedmodel.errors import (
    FormatError,
    LimitExceededError,
    NotFoundError,
    PolicyError,
    SavedModelError,
)
from savedmodel.format import dtypes
from savedmodel.format.saved_model import find_meta_graph, read_saved_model
from savedmodel.policy import Policy
from savedmodel.proto import saved_model_pb2, tensor_pb2
from tests.graph_builder import (
    BOOL,
    F32,
    I32,
    I64,
    STR,
    call,
    call_chain,
    const,
    endless_tf1_loop_nodes,
    func_attr,
    function,
    node,
    placeholder,
    raw_const,
    tensor_info,
    type_attr,
    type_list,
    write_model,
    zeros_for,
)
from tests.watchdog import no_hang

from . import mutations

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.targets import mutate_scalar_field  # noqa: E402

SEED = ROOT / "tests" / "fixtures" / "seed"
SEED_MODELS = ["saved-model-builder", "simple-save", "estimator-model", "tf2-save", "keras-model"]
TIMEOUT_S = 20.0


@dataclass
class Case:
    name: str
    build: Callable[[Path], Path]
    expect: type[SavedModelError] | None = None  # None: success or any typed error
    policy: Policy | None = None
    cli: bool = True  # also run `show` and `run` (cases that need a custom policy skip the CLI)
    inputs: dict[str, np.ndarray] | None = field(default=None)


# --------------------------------------------------------------------------- fixture mutations


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position % len(out)] ^= 0xFF
    return bytes(out)


def _mutated_fixture(model: str, filename: str, mutate: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        target = tmp / model
        shutil.copytree(SEED / model, target)
        path = target / filename
        path.write_bytes(mutate(path.read_bytes()))
        return target

    return build


def _fixture_cases() -> list[Case]:
    cases = []
    rng = np.random.default_rng(7)
    for model in SEED_MODELS:
        size = (SEED / model / "saved_model.pb").stat().st_size
        mutations: list[tuple[str, str, Callable[[bytes], bytes]]] = [
            ("saved_model.pb", "empty", lambda d: b""),
            ("saved_model.pb", "trunc-third", lambda d: d[: len(d) // 3]),
            ("saved_model.pb", "trunc-2thirds", lambda d: d[: 2 * len(d) // 3]),
            ("saved_model.pb", "trunc-last", lambda d: d[:-1]),
        ]
        for pos in sorted(int(p) for p in rng.integers(0, size, 5)):
            mutations.append(("saved_model.pb", f"flip-{pos}", lambda d, p=pos: _flip(d, p)))
        if (SEED / model / "variables" / "variables.index").exists():
            mutations += [
                ("variables/variables.index", "trunc-half", lambda d: d[: len(d) // 2]),
                ("variables/variables.index", "flip-mid", lambda d: _flip(d, len(d) // 2)),
                ("variables/variables.index", "flip-footer", lambda d: _flip(d, len(d) - 10)),
                ("variables/variables.data-00000-of-00001", "trunc-half", lambda d: d[: len(d) // 2]),
                ("variables/variables.data-00000-of-00001", "flip-mid", lambda d: _flip(d, len(d) // 2)),
                ("variables/variables.data-00000-of-00001", "empty", lambda d: b""),
            ]
        for filename, label, mutate in mutations:
            short = filename.split("/")[-1].replace("variables.", "").replace("-00000-of-00001", "")
            cases.append(Case(f"{model}:{short}:{label}", _mutated_fixture(model, filename, mutate)))
    return cases


def _field_mutation(model: str, seed: int, object_graph: bool) -> Callable[[Path], Path]:
    """A seeded hostile value in one proto field of the MetaGraphDef (or of its object graph)."""

    def mutate(data: bytes) -> bytes:
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString(data)
        rng = np.random.default_rng(seed)
        target = proto.meta_graphs[0]
        mutate_scalar_field(target.object_graph_def if object_graph else target, rng)
        return proto.SerializeToString()

    return _mutated_fixture(model, "saved_model.pb", mutate)


def _field_cases() -> list[Case]:
    cases = []
    for model in SEED_MODELS:
        has_objects = model in ("tf2-save", "keras-model")
        for seed in range(10):
            object_graph = has_objects and seed % 2 == 0
            where = "object-graph" if object_graph else "meta-graph"
            cases.append(Case(f"{model}:field-{where}-{seed}", _field_mutation(model, seed, object_graph)))
    return cases


# --------------------------------------------------------------------------- hand-built graphs

X = {"x": tensor_info("x:0", F32, [2])}


def _out(name: str = "y:0", dtype: int = F32, shape: list[int] | None = None) -> dict:
    return {"y": tensor_info(name, dtype, shape)}


def _simple(
    *nodes_: object,
    outputs: dict | None = None,
    functions: tuple = (),
    inputs: dict | None = None,
    **kwargs: object,
) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        return write_model(
            tmp / "m",
            [placeholder("x", F32, [2]), *nodes_],
            X if inputs is None else inputs,
            outputs or _out(),
            functions=list(functions),
            **kwargs,
        )

    return build


def _huge_const_proto() -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=F32)
    proto.tensor_shape.dim.add(size=10**6)
    proto.tensor_shape.dim.add(size=10**6)
    proto.float_val.append(1.0)
    return proto


def _bad_content_proto() -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=F32, tensor_content=b"\x00" * 7)
    proto.tensor_shape.dim.add(size=2)
    return proto


def _neg(name: str, source: str) -> object:
    return node(name, "Neg", source, T=type_attr(F32))


def _recursive() -> list:
    return [
        function(
            "rec",
            [("a", F32)],
            [("out", F32)],
            [call("c", "rec", ["a"], [F32], [F32])],
            {"out": "c:output:0"},
        )
    ]


def _mutual() -> list:
    return [
        function(
            "ping",
            [("a", F32)],
            [("out", F32)],
            [call("c", "pong", ["a"], [F32], [F32])],
            {"out": "c:output:0"},
        ),
        function(
            "pong",
            [("a", F32)],
            [("out", F32)],
            [call("c", "ping", ["a"], [F32], [F32])],
            {"out": "c:output:0"},
        ),
    ]


def _forever() -> list:
    return [
        function("cond", [("a", F32)], [("out", BOOL)], [const("t", True)], {"out": "t:output:0"}),
        function("body", [("a", F32)], [("out", F32)], [_neg("n", "a")], {"out": "n:y:0"}),
    ]


def _asset_model(filename: str, symlink: tuple[str, str] | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        root = tmp / "m"
        (root / "assets").mkdir(parents=True)
        (root / "assets" / "vocab.txt").write_text("a\nb\n")
        (tmp / "secret.txt").write_text("outside the model\n")
        if symlink:
            os.symlink(symlink[1], root / "assets" / symlink[0])
        nodes = [
            placeholder("x", F32, [2]),
            _neg("y", "x"),
            placeholder("asset_path", STR, []),
            node("init", "Identity", "asset_path", T=type_attr(STR)),
        ]
        return write_model(root, nodes, X, _out(), main_op="init", assets={"asset_path:0": filename})

    return build


def _file_op_model(op: str, in_function: bool = False) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        if op == "ReadFile":
            file_nodes = [const("fname", b"/etc/hostname"), node("io", "ReadFile", "fname")]
        elif op == "WriteFile":
            file_nodes = [
                const("fname", str(tmp / "written.txt").encode()),
                const("text", b"pwned"),
                node("io", "WriteFile", "fname", "text"),
            ]
        else:
            file_nodes = [const("pattern", b"/etc/*"), node("io", op, "pattern")]
        nodes = [placeholder("x", F32, [2]), _neg("y", "x")]
        functions = []
        if in_function:
            functions = [function("touch", [], [], file_nodes, {})]
            nodes.append(call("side", "touch", [], [], [], op="StatefulPartitionedCall"))
        else:
            nodes += file_nodes
        nodes[1] = node("y", "Neg", "x", "^side" if in_function else "^io", T=type_attr(F32))
        return write_model(tmp / "m", nodes, X, _out(), functions=functions)

    return build


def _structural_cases() -> list[Case]:
    i64 = type_attr(I64)
    return [
        Case("graph-cycle", _simple(_neg("a", "b"), _neg("b", "a"), _neg("y", "a")), FormatError),
        Case("self-loop-node", _simple(node("y", "Neg", "y", T=type_attr(F32))), FormatError),
        Case(
            "missing-input-node", _simple(node("y", "AddV2", "x", "ghost", T=type_attr(F32))), NotFoundError
        ),
        Case("output-index-out-of-range", _simple(_neg("n", "x"), outputs=_out("n:7")), NotFoundError),
        Case("signature-names-no-node", _simple(outputs=_out("nowhere:0")), NotFoundError),
        Case("empty-tensor-name", _simple(outputs=_out("")), SavedModelError),
        Case("missing-function", _simple(call("y", "nope", ["x"], [F32], [F32])), SavedModelError),
        Case("unknown-op", _simple(node("y", "TotallyUnknownOp", "x")), SavedModelError),
        Case(
            "self-recursive-function",
            _simple(call("y", "rec", ["x"], [F32], [F32]), functions=_recursive()),
            LimitExceededError,
        ),
        Case(
            "mutually-recursive-functions",
            _simple(call("y", "ping", ["x"], [F32], [F32]), functions=_mutual()),
            LimitExceededError,
        ),
        Case(
            "function-chain-150-deep",
            _simple(call("y", "f0", ["x"], [F32], [F32]), functions=call_chain(150)),
            LimitExceededError,
        ),
        Case(
            "function-chain-20-deep-ok",
            _simple(call("y", "f0", ["x"], [F32], [F32]), functions=call_chain(20)),
        ),
        Case(
            "identity-chain-3000",
            _simple(*[_neg(f"n{i}", f"n{i - 1}" if i else "x") for i in range(3000)], _neg("y", "n2999")),
        ),
        Case("attr-wrong-type", _simple(node("y", "Neg", "x", T=b"float"))),  # kernels may ignore T
        Case(
            "attr-bad-dtype-enum",
            _simple(node("y", "Cast", "x", SrcT=type_attr(F32), DstT=type_attr(999))),
            SavedModelError,
        ),
        Case(
            "placeholder-bad-dtype",
            _simple(placeholder("p", 12345, [1]), node("y", "Identity", "p")),
            SavedModelError,
        ),
        Case(
            "duplicate-node-names",
            _simple(_neg("y", "x"), node("y", "Abs", "x", T=type_attr(F32))),
            SavedModelError,
        ),
        Case(
            "const-10^12-elements",
            _simple(raw_const("big", _huge_const_proto()), node("y", "Identity", "big", T=type_attr(F32))),
            LimitExceededError,
        ),
        Case(
            "const-content-size-mismatch",
            _simple(raw_const("c", _bad_content_proto()), node("y", "Identity", "c", T=type_attr(F32))),
            FormatError,
        ),
        Case(
            "fill-10^12-elements",
            _simple(
                const("dims", np.array([10**6, 10**6], np.int64)),
                const("v", np.float32(1)),
                node("y", "Fill", "dims", "v", T=type_attr(F32), index_type=i64),
            ),
            LimitExceededError,
        ),
        Case(
            "tile-huge",
            _simple(
                const("m", np.array([10**12], np.int64)),
                node("y", "Tile", "x", "m", T=type_attr(F32), Tmultiples=i64),
            ),
            LimitExceededError,
        ),
        Case(
            "broadcast-to-huge",
            _simple(
                const("s", np.array([10**6, 10**6, 2], np.int64)),
                node("y", "BroadcastTo", "x", "s", T=type_attr(F32), Tidx=i64),
            ),
            LimitExceededError,
        ),
        Case(
            "range-huge",
            _simple(
                const("a", np.int64(0)),
                const("b", np.int64(10**13)),
                const("d", np.int64(1)),
                node("y", "Range", "a", "b", "d", Tidx=i64),
            ),
            LimitExceededError,
        ),
        Case(
            "random-uniform-huge-shape",
            _simple(
                const("s", np.array([10**6, 10**6], np.int64)),
                node("y", "RandomUniform", "s", dtype=type_attr(F32), T=i64, seed=1, seed2=2),
            ),
            LimitExceededError,
        ),
        Case(
            "scatter-nd-huge-shape",
            _simple(
                const("i", np.array([[0]], np.int64)),
                const("u", np.array([1.0], np.float32)),
                const("s", np.array([10**12], np.int64)),
                node("y", "ScatterNd", "i", "u", "s", T=type_attr(F32), Tindices=i64),
            ),
            LimitExceededError,
        ),
        Case(
            "one-hot-huge-depth",
            _simple(
                const("i", np.array([0, 1], np.int64)),
                const("d", np.int32(10**9)),
                const("on", np.float32(1)),
                const("off", np.float32(0)),
                node("y", "OneHot", "i", "d", "on", "off", T=type_attr(F32), TI=i64, axis=-1),
            ),
            LimitExceededError,
        ),
        Case(
            "sparse-to-dense-huge-shape",
            _simple(
                const("i", np.array([0], np.int64)),
                const("s", np.array([10**12], np.int64)),
                const("v", np.float32(1)),
                const("d", np.float32(0)),
                node("y", "SparseToDense", "i", "s", "v", "d", T=type_attr(F32), Tindices=i64),
            ),
            LimitExceededError,
        ),
        Case(
            "tensor-list-reserve-huge",
            _simple(
                const("es", np.int32(-1)),
                const("n", np.int32(2**31 - 1)),
                node(
                    "l",
                    "TensorListReserve",
                    "es",
                    "n",
                    element_dtype=type_attr(F32),
                    shape_type=type_attr(I32),
                ),
                node("y", "TensorListLength", "l"),
                outputs=_out("y:0", I32, []),
            ),
            LimitExceededError,
        ),
        Case(
            "reshape-mismatch",
            _simple(
                const("s", np.array([3, 5], np.int32)),
                node("y", "Reshape", "x", "s", T=type_attr(F32), Tshape=type_attr(I32)),
            ),
            SavedModelError,
        ),
        Case(
            "as-string-huge-width",
            _simple(node("y", "AsString", "x", T=type_attr(F32), width=1 << 40), outputs=_out("y:0", STR)),
            LimitExceededError,
        ),
        Case(
            "while-never-ends",
            _simple(
                node("y", "While", "x", T=type_list(F32), cond=func_attr("cond"), body=func_attr("body")),
                functions=_forever(),
            ),
            LimitExceededError,
        ),
        Case("dataflow-loop-never-ends", _simple(*endless_tf1_loop_nodes()), LimitExceededError),
        Case("switch-missing-input", _simple(node("y", "Switch", "x", T=type_attr(F32))), FormatError),
        Case("asset-dotdot", _asset_model("../secret.txt"), PolicyError),
        Case("asset-absolute", _asset_model("/etc/hostname"), PolicyError),
        Case("asset-symlink-escape", _asset_model("link/secret.txt", ("link", "..")), PolicyError),
        Case("asset-inside-ok", _asset_model("vocab.txt")),
        Case("readfile-op", _file_op_model("ReadFile"), PolicyError),
        Case("writefile-op", _file_op_model("WriteFile"), PolicyError),
        Case("matchingfiles-op", _file_op_model("MatchingFiles"), PolicyError),
        Case("readfile-in-function", _file_op_model("ReadFile", in_function=True), PolicyError),
        Case("writefile-in-function", _file_op_model("WriteFile", in_function=True), PolicyError),
        Case("missing-model-dir", lambda tmp: tmp / "does-not-exist", FormatError),
        Case(
            "garbage-pbtxt",
            lambda tmp: _write_file(tmp / "m", "saved_model.pbtxt", b"meta_graphs { {{ }"),
            FormatError,
        ),
        Case(
            "binary-garbage-pb",
            lambda tmp: _write_file(tmp / "m", "saved_model.pb", bytes(range(256)) * 4),
            FormatError,
        ),
    ]


# --------------------------------------------------------------------------- mutated TF-made models

TF1_WHILE = mutations.FIXTURES / "runtime" / "tf1_while"  # tf.while_loop (nested), ref variables
TF1_OPS = mutations.FIXTURES / "runtime_ops" / "tf1_ops"  # ref_loop: a ref-variable loop (dataflow executor)
TF2_MODULE = mutations.FIXTURES / "runtime" / "tf2_module"  # tf.function: While, If, Case, calls
HALF_PLUS_THREE = mutations.FIXTURES / "realworld" / "tfserving__saved_model_half_plus_three__2017_6058fd6"
TF2_WRAPPER = "__inference_signature_wrapper_compute_1075"  # serving_default's function
TF2_COMPUTE = "__inference_compute_1062"  # the function it calls


def _tf2(*changes: mutations.Mutation) -> Callable[[Path], Path]:
    return mutations.mutated(TF2_MODULE, mutations.keep_signature("serving_default"), *changes)


def _half_plus_three(*changes: mutations.Mutation) -> Callable[[Path], Path]:
    return mutations.mutated(HALF_PLUS_THREE, mutations.keep_signature("serving_default"), *changes)


def _mutation_cases() -> list[Case]:
    """Endless loops and deep nesting in real TF-made models, run with the default limits."""
    return [
        Case(
            "tf1-while:loopcond-always-true",
            mutations.mutated(TF1_WHILE, mutations.loop_cond_always_true("while/LoopCond")),
            LimitExceededError,
        ),
        Case(
            "tf1-ops:ref-loop-loopcond-always-true",
            mutations.mutated(
                TF1_OPS,
                mutations.keep_signature("ref_loop"),
                mutations.loop_cond_always_true("while/LoopCond"),
            ),
            LimitExceededError,
        ),
        Case(
            "tf2-module:while-cond-always-true",
            _tf2(mutations.while_cond_always_true("while_cond_948")),
            LimitExceededError,
        ),
        Case(
            "tf2-module:300-nested-calls-in-function",
            _tf2(mutations.nested_calls("StatefulPartitionedCall", 300, in_function=TF2_WRAPPER)),
            LimitExceededError,
        ),
        Case(
            "tf2-module:300-nested-calls-in-graph",
            _tf2(mutations.nested_calls("StatefulPartitionedCall_1", 300)),
            LimitExceededError,
        ),
        Case(
            "tf2-module:20-nested-calls-ok",
            _tf2(mutations.nested_calls("StatefulPartitionedCall", 20, in_function=TF2_WRAPPER)),
        ),
        Case(
            "tf2-module:identity-chain-20000-in-function-ok",
            _tf2(mutations.identity_chain("while:output:3", F32, 20_000, in_function=TF2_COMPUTE)),
        ),
        Case(
            "tf1-half-plus-three:300-nested-calls",
            _half_plus_three(mutations.calls_on_tensor("y:0", F32, 300)),
            LimitExceededError,
        ),
        Case(
            "tf1-half-plus-three:20-nested-calls-ok",
            _half_plus_three(mutations.calls_on_tensor("y:0", F32, 20)),
        ),
        Case(
            "tf1-half-plus-three:identity-chain-20000-ok",
            _half_plus_three(mutations.identity_chain("y:0", F32, 20_000)),
        ),
    ]


def _write_file(root: Path, name: str, data: bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    return root


CASES = _fixture_cases() + _field_cases() + _structural_cases() + _mutation_cases()


# --------------------------------------------------------------------------- running a case


def _call_all(loaded: savedmodel.loader.LoadedModel) -> None:
    for function_ in loaded.signatures.values():
        values = {}
        for key, spec in function_.input_specs.items():
            dims = [1] if spec.shape is None else [1 if d is None or d < 0 else d for d in spec.shape]
            values[key] = zeros_for(spec.dtype_enum or dtypes.from_numpy(spec.dtype), dims)
        function_(**values)


def _api(case: Case, path: Path) -> SavedModelError | None:
    try:
        loaded = savedmodel.load(path, policy=case.policy)
        _call_all(loaded)
    except SavedModelError as exc:
        return exc
    return None


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _input_exprs(path: Path) -> tuple[str, str] | None:
    """(signature key, --input_exprs) for the model's first signature, when its proto parses."""
    try:
        meta_graph = find_meta_graph(read_saved_model(path), "serve")
    except SavedModelError:
        return None
    keys = sorted(k for k in meta_graph.signature_def if not k.startswith("__"))
    if not keys:
        return None
    signature = meta_graph.signature_def[keys[0]]
    exprs = []
    for key, info in sorted(signature.inputs.items()):
        dims = [1 if d.size < 0 else min(d.size, 8) for d in info.tensor_shape.dim]
        if info.dtype == STR:
            value = "b''"
            for d in reversed(dims):
                value = "[" + ", ".join([value] * d) + "]"
            exprs.append(f"{key}={value}")
        else:
            np_name = np.dtype(dtypes.as_numpy_dtype(info.dtype)).name if info.dtype else "float32"
            exprs.append(f"{key}=np.zeros({tuple(dims)!r}, dtype='{np_name}')")
    return keys[0], ";".join(exprs)


def _assert_clean_cli(code: int, err: str) -> None:
    assert code in (0, 1), f"exit {code}: {err}"
    assert "Traceback" not in err and "internal error" not in err, err
    if code:
        lines = [line for line in err.splitlines() if line.strip() and ": warning:" not in line]
        assert len(lines) == 1, err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api_raises_only_typed_errors(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    with no_hang(TIMEOUT_S):
        error = _api(case, path)
    if case.expect is not None:
        assert isinstance(error, case.expect), f"expected {case.expect.__name__}, got {error!r}"
    if case.name.endswith("-ok"):
        assert error is None, error


@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=[c.name for c in CASES if c.cli])
def test_cli_show_fails_cleanly(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    with no_hang(TIMEOUT_S):
        code, _, err = _cli(["show", "--dir", str(path), "--all"])
    _assert_clean_cli(code, err)


@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=[c.name for c in CASES if c.cli])
def test_cli_run_fails_cleanly(case: Case, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    signature = _input_exprs(path) or ("serving_default", "x=np.zeros((2,), dtype='float32')")
    with no_hang(TIMEOUT_S):
        code, _, err = _cli(
            [
                "run",
                "--dir",
                str(path),
                "--tag_set",
                "serve",
                "--signature_def",
                signature[0],
                "--input_exprs",
                signature[1],
            ]
        )
    _assert_clean_cli(code, err)
    if case.expect is not None and case.expect is not SavedModelError:
        assert code == 1, f"expected a {case.expect.__name__}, the command succeeded"


def test_allow_file_access_lets_file_ops_load(tmp_path: Path) -> None:
    """The same graphs pass the policy check when the caller opts in (then load, or lack a kernel)."""
    for op in ("ReadFile", "WriteFile", "MatchingFiles"):
        path = _file_op_model(op)(tmp_path / op)
        with pytest.raises(PolicyError):
            savedmodel.load(path)
        try:
            loaded = savedmodel.load(path, policy=Policy(allow_file_access=True))
        except SavedModelError as exc:
            assert not isinstance(exc, PolicyError), exc
        else:
            assert "serving_default" in loaded.signatures


def test_case_count() -> None:
    """The suite's size, for the report: every case runs through the API, most through the CLI too."""
    api = len(CASES)
    cli = 2 * sum(1 for c in CASES if c.cli)
    assert api >= 100 and cli >= 150, (api, cli)


@pytest.mark.parametrize("command", ["scan", "variables", "ops"])
@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=[c.name for c in CASES if c.cli])
def test_cli_inspection_commands_fail_cleanly(case: Case, command: str, tmp_path: Path) -> None:
    """`scan`, `variables` and `ops` read the same files: clean exit codes, one-line errors."""
    path = case.build(tmp_path)
    with no_hang(TIMEOUT_S):
        code, _, err = _cli([command, "--dir", str(path)])
    _assert_clean_cli(code, err)
