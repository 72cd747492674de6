"""`savedmodel run` against what TF 2.21's saved_model_cli printed (tests/fixtures/{seed,cli})."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from savedmodel.cli import ops as ops_cli
from savedmodel.cli import run as run_cli
from savedmodel.cli.main import main
from savedmodel.format import saved_model as saved_model_format
from tests.conftest import FIXTURES, SEED, golden_array

CLI = FIXTURES / "cli"
CASES = json.loads((CLI / "cases.json").read_text())["cases"]
RUN_CASES = [case for case in CASES if case["argv"][0] == "run"]
MODELS = ("tf1-predict", "tf1-examples", "scan-fileops", "scan-hidden", "inputs")
SEEDS = ("saved-model-builder", "simple-save", "tf2-save", "keras-model", "estimator-model")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory where the fixture models and inputs appear under their relative names."""
    for name in MODELS:
        os.symlink(CLI / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def resolve(argv: list[str]) -> list[str]:
    return [str(SEED / a[len("seed:") :]) if a.startswith("seed:") else a for a in argv]


def run_main(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", SEEDS)
def test_seed_models_print_exactly_what_saved_model_cli_printed(name, capsys):
    expr = "input=[10]" if name == "estimator-model" else "input=10"
    argv = ["run", "--dir", str(SEED / name), "--tag_set", "serve", "--signature_def", "serving_default"]
    code, out, err = run_main([*argv, "--input_exprs", expr], capsys)
    assert (code, err) == (0, "")
    assert out == (SEED / f"{name}.run.txt").read_text()


@pytest.mark.parametrize("case", RUN_CASES, ids=[case["name"] for case in RUN_CASES])
def test_golden_runs(case, workdir, capsys):
    argv = resolve(case["argv"])
    model = argv[argv.index("--dir") + 1]
    meta_graph = saved_model_format.read_saved_model(model).meta_graphs[0]
    missing = ops_cli.op_report(meta_graph)["unsupported"]
    if missing:  # kernels other helpers are still adding (ParseExampleV2, ReadFile, PrintV2, ...)
        pytest.skip(f"no kernel yet for {', '.join(missing)}")
    code, out, err = run_main([*argv, *case.get("savedmodel_extra", [])], capsys)
    assert code == case["returncode"] == 0, err
    assert out == (CLI / case["stdout"]).read_text()
    for key, entry in case.get("saved", {}).items():
        saved = np.load(workdir / case["outdir"] / f"{key}.npy", allow_pickle=False)
        expected = golden_array(entry)
        assert saved.dtype == expected.dtype and saved.shape == expected.shape
        np.testing.assert_array_equal(saved, expected)


def test_warnings_go_to_stderr(workdir, capsys):
    case = next(c for c in RUN_CASES if c["name"] == "run_override")
    code, out, err = run_main(case["argv"], capsys)
    assert code == 0
    assert err == (
        "savedmodel run: warning: input_key k has been specified with both --inputs and --input_exprs "
        "options. Value in --input_exprs will be used.\n"
    )


PREDICT = ["run", "--dir", "tf1-predict", "--tag_set", "serve", "--signature_def", "serving_default"]


def test_numpy_expressions_feed_the_model(workdir, capsys):
    code, out, err = run_main(
        [*PREDICT, "--input_exprs", "x=np.arange(4, dtype=np.float32).reshape(2, 2);k=np.array([2, 3])"],
        capsys,
    )
    assert (code, err) == (0, "")
    x = np.arange(4, dtype=np.float32).reshape(2, 2)
    expected = (
        f"Result for output key k2:\n{np.array([4, 9])}\n"
        f"Result for output key total:\n{np.float32(x.sum())}\n"
        f"Result for output key y:\n{x * 2 + 1}\n"
    )
    assert out == expected


def test_outdir_refuses_to_clobber_then_overwrites(workdir, capsys):
    argv = [*PREDICT, "--input_exprs", "x=[[1.0, 2.0]];k=[7]", "--outdir", "out"]
    (workdir / "out").mkdir()
    (workdir / "out" / "total.npy").write_bytes(b"keep")
    code, out, err = run_main(argv, capsys)
    assert code == 1 and out == ""
    assert err == (
        'savedmodel run: error: Output file out/total.npy already exists. Add "--overwrite" to overwrite '
        "the existing output files.\n"
    )
    assert not (workdir / "out" / "k2.npy").exists()  # nothing written before the check
    assert (workdir / "out" / "total.npy").read_bytes() == b"keep"
    code, out, err = run_main([*argv, "--overwrite"], capsys)
    assert code == 0
    assert np.load(workdir / "out" / "total.npy") == np.float32(3.0)
    assert "Output total is saved to out/total.npy" in out


def test_outdir_that_is_a_file(workdir, capsys):
    (workdir / "afile").write_text("x")
    code, out, err = run_main(
        [*PREDICT, "--input_exprs", "x=[[1.0, 2.0]];k=[7]", "--outdir", "afile"], capsys
    )
    assert code == 1 and err == "savedmodel run: error: --outdir afile exists and is not a directory\n"


def test_outdir_path_printed_as_given(workdir, capsys):
    code, out, err = run_main([*PREDICT, "--input_exprs", "x=[[1.0, 2.0]];k=[7]", "--outdir", "./o/"], capsys)
    assert code == 0 and "Output k2 is saved to ./o/k2.npy\n" in out
    assert np.load(workdir / "o" / "k2.npy").tolist() == [49]


def test_string_outputs_are_saved_without_pickle(workdir, capsys):
    argv = ["run", "--dir", "tf1-predict", "--tag_set", "serve", "--signature_def", "greet"]
    code, out, err = run_main([*argv, "--input_exprs", "name=['a', 'bc']", "--outdir", "o"], capsys)
    assert code == 0, err
    saved = np.load(workdir / "o" / "greeting.npy", allow_pickle=False)
    assert saved.tolist() == [b"hi a", b"hi bc"]


def test_npy_bytes_keeps_trailing_nuls_by_pickling():
    array = np.array([b"a\0", b"b"], dtype=object)
    loaded = np.load(io.BytesIO(run_cli.npy_bytes(array)), allow_pickle=True)
    assert loaded.tolist() == [b"a\0", b"b"]


ERRORS = [
    (["--signature_def", "nope", "--input_exprs", "x=1"],
     'Could not find signature "nope". Please choose from: "greet", "serving_default"'),
    (["--signature_def", "serving_default", "--input_exprs", "x=[[1.0, 2.0]];k=[1];z=1"],
     '"z" is not a valid input key of signature "serving_default". Please choose from "k", "x"'),
    (["--signature_def", "serving_default", "--input_exprs", "x=[[1.0, 2.0]]"],
     'signature "serving_default" needs input(s) k (int64 (None,))'),
    (["--signature_def", "serving_default"], 'needs input(s) k (int64 (None,)), x (float32 (None, 2))'),
    (["--signature_def", "serving_default", "--input_exprs", "x=[[1.0, 2.0, 3.0]];k=[1]"],
     "input 'x' (x:0) expects float32 (None, 2); cannot feed a value of shape (1, 3)"),
    (["--signature_def", "serving_default", "--input_exprs", "x=[['a', 'b']];k=[1]"],
     "input 'x' (x:0) expects float32 (None, 2); cannot convert the given value: str value 'a'"),
    (["--signature_def", "greet", "--input_exprs", "name=[1, 2]"],
     "input 'name' (name:0) expects string (None,)"),
    (["--signature_def", "serving_default", "--input_exprs", "x=__import__('os');k=[1]"],
     "--input_exprs key 'x': call to '__import__' is not allowed"),
    (["--signature_def", "serving_default", "--inputs", "x=inputs/missing.npy"],
     "input file inputs/missing.npy does not exist"),
    (["--signature_def", "serving_default", "--inputs", "x=tf1-predict/saved_model.pb"],
     "input file tf1-predict/saved_model.pb is neither .npy nor .npz; loading it as a pickle could run code, "
     "pass --allow_pickle"),
    (["--signature_def", "serving_default", "--inputs", "x=junk/junk.npy"],
     "input file junk/junk.npy is not a readable .npy array"),
    (["--signature_def", "serving_default", "--input_exprs", "x=1", "--tf_debug"],
     "--tf_debug (the TensorFlow debugger) is not available"),
]  # fmt: skip


@pytest.mark.parametrize("extra, message", ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_bad_input_is_one_clear_line(extra, message, workdir, capsys):
    (workdir / "junk").mkdir()
    (workdir / "junk" / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00{'descr': 1")
    code, out, err = run_main(["run", "--dir", "tf1-predict", "--tag_set", "serve", *extra], capsys)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("savedmodel run: error: ")
    assert message in err


def test_unknown_tag_set(workdir, capsys):
    code, out, err = run_main(
        ["run", "--dir", "tf1-predict", "--tag_set", "train", "--signature_def", "x", "--input_exprs", "x=1"],
        capsys,
    )
    assert code == 1 and "no MetaGraphDef with tag set 'train'" in err and "serve" in err


def test_missing_directory(tmp_path, capsys):
    argv = ["run", "--dir", str(tmp_path / "none"), "--tag_set", "serve", "--signature_def", "s"]
    code, out, err = run_main(argv, capsys)
    assert code == 1 and "does not exist" in err


def test_file_ops_need_allow_file_access(workdir, capsys, tmp_path):
    target = tmp_path / "hello.txt"
    target.write_bytes(b"hello")
    argv = ["run", "--dir", "scan-fileops", "--tag_set", "serve", "--signature_def", "serving_default"]
    code, out, err = run_main([*argv, "--input_exprs", f"filename={str(target)!r}"], capsys)
    assert code == 1 and "--allow_file_access" in err and err.count("\n") == 1


def _model_with_output_key(tmp_path: Path, key: str) -> Path:
    model = tmp_path / "model"
    shutil.copytree(SEED / "saved-model-builder", model)
    proto = saved_model_format.read_saved_model(model)
    signature = proto.meta_graphs[0].signature_def["serving_default"]
    signature.outputs[key].CopyFrom(signature.outputs["output"])
    del signature.outputs["output"]
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())
    return model


def test_output_keys_cannot_escape_outdir(tmp_path, capsys, monkeypatch):
    model = _model_with_output_key(tmp_path, "../evil")
    monkeypatch.setattr(run_cli, "load_model", lambda *a: pytest.fail("must not load"))
    argv = ["run", "--dir", str(model), "--tag_set", "serve", "--signature_def", "serving_default"]
    code, out, err = run_main([*argv, "--input_exprs", "input=1", "--outdir", str(tmp_path / "out")], capsys)
    assert code == 1 and "output key '../evil' is not a plain file name" in err
    assert not (tmp_path / "evil.npy").exists()


class _StubModel:
    def __init__(self, outputs):
        self.calls = []
        self.signatures = {"serving_default": self._call}
        self._outputs = outputs

    def _call(self, **feeds):
        self.calls.append(feeds)
        return self._outputs


def test_outputs_print_in_sorted_key_order_with_numpy_str(tmp_path, capsys, monkeypatch):
    model = _model_with_output_key(tmp_path, "b")
    proto = saved_model_format.read_saved_model(model)
    signature = proto.meta_graphs[0].signature_def["serving_default"]
    signature.outputs["a"].CopyFrom(signature.outputs["b"])
    (model / "saved_model.pb").write_bytes(proto.SerializeToString())
    stub = _StubModel({"b": np.arange(3, dtype=np.int32), "a": np.array(b"x", dtype=object)})
    monkeypatch.setattr(run_cli, "load_model", lambda directory, tags, policy: stub)
    argv = ["run", "--dir", str(model), "--tag_set", "serve", "--signature_def", "serving_default"]
    code, out, err = run_main([*argv, "--input_exprs", "input=3"], capsys)
    assert code == 0, err
    assert out == "Result for output key a:\nb'x'\nResult for output key b:\n[0 1 2]\n"
    (feed,) = stub.calls
    assert feed["input"].dtype == np.float32 and feed["input"].shape == () and feed["input"] == 3.0


def test_help_mentions_expression_rules(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "Nothing is eval'd" in capsys.readouterr().out


# --------------------------------------------------------------------------- --max_while_iterations


def _endless_tf1_loop(tmp_path):
    """A TF1 while loop (Enter/Merge/Switch/NextIteration/Exit) whose condition is always true."""
    from tests.graph_builder import (
        F32,
        endless_tf1_loop_nodes,
        placeholder,
        tensor_info,
        write_model,
    )

    nodes = [placeholder("x", F32, [2]), *endless_tf1_loop_nodes()]
    inputs = {"x": tensor_info("x:0", F32, [2])}
    return write_model(tmp_path / "endless", nodes, inputs, {"y": tensor_info("y:0", F32, None)})


def _counting_while(tmp_path):
    """Functional While: a += 1 while any(a < 50), from x = [1, 2]: 49 iterations, [50, 51]."""
    from tests.graph_builder import (
        F32,
        counting_while_functions,
        func_attr,
        node,
        placeholder,
        tensor_info,
        type_list,
        write_model,
    )

    cond, body = counting_while_functions()
    nodes = [
        placeholder("x", F32, [2]),
        node("y", "While", "x", T=type_list(F32), cond=func_attr("cond"), body=func_attr("body")),
    ]
    inputs = {"x": tensor_info("x:0", F32, [2])}
    outputs = {"y": tensor_info("y:0", F32, None)}
    return write_model(tmp_path / "counting", nodes, inputs, outputs, functions=[cond, body])


def _run_args(model) -> list[str]:
    return ["run", "--dir", str(model), "--tag_set", "serve", "--signature_def", "serving_default"]


def test_max_while_iterations_stops_an_endless_loop_quickly(tmp_path, capsys):
    from tests.watchdog import no_hang

    model = _endless_tf1_loop(tmp_path)
    with no_hang(20):
        code, out, err = run_main(
            [*_run_args(model), "--input_exprs", "x=[1.0, 2.0]", "--max_while_iterations", "100"], capsys
        )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "100" in err and "max_while_iterations" in err, err


def test_max_while_iterations_counts_like_tensorflow(tmp_path, capsys):
    model = _counting_while(tmp_path)
    argv = [*_run_args(model), "--input_exprs", "x=[1.0, 2.0]"]
    code, out, err = run_main([*argv, "--max_while_iterations", "48"], capsys)
    assert code == 1 and "max_while_iterations" in err, err
    code, out, err = run_main([*argv, "--max_while_iterations", "49"], capsys)
    assert (code, err) == (0, "")
    assert out == "Result for output key y:\n[50. 51.]\n"


def test_max_function_depth_flag(tmp_path, capsys):
    from tests.graph_builder import (
        F32,
        call,
        function,
        placeholder,
        tensor_info,
        write_model,
    )

    nested = [function("f0", [("a", F32)], [("out", F32)], [], {"out": "a"})]
    for level in range(1, 4):
        body = [call("c", f"f{level - 1}", ["a"], [F32], [F32])]
        nested.append(function(f"f{level}", [("a", F32)], [("out", F32)], body, {"out": "c:output:0"}))
    nodes = [placeholder("x", F32, [2]), call("y", "f3", ["x"], [F32], [F32])]
    inputs = {"x": tensor_info("x:0", F32, [2])}
    model = write_model(tmp_path / "nested", nodes, inputs, {"y": tensor_info("y:0", F32, None)}, nested)
    argv = [*_run_args(model), "--input_exprs", "x=[1.0, 2.0]"]
    code, out, err = run_main([*argv, "--max_function_depth", "4"], capsys)
    assert (code, err) == (0, "") and out == "Result for output key y:\n[1. 2.]\n"
    code, out, err = run_main([*argv, "--max_function_depth", "3"], capsys)
    assert code == 1 and "depth exceeds the limit of 3" in err, err


@pytest.mark.parametrize("value", ["0", "-3", "ten"])
def test_limit_flags_reject_non_positive_values(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "run",
                "--dir",
                "m",
                "--tag_set",
                "serve",
                "--signature_def",
                "s",
                "--max_while_iterations",
                value,
            ]
        )
    assert exc.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_default_loop_limit_stops_an_endless_loop(tmp_path, capsys):
    from tests.watchdog import no_hang

    model = _endless_tf1_loop(tmp_path)
    with no_hang(20):
        code, out, err = run_main([*_run_args(model), "--input_exprs", "x=[1.0, 2.0]"], capsys)
    assert code == 1 and out == ""
    assert "ran more than 50,000 iterations" in err and "LoopCond node 'cond'" in err, err


def test_max_call_seconds_stops_a_call(tmp_path, capsys):
    """The iteration limit lifted, the wall-clock limit stops the loop (default 30 s; here 0.5 s)."""
    from tests.watchdog import no_hang

    model = _endless_tf1_loop(tmp_path)
    argv = [*_run_args(model), "--input_exprs", "x=[1.0, 2.0]", "--max_while_iterations", str(10**9)]
    with no_hang(20):
        code, out, err = run_main([*argv, "--max_call_seconds", "0.5"], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "longer than 0.5 s" in err and "max_call_seconds" in err, err


@pytest.mark.parametrize("value", ["-1", "ten", "inf", "nan"])
def test_max_call_seconds_rejects_bad_values(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--dir", "m", "--tag_set", "serve", "--signature_def", "s", "--max_call_seconds", value])
    assert exc.value.code == 2
    assert "seconds" in capsys.readouterr().err
