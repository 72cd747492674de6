"""Cold start: commands and models that do not need the heavy optional modules never import them.

Importing ml_dtypes alone takes most of a second on a small machine, so it is imported only when
a bfloat16/float8/int4 dtype is first needed; grpc, starlette, uvicorn, scipy, PIL, simplejpeg and
cramjam only by the commands and kernels that use them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT

HEAVY = ("ml_dtypes", "grpc", "starlette", "uvicorn", "scipy", "PIL", "simplejpeg", "cramjam")

RUN_ADD_TWO = [
    "run", "--dir", "examples/add_two", "--tag_set", "serve",
    "--signature_def", "serving_default", "--input_exprs", "input=10",
]  # fmt: skip


def _imported_by(args: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m savedmodel ARGS`; the top-level modules it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "savedmodel", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name.split(".", 1)[0])
    return result, modules


def _python(code: str) -> Any:
    """Run `python -c CODE` in a fresh interpreter; the JSON it prints."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["show", "--dir", "examples/add_two", "--all"],
        ["variables", "--dir", "examples/add_two"],
        ["scan", "--dir", "examples/add_two"],
        RUN_ADD_TWO,
    ],
    ids=["help", "show", "variables", "scan", "run"],
)
def test_cli_imports_no_heavy_module(args):
    result, modules = _imported_by(args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "savedmodel" in modules  # the importtime lines were read
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    if args is RUN_ADD_TWO:
        assert result.stdout == "Result for output key output:\n12.0\n"


def test_loading_and_running_a_model_imports_no_heavy_module():
    code = (
        "import json, sys, savedmodel\n"
        "m = savedmodel.load('examples/add_two')\n"
        "out = float(m.signatures['serving_default'](input=1.0)['output'])\n"
        f"print(json.dumps([out, sorted(n for n in {HEAVY!r} if n in sys.modules)]))\n"
    )
    value, heavy = _python(code)
    assert value == 3.0
    assert heavy == []


def test_ml_dtypes_types_resolve_on_first_use():
    """The lazy table gives what the eager one did: names without importing ml_dtypes, dtypes on use."""
    code = (
        "import json, sys\n"
        "from savedmodel.format import dtypes as d\n"
        "from savedmodel.ops import _common as c\n"
        "DT = d.DT\n"
        "out = {}\n"
        "out['names'] = [d.dtype_name(DT.DT_BFLOAT16), d.dtype_name(DT.DT_FLOAT8_E4M3FN + 100),\n"
        "                d.from_name('bfloat16'), d.is_floating(DT.DT_BFLOAT16),\n"
        "                c.is_float(d.as_numpy_dtype(DT.DT_FLOAT)),\n"
        "                c.is_half(d.as_numpy_dtype(DT.DT_HALF))]\n"
        "out['before'] = 'ml_dtypes' in sys.modules\n"
        "import ml_dtypes, numpy as np\n"
        "out['from_numpy'] = [d.from_numpy(ml_dtypes.bfloat16), d.from_numpy(np.dtype('float8_e5m2'))]\n"
        "bf = d.as_numpy_dtype(DT.DT_BFLOAT16)\n"
        "out['dtypes'] = [bf == np.dtype(ml_dtypes.bfloat16),\n"
        "                 d.as_numpy_dtype(DT.DT_INT4) == np.dtype(ml_dtypes.int4),\n"
        "                 d.from_name('float8_e4m3fn'), d.dtype_name(DT.DT_INT2)]\n"
        "out['kernels'] = [c.is_float(bf), c.is_half(bf), c.is_bfloat16(bf),\n"
        "                  c.is_float(np.dtype(ml_dtypes.float8_e4m3fn)),\n"
        "                  c.is_bfloat16(np.dtype(np.float16))]\n"
        "print(json.dumps(out))\n"
    )
    out = _python(code)
    from savedmodel.format.dtypes import DT

    assert out["names"] == ["bfloat16", "float8_e4m3fn_ref", DT.DT_BFLOAT16, True, True, True]
    assert out["before"] is False
    assert out["from_numpy"] == [DT.DT_BFLOAT16, DT.DT_FLOAT8_E5M2]
    assert out["dtypes"] == [True, True, DT.DT_FLOAT8_E4M3FN, "int2"]
    assert out["kernels"] == [True, True, True, True, False]


def test_help_imports_neither_numpy_nor_protobuf():
    """`savedmodel --help` is printed from the command table; no subcommand module is imported."""
    result, modules = _imported_by(["--help"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "export-weights" in result.stdout
    assert not modules & {"numpy", "google"}, sorted(modules & {"numpy", "google"})


def test_each_command_module_registers_the_commands_the_table_gives_it():
    import argparse
    import importlib

    from savedmodel.cli import commands

    for module_name in {c.module for c in commands.COMMANDS}:
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(f"savedmodel.cli.{module_name}").add_parser(subparsers)
        registered = {action.dest: action.help for action in subparsers._choices_actions}
        expected = {c.name: c.help for c in commands.COMMANDS if c.module == module_name}
        assert registered == expected, module_name
