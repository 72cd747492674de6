"""MemoryError from an executor's own bookkeeping (outside any one kernel, which the plans already
wrap) reaches the caller as a typed ExecutionError, never raw (a fuzzed model hit one once)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

import savedmodel
from savedmodel.errors import ExecutionError


def _out_of_memory(*args, **kwargs):
    raise MemoryError()


def test_signature_call_turns_memory_error_into_execution_error(monkeypatch):
    model = savedmodel.load(ROOT / "examples" / "add_two")
    signature = model.signatures["serving_default"]
    assert float(signature(input=1.0)["output"]) == 3.0
    monkeypatch.setattr(signature.plan, "run", _out_of_memory)
    with pytest.raises(ExecutionError, match="out of memory"):
        signature(input=1.0)


def test_session_run_turns_memory_error_into_execution_error(monkeypatch):
    from savedmodel.runtime import session as session_module

    model = savedmodel.load(ROOT / "examples" / "add_two")
    session = model.signatures["serving_default"]._session
    plan_class = type(model.signatures["serving_default"].plan)
    monkeypatch.setattr(plan_class, "run", _out_of_memory)
    with pytest.raises(ExecutionError, match="out of memory"):
        session_module.GraphSession.run(session, [], {}, targets=[])


@pytest.mark.parametrize("count", [10**12, -1])
def test_impossible_output_count_is_a_format_error(count):
    """A number attr asking for 10**12 outputs used to allocate a value slot per output while
    compiling (a raw MemoryError in the fuzz smoke test); it is a corrupt graph."""
    from savedmodel.errors import FormatError
    from savedmodel.runtime.session import GraphSession
    from tests.graph_builder import F32, graph, node, placeholder, type_attr

    nodes = [placeholder("x"), node("s", "ShapeN", "x", N=count, T=type_attr(F32), out_type=type_attr(3))]
    with pytest.raises(FormatError, match=r"node 's' \(ShapeN\): attr 'N' asks for"):
        GraphSession(graph(*nodes)).run(["s:0"], {"x:0": [1.0]})


def test_format_decoding_kernels_check_against_the_callers_limits():
    """ParseTensor decodes a TensorProto through the format layer, whose size checks read the
    active limits: the kernel makes its call's limits active around the decoding."""
    from savedmodel.errors import LimitExceededError
    from savedmodel.format import tensor as tensor_format
    from savedmodel.policy import Limits, Policy
    from savedmodel.runtime.session import GraphSession
    from tests.graph_builder import F32, STR, const, graph, node, type_attr

    serialized = tensor_format.from_numpy(np.zeros(1000, np.float32)).SerializeToString()
    parse = node("p", "ParseTensor", "s", out_type=type_attr(F32))
    g = graph(const("s", np.array(serialized, dtype=object), dtype=STR), parse)
    assert GraphSession(g).run(["p:0"])[0].shape == (1000,)
    low = Policy(limits=Limits(max_bytes_per_tensor=1000))
    with pytest.raises(LimitExceededError, match="TensorProto"):
        GraphSession(g, policy=low).run(["p:0"])
