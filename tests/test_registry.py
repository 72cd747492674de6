"""The kernel registry's op index is complete and every op resolves to its family."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

from savedmodel.ops import registry


def test_op_index_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_ops_index.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_index_lists_every_registered_kernel():
    from savedmodel.ops._index import OP_FAMILY_MODULES

    assert set(OP_FAMILY_MODULES) == set(registry.all_kernels())


def test_loading_a_model_imports_only_the_families_it_uses():
    code = (
        "import sys, savedmodel\n"
        "m = savedmodel.load('examples/add_two')\n"
        "print(float(m.signatures['serving_default'](input=1.0)['output']))\n"
        "print(sorted(n.rsplit('.', 1)[1] for n in sys.modules if n.startswith('savedmodel.ops.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    value, families = result.stdout.splitlines()
    assert value == "3.0"
    assert "image" not in families and "nn" not in families


def test_ops_doc_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_ops_doc.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_stateless_control_flow_has_no_side_effects_as_in_tensorflow():
    """StatelessIf/Case/While may be pruned from a function body when nothing uses them (TF's
    OpDefs mark them not stateful); If/Case/While are kept."""
    from savedmodel.graph.outputs import tf_op_defs

    op_defs = tf_op_defs()
    for op in ("If", "Case", "While", "StatelessIf", "StatelessCase", "StatelessWhile"):
        assert registry.lookup(op).side_effects == op_defs[op].is_stateful, op
        assert registry.has_fact(op, "tf_stateful") == op_defs[op].is_stateful, op


def test_each_note_of_a_family_table_reaches_its_kernel():
    """docs/ops.md's notes come from the kernels' registrations; a family's NOTES table names
    only ops that module registers with `notes=NOTES`."""
    import importlib

    kernels = registry.all_kernels()
    for module_name in registry.family_modules():
        module = importlib.import_module(f"savedmodel.ops.{module_name}")
        for op, note in getattr(module, "NOTES", {}).items():
            assert op in kernels and kernels[op].notes == note, (module_name, op)
    assert "half to even" in kernels["Round"].notes and "RE2" in kernels["RegexReplace"].notes
