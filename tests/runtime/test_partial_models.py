"""One unsupported or refused op fails only what reaches it (signatures, restored functions);
PrintV2 to stdout/stderr is not a file op."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main
from savedmodel.errors import PolicyError, RefusedOpError, UnsupportedOpError
from savedmodel.format import saved_model as saved_model_format
from savedmodel.format.bundle import BundleReader
from savedmodel.ops import registry
from savedmodel.policy import Policy
from savedmodel.proto import saved_model_pb2, types_pb2
from tests.conftest import FIXTURES
from tests.graph_builder import const, graph, node, placeholder, type_attr, type_list

TFRUST = FIXTURES / "realworld" / "tfrust__regression_savedmodel__2021_0682aef"
TRAIN_OP = "ResourceApplyGradientDescent"
F32, STR = types_pb2.DT_FLOAT, types_pb2.DT_STRING


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _variable(name: str) -> np.ndarray:
    with BundleReader(TFRUST / "variables" / "variables") as reader:
        return reader.read(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")


# ------------------------------------------------------------------ the real file


def test_tfrust_regression_loads_although_train_needs_a_missing_kernel() -> None:
    model = savedmodel.load(TFRUST)
    assert sorted(model.signatures) == ["b", "train", "w"]
    w, b = _variable("w"), _variable("b")
    np.testing.assert_array_equal(model.signatures["w"]()["output"], w)
    np.testing.assert_array_equal(model.signatures["b"]()["output"], b)
    x = np.array([1.0, 2.0, -3.0], np.float32)
    np.testing.assert_allclose(model(x), w * x + b, rtol=1e-6)
    if registry.lookup(TRAIN_OP) is not None:
        pytest.skip(f"{TRAIN_OP} has a kernel now; the train signature runs")
    with pytest.raises(UnsupportedOpError, match=f"signature 'train'.*{TRAIN_OP}") as info:
        model.signatures["train"](x=x, y=x)
    assert info.value.missing == {
        TRAIN_OP: [
            "__inference_train_183/SGD/SGD/update/ResourceApplyGradientDescent",
            "__inference_train_183/SGD/SGD/update_1/ResourceApplyGradientDescent",
        ]
    }
    # The restored tf.function fails alike, when called; the rest of the model still works after.
    with pytest.raises(UnsupportedOpError, match=TRAIN_OP):
        model.train(x, x)
    np.testing.assert_array_equal(model.signatures["w"]()["output"], w)


def test_tfrust_regression_cli(capsys) -> None:
    base = ["run", "--dir", str(TFRUST), "--tag_set", "serve"]
    code, out, err = _run([*base, "--signature_def", "w"], capsys)
    assert (code, err) == (0, "") and out == f"Result for output key output:\n{_variable('w')}\n"
    code, out, err = _run(["ops", "--dir", str(TFRUST), "--check"], capsys)
    if registry.lookup(TRAIN_OP) is None:
        assert code == 1 and f"unsupported: {TRAIN_OP}" in out
        code, out, err = _run([*base, "--signature_def", "train", "--input_exprs", "x=[1.];y=[2.]"], capsys)
        assert code == 1 and out == "" and TRAIN_OP in err and err.count("\n") == 1


# ------------------------------------------------------------------ small graphs


def _signature(meta_graph, key: str, inputs: dict[str, tuple[str, int]], outputs: dict[str, tuple[str, int]]):
    signature = meta_graph.signature_def[key]
    signature.method_name = "tensorflow/serving/predict"
    for part, table in ((signature.inputs, inputs), (signature.outputs, outputs)):
        for name, (tensor, dtype) in table.items():
            part[name].name = tensor
            part[name].dtype = dtype
            part[name].tensor_shape.unknown_rank = True


def _print_node(name: str, source: str, stream: str) -> object:
    return node(name, "PrintV2", source, output_stream=stream, end="\n")


def partial_model(tmp_path: Path, print_stream: str = "file:///dev/null") -> Path:
    """serving_default (x * 2) works; `debug` calls a py_function (EagerPyFunc, never runnable
    without Python's TF), `train` uses a gradient op savedmodel lacks, `summaries` writes a file,
    `printed` prints x (PrintV2 to `print_stream`) before answering."""
    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    meta_graph = proto.meta_graphs.add()
    meta_graph.meta_info_def.tags.append("serve")
    meta_graph.graph_def.CopyFrom(
        graph(
            placeholder("x"),
            const("two", np.float32(2.0)),
            node("y", "Mul", "x", "two", T=type_attr(F32)),
            node("py", "EagerPyFunc", "x", token="pyfunc_0", Tin=type_list(F32), Tout=type_list(F32)),
            node("grad", "MadeUpApplyGradient", "x", "two", T=type_attr(F32)),
            placeholder("path", STR),
            node("text", "AsString", "x", T=type_attr(F32)),
            node("write", "WriteFile", "path", "text"),
            node("written", "Identity", "x", "^write", T=type_attr(F32)),
            node("format", "StringFormat", "x", T=type_list(F32), template="x = {}", placeholder="{}"),
            _print_node("print", "format", print_stream),
            node("printed", "Identity", "y", "^print", T=type_attr(F32)),
        )
    )
    _signature(meta_graph, "serving_default", {"x": ("x:0", F32)}, {"y": ("y:0", F32)})
    _signature(meta_graph, "debug", {"x": ("x:0", F32)}, {"y": ("py:0", F32)})
    _signature(meta_graph, "train", {"x": ("x:0", F32)}, {"y": ("grad:0", F32)})
    _signature(
        meta_graph, "summaries", {"x": ("x:0", F32), "path": ("path:0", STR)}, {"y": ("written:0", F32)}
    )
    _signature(meta_graph, "printed", {"x": ("x:0", F32)}, {"y": ("printed:0", F32)})
    target = tmp_path / "partial"
    target.mkdir(exist_ok=True)
    saved_model_format.write_saved_model_proto(proto, target)
    return target


def test_unsupported_and_refused_ops_fail_only_their_signatures(tmp_path: Path) -> None:
    model = savedmodel.load(partial_model(tmp_path))
    assert model.signatures["serving_default"](x=3.0)["y"] == np.float32(6.0)
    with pytest.raises(UnsupportedOpError, match="signature 'debug': unsupported ops: EagerPyFunc") as info:
        model.signatures["debug"](x=3.0)
    assert info.value.missing == {"EagerPyFunc": ["py"]}
    with pytest.raises(UnsupportedOpError, match="MadeUpApplyGradient") as info:
        model.signatures["train"](x=3.0)
    assert info.value.missing == {"MadeUpApplyGradient": ["grad"]}
    for key in ("summaries", "printed"):
        with pytest.raises(RefusedOpError, match=f"signature '{key}' uses ops that touch the file system"):
            model.signatures[key](x=3.0, **({"path": "out.txt"} if key == "summaries" else {}))
    # Failed signatures leave the model working.
    assert model.signatures["serving_default"](x=-1.0)["y"] == np.float32(-2.0)


def test_refused_ops_run_with_file_access(tmp_path: Path) -> None:
    out = tmp_path / "printed.txt"
    model = savedmodel.load(partial_model(tmp_path, f"file://{out}"), policy=Policy(allow_file_access=True))
    written = tmp_path / "summary.txt"
    assert model.signatures["summaries"](x=1.5, path=str(written))["y"] == np.float32(1.5)
    assert written.read_text() == "1.500000"  # AsString's default format
    assert model.signatures["printed"](x=2.0)["y"] == np.float32(4.0)
    assert model.signatures["printed"](x=3.0)["y"] == np.float32(6.0)
    assert out.read_text() == "x = 2\nx = 3\n"


def _edit(target: Path, drop_signatures: tuple[str, ...], drop_nodes: tuple[str, ...] = ()) -> Path:
    proto = saved_model_format.read_saved_model(target)
    meta_graph = proto.meta_graphs[0]
    for key in drop_signatures:
        del meta_graph.signature_def[key]
    kept = [n for n in meta_graph.graph_def.node if n.name not in drop_nodes]
    del meta_graph.graph_def.node[:]
    meta_graph.graph_def.node.extend(kept)
    saved_model_format.write_saved_model_proto(proto, target)
    return target


def test_load_fails_when_no_signature_works(tmp_path: Path) -> None:
    target = _edit(
        partial_model(tmp_path, "stderr"),
        ("serving_default", "printed", "summaries"),
        ("write", "written"),
    )
    with pytest.raises(UnsupportedOpError, match="EagerPyFunc.*MadeUpApplyGradient"):
        savedmodel.load(target)  # debug and train both fail: nothing to serve


def test_load_refuses_a_file_op_no_signature_reaches(tmp_path: Path) -> None:
    target = _edit(partial_model(tmp_path), ("summaries",))
    with pytest.raises(RefusedOpError, match=r"uses ops that touch the file system: WriteFile \(write\);"):
        savedmodel.load(target)  # refused as before: only PrintV2 sits behind a signature
    assert isinstance(RefusedOpError({}, ""), PolicyError)
    assert "serving_default" in savedmodel.load(target, policy=Policy(allow_file_access=True)).signatures


def test_cli_runs_the_working_signatures(tmp_path: Path, capsys) -> None:
    base = ["run", "--dir", str(partial_model(tmp_path)), "--tag_set", "serve"]
    code, out, err = _run([*base, "--signature_def", "serving_default", "--input_exprs", "x=4."], capsys)
    assert (code, out, err) == (0, "Result for output key y:\n8.0\n", "")
    code, out, err = _run([*base, "--signature_def", "debug", "--input_exprs", "x=4."], capsys)
    assert code == 1 and "EagerPyFunc (used by py)" in err and err.count("\n") == 1
    code, out, err = _run([*base, "--signature_def", "summaries", "--input_exprs", "x=4.;path='p'"], capsys)
    assert code == 1 and "WriteFile (write)" in err and "--allow_file_access" in err


# ------------------------------------------------------------------ PrintV2


@pytest.mark.parametrize("stream", ["stderr", "stdout", "log(info)", "log(warning)", "log(error)"])
def test_print_v2_to_the_process_streams_runs(tmp_path: Path, stream: str, capfd) -> None:
    model = savedmodel.load(partial_model(tmp_path, stream))
    capfd.readouterr()
    assert model.signatures["printed"](x=np.float32(1.5))["y"] == np.float32(3.0)
    out, err = capfd.readouterr()
    assert (out if stream == "stdout" else err) == "x = 1.5\n"


def test_print_v2_unknown_stream_fails_at_call(tmp_path: Path) -> None:
    model = savedmodel.load(partial_model(tmp_path, "syslog"))
    with pytest.raises(savedmodel.ExecutionError, match="Unknown output stream: syslog"):
        model.signatures["printed"](x=1.0)


def test_scan_still_reports_print_v2(capsys) -> None:
    code, out, err = _run(["scan", "--dir", str(FIXTURES / "cli" / "scan-fileops")], capsys)
    assert code == 0 and "PrintV2" in out
