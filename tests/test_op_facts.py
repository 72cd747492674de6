"""The op facts the executor uses come from the kernel registry: each set's rule, a few members.

Facts TensorFlow's OpDefs state (reference inputs/outputs, is_stateful) are read from them; facts
only our kernels know (side effects, forwarding, constants, dataflow roles) are declared where the
kernel is registered. The generated index caches every fact's set (tests/test_registry.py checks
that it is current), so asking for one imports no kernel family.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from savedmodel.graph.model import DATAFLOW_PRIMITIVES
from savedmodel.graph.outputs import tf_op_defs
from savedmodel.ops import registry
from savedmodel.runtime import prepare


def _kernels() -> dict[str, registry.KernelDef]:
    return registry.all_kernels()


@pytest.mark.parametrize(
    "name",
    [
        "DATAFLOW_OPS",
        "REF_PRODUCERS",
        "REF_CONSUMERS",
        "ALIAS_FORWARDERS",
        "CONSTANT_OPS",
        "KEEP_IN_FUNCTIONS",
    ],
)
def test_executor_sets_name_only_ops_with_kernels(name):
    assert getattr(prepare, name) <= set(_kernels()), sorted(getattr(prepare, name) - set(_kernels()))


def test_reference_ops_are_those_whose_op_def_has_reference_args():
    op_defs = tf_op_defs()
    for op in _kernels():
        op_def = op_defs.get(op)
        ref_in = op_def is not None and any(arg.is_ref for arg in op_def.input_arg)
        ref_out = op_def is not None and any(arg.is_ref for arg in op_def.output_arg)
        assert (op in prepare.REF_CONSUMERS) == ref_in, op
        assert (op in prepare.REF_PRODUCERS) == ref_out, op
    producers = {"VariableV2", "Variable", "Assign", "AssignAdd", "ApplyAdam", "SparseApplyFtrl"}
    producers |= {"ScatterUpdate", "RefIdentity", "RefSwitch", "RefEnter", "RefNextIteration"}
    assert producers <= prepare.REF_PRODUCERS
    consumers = {"Assign", "IsVariableInitialized", "ScatterMax", "ApplyGradientDescent", "RefMerge"}
    assert consumers <= prepare.REF_CONSUMERS
    assert "IsVariableInitialized" not in prepare.REF_PRODUCERS and "VariableV2" not in prepare.REF_CONSUMERS
    plain = {"Identity", "ReadVariableOp", "VarHandleOp", "AssignVariableOp", "ResourceApplyAdam", "Switch"}
    assert not plain & (prepare.REF_PRODUCERS | prepare.REF_CONSUMERS)


def test_every_reference_optimizer_update_takes_and_gives_references():
    from savedmodel.ops import training

    assert training.REF_OPS <= prepare.REF_CONSUMERS & prepare.REF_PRODUCERS
    assert training.REF_OPS == {op for op in prepare.REF_CONSUMERS if _kernels()[op].family == "training"}


def test_side_effects_decide_what_a_function_body_keeps():
    kept = {"AssignVariableOp", "AssignAddVariableOp", "ResourceScatterUpdate", "InitializeTableV2"}
    kept |= {"LookupTableInsertV2", "SaveV2", "MergeV2Checkpoints", "Assert", "PrintV2", "If", "While"}
    kept |= {"StatefulPartitionedCall", "DestroyResourceOp", "Assign", "RandomUniform", "TensorArrayWriteV3"}
    assert kept <= prepare.KEEP_IN_FUNCTIONS
    # Creating a handle, a table or a constant, reading state, routing values: no side effect,
    # whatever TensorFlow's OpDef.is_stateful says.
    pruned = {"VarHandleOp", "HashTableV2", "Const", "ReadVariableOp", "StatelessIf", "StatelessWhile"}
    pruned |= {"Identity", "LookupTableFindV2", "VariableV2", "Switch"}
    assert not pruned & prepare.KEEP_IN_FUNCTIONS
    for op in _kernels():
        assert prepare.is_stateful(op) == (op in prepare.KEEP_IN_FUNCTIONS) == _kernels()[op].side_effects, op
    assert not prepare.is_stateful("NoSuchOp")


def test_tensorflow_statefulness_is_its_own_fact():
    op_defs = tf_op_defs()
    tf_stateful = registry.ops_with("tf_stateful")
    assert tf_stateful == {op for op in _kernels() if op in op_defs and op_defs[op].is_stateful}
    assert {"VarHandleOp", "ReadVariableOp", "HashTableV2", "RandomUniform", "If"} <= tf_stateful
    assert not {"Assign", "StatelessIf", "Const"} & tf_stateful  # TF1 ref ops are not marked stateful
    assert "VarHandleOp" not in registry.ops_with("side_effects")


def test_forwarding_and_constants():
    assert prepare.ALIAS_FORWARDERS == {"Identity", "StopGradient", "PreventGradient"}
    # Snapshot returns a copy in TensorFlow (a variable read through it keeps the value it read);
    # LoopCond forwards the loop predicate in the dataflow executor.
    assert prepare._PASS_OPS == prepare.ALIAS_FORWARDERS | {"Snapshot", "LoopCond"}
    assert prepare.CONSTANT_OPS == {"Const", "HostConst"}
    for op in prepare.ALIAS_FORWARDERS:
        assert _kernels()[op].forwards_input, op


def test_dataflow_ops_and_their_roles():
    assert prepare.DATAFLOW_OPS == {*DATAFLOW_PRIMITIVES, "LoopCond", "ControlTrigger"}
    kinds = prepare.KINDS
    assert kinds["Switch"] == kinds["RefSwitch"] == prepare.SWITCH
    assert kinds["Merge"] == kinds["RefMerge"] == prepare.MERGE
    assert kinds["Enter"] == kinds["RefEnter"] == prepare.ENTER
    assert kinds["Exit"] == kinds["RefExit"] == prepare.EXIT
    assert kinds["NextIteration"] == kinds["RefNextIteration"] == prepare.NEXT
    assert kinds["ControlTrigger"] == prepare.TRIGGER
    assert kinds["LoopCond"] == prepare.REGULAR
    assert set(kinds) == prepare.DATAFLOW_OPS


def test_unknown_fact_is_refused():
    with pytest.raises(ValueError, match="unknown op fact"):
        registry.ops_with("stateful")


def test_a_kernel_registered_outside_the_shipped_families_has_its_facts(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.kernel("MyLogger", family="custom", side_effects=True)(lambda ctx, x: None)
    assert registry.has_fact("MyLogger", "side_effects") and prepare.is_stateful("MyLogger")
    assert "MyLogger" in registry.ops_with("side_effects")
    assert not registry.has_fact("MyLogger", "tf_stateful")


def test_fact_queries_import_no_kernel_family():
    code = (
        "import json, sys\n"
        "from savedmodel.runtime import plan\n"
        "from savedmodel.ops import registry\n"
        "assert registry.has_fact('AssignVariableOp', 'side_effects')\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('savedmodel.ops.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [
        "savedmodel.ops._buffers",
        "savedmodel.ops._common",
        "savedmodel.ops._index",
        "savedmodel.ops._resources",
        "savedmodel.ops.registry",
    ]
