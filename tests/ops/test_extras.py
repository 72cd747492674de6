"""Optional extras: what a core install (no Pillow, no SciPy) runs, and how a model that needs a
missing extra is refused at once, as a whole, by savedmodel.load and `savedmodel ops --check`.

A missing module is simulated by setting sys.modules[name] = None (import and find_spec then fail).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import savedmodel
from savedmodel.cli.main import main as cli_main
from savedmodel.errors import ExecutionError, MissingExtraError
from savedmodel.format.saved_model import read_saved_model
from savedmodel.ops.registry import all_kernels, extra_available, missing_extras
from tests.ops import golden

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "add_two"


@pytest.fixture
def no_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "PIL" or n.startswith("PIL.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)


@pytest.fixture
def no_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)


def _model_with(tmp_path: Path, ops: list[str]) -> Path:
    """examples/add_two plus unused nodes of `ops` in its graph: enough for the whole-model check."""
    from savedmodel.proto import saved_model_pb2

    target = tmp_path / "model"
    shutil.copytree(EXAMPLE, target)
    proto = saved_model_pb2.SavedModel.FromString((target / "saved_model.pb").read_bytes())
    for op in ops:
        node = proto.meta_graphs[0].graph_def.node.add()
        node.name, node.op = f"extra_{op}", op
        node.input.append("Const")
    (target / "saved_model.pb").write_bytes(proto.SerializeToString())
    return target


def test_extras_are_known_and_their_ops_listed() -> None:
    kernels = all_kernels()
    image = {op for op, k in kernels.items() if k.extra == "image"}
    special = {op for op, k in kernels.items() if k.extra == "special"}
    assert image == {"DecodeBmp", "DecodeGif", "EncodeJpeg"}
    assert {"Igamma", "Zeta", "Betainc", "Digamma"} <= special
    core = {"DecodeJpeg", "DecodeAndCropJpeg", "DecodeImage", "ExtractJpegShape", "Erf"}
    assert not core & (image | special)


def test_jpeg_decodes_without_pillow(no_pillow: None) -> None:
    assert not extra_available("image")
    entries = [
        c
        for c in golden.cases()
        if c["op"] in ("DecodeJpeg", "DecodeAndCropJpeg", "ExtractJpegShape", "DecodeImage")
        and "error" not in c
        and c.get("check", "values") == "values"
    ]
    assert {c["op"] for c in entries} == {
        "DecodeJpeg",
        "DecodeAndCropJpeg",
        "ExtractJpegShape",
        "DecodeImage",
    }
    for entry in entries:
        golden.assert_matches(entry, golden.run(entry))


def test_gif_without_pillow_names_the_extra_at_call(no_pillow: None) -> None:
    (entry,) = [c for c in golden.cases() if c["id"] == "DecodeGif"]
    with pytest.raises(ExecutionError, match=r"pip install 'savedmodel\[image\]'"):
        golden.run(entry)


def test_missing_extras_groups_ops_by_extra(no_pillow: None, no_scipy: None) -> None:
    found = missing_extras(["DecodeGif", "Add", "EncodeJpeg", "Igamma", "DecodeJpeg", "NoSuchOp"])
    assert found == {"image": ["DecodeGif", "EncodeJpeg"], "special": ["Igamma"]}


def test_load_refuses_the_whole_model_at_once(tmp_path: Path, no_pillow: None, no_scipy: None) -> None:
    model = _model_with(tmp_path, ["DecodeGif", "EncodeJpeg", "Zeta", "DecodeJpeg"])
    with pytest.raises(MissingExtraError) as info:
        savedmodel.load(model)
    assert info.value.missing == {"image": ["DecodeGif", "EncodeJpeg"], "special": ["Zeta"]}
    message = str(info.value)
    assert "ops DecodeGif, EncodeJpeg need the 'image' extra: pip install 'savedmodel[image]'" in message
    assert "op Zeta needs the 'special' extra: pip install 'savedmodel[special]'" in message


def test_compat_v1_load_refuses_too(tmp_path: Path, no_pillow: None) -> None:
    import savedmodel.compat.v1 as tf1

    model = _model_with(tmp_path, ["DecodeBmp"])
    with tf1.Graph().as_default(), tf1.Session() as sess:
        with pytest.raises(MissingExtraError, match=r"op DecodeBmp needs the 'image' extra"):
            tf1.saved_model.load(sess, ["serve"], str(model))


def test_load_with_extras_installed_is_unaffected(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    model = savedmodel.load(_model_with(tmp_path, ["DecodeGif"]))
    assert float(model.signatures["serving_default"](input=np.float32(1))["output"]) == 3.0


def test_ops_check_names_the_missing_extra(
    tmp_path: Path, no_pillow: None, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model_with(tmp_path, ["DecodeGif"])
    assert read_saved_model(model).meta_graphs
    assert cli_main(["ops", "--dir", str(model), "--check"]) == 1
    out = capsys.readouterr().out
    assert "op DecodeGif needs the 'image' extra: pip install 'savedmodel[image]'" in out
    assert cli_main(["ops", "--dir", str(model)]) == 0  # without --check: listed, not an error
