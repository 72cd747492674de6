"""The executor on hand-built graphs: pruning, feeds, dead tensors, frames, functions, limits, errors."""

from __future__ import annotations

import numpy as np
import pytest

from savedmodel.errors import ExecutionError, LimitExceededError, NotFoundError, UnsupportedOpError
from savedmodel.policy import Limits, Policy
from savedmodel.runtime.session import GraphSession
from tests.graph_builder import (
    DT,
    const,
    func_attr,
    function,
    graph,
    node,
    placeholder,
    type_attr,
    type_list,
)

F = DT.DT_FLOAT
I32 = DT.DT_INT32


def test_feeds_fetches_and_pruning() -> None:
    g = graph(
        placeholder("x"),
        const("two", np.float32(2)),
        node("y", "AddV2", "x", "two", T=type_attr(F)),
        node("unused", "NoSuchOp", "x"),
    )
    sess = GraphSession(g)
    assert sess.run("y:0", {"x:0": 3.0}) == np.float32(5)
    # Feeding an intermediate tensor cuts the edge to its producer (x need not be fed).
    assert sess.run("y:0", {"two:0": np.float32(10), "x:0": 1.0}) == np.float32(11)
    assert sess.run(["two:0", "y:0"], {"x": 1.0})[1] == np.float32(3)


def test_placeholder_not_fed() -> None:
    g = graph(placeholder("x"), node("y", "Identity", "x", T=type_attr(F)))
    with pytest.raises(ExecutionError, match="must feed a value for placeholder tensor 'x:0'"):
        GraphSession(g).run("y:0")


def test_unsupported_ops_reported_together() -> None:
    body = function("f", [("a", F)], [("out", F)], [node("b", "AlsoMissing", "a")], {"out": "b:y:0"})
    g = graph(
        placeholder("x"),
        node("y", "NoSuchOp", "x"),
        node("call", "PartitionedCall", "y", f=func_attr("f"), Tin=type_list(F), Tout=type_list(F)),
        functions=(body,),
    )
    with pytest.raises(UnsupportedOpError) as info:
        GraphSession(g).prepare(["x:0"], ["call:0"])
    assert info.value.missing == {"AlsoMissing": ["f/b"], "NoSuchOp": ["y"]}
    assert "NoSuchOp (used by y)" in str(info.value)


def test_unknown_tensor() -> None:
    g = graph(placeholder("x"))
    with pytest.raises(NotFoundError, match="nope"):
        GraphSession(g).run("nope:0")
    with pytest.raises(NotFoundError, match="has 1 output"):
        GraphSession(g).run("x:3", {"x:0": 1.0})


def cond_graph():
    # y = pred ? x * 3 : x + 10, with Switch / Merge
    return graph(
        placeholder("x"),
        placeholder("pred", DT.DT_BOOL),
        node("sw", "Switch", "x", "pred", T=type_attr(F)),
        node("pivot_t", "Identity", "sw:1", T=type_attr(F)),
        node("pivot_f", "Identity", "sw", T=type_attr(F)),
        const("three", np.float32(3), "^pivot_t"),
        node("mul", "Mul", "sw:1", "three", T=type_attr(F)),
        const("ten", np.float32(10), "^pivot_f"),
        node("add", "AddV2", "sw", "ten", T=type_attr(F)),
        node("merge", "Merge", "add", "mul", T=type_attr(F), N=2),
        node("after_true", "Identity", "mul", T=type_attr(F)),
    )


def test_switch_merge_dead_tensors() -> None:
    sess = GraphSession(cond_graph())
    assert sess.run(["merge:0", "merge:1"], {"x:0": 2.0, "pred:0": True}) == [6.0, 1]
    assert sess.run(["merge:0", "merge:1"], {"x:0": 2.0, "pred:0": False}) == [12.0, 0]
    with pytest.raises(ExecutionError, match="dead"):
        sess.run("after_true:0", {"x:0": 2.0, "pred:0": False})


def while_graph(limit_input: str = "n"):
    # i = 0; acc = x; while i < n: acc = acc * 2; i += 1
    t = {"T": type_attr(I32)}
    tf = {"T": type_attr(F)}
    return graph(
        placeholder("x"),
        placeholder("n", I32),
        const("zero", np.int32(0)),
        node("enter_i", "Enter", "zero", frame_name="loop", **t),
        node("enter_acc", "Enter", "x", frame_name="loop", **tf),
        node("enter_n", "Enter", limit_input, frame_name="loop", is_constant=True, **t),
        node("merge_i", "Merge", "enter_i", "next_i", N=2, **t),
        node("merge_acc", "Merge", "enter_acc", "next_acc", N=2, **tf),
        node("less", "Less", "merge_i", "enter_n", **t),
        node("cond", "LoopCond", "less"),
        node("switch_i", "Switch", "merge_i", "cond", **t),
        node("switch_acc", "Switch", "merge_acc", "cond", **tf),
        node("body_i", "Identity", "switch_i:1", **t),
        node("body_acc", "Identity", "switch_acc:1", **tf),
        const("one", np.int32(1), "^body_i"),
        const("two", np.float32(2), "^body_i"),
        node("inc", "AddV2", "body_i", "one", **t),
        node("dbl", "Mul", "body_acc", "two", **tf),
        node("next_i", "NextIteration", "inc", **t),
        node("next_acc", "NextIteration", "dbl", **tf),
        node("exit_i", "Exit", "switch_i", **t),
        node("exit_acc", "Exit", "switch_acc", **tf),
    )


def test_tf1_while_loop_frames() -> None:
    sess = GraphSession(while_graph())
    assert sess.run(["exit_acc:0", "exit_i:0"], {"x:0": 1.5, "n:0": 4}) == [24.0, 4]
    assert sess.run(["exit_acc:0", "exit_i:0"], {"x:0": 1.5, "n:0": 0}) == [1.5, 0]


def test_tf1_while_iteration_limit() -> None:
    sess = GraphSession(while_graph(), policy=Policy(limits=Limits(max_while_iterations=3)))
    assert sess.run("exit_i:0", {"x:0": 1.0, "n:0": 3}) == 3
    with pytest.raises(LimitExceededError, match="max_while_iterations"):
        sess.run("exit_i:0", {"x:0": 1.0, "n:0": 4})


def add_function(name: str = "add_t"):
    # Generic over T: the body's attrs refer to the call's attr T.
    plus = node("plus", "AddV2", "a", "b")
    plus.attr["T"].placeholder = "T"
    return function(name, [("a", "T"), ("b", "T")], [("sum", "T")], [plus], {"sum": "plus:z:0"})


def test_function_attr_placeholders_and_call_by_op_name() -> None:
    g = graph(
        placeholder("x", I32),
        placeholder("y", I32),
        node("call", "add_t", "x", "y", T=type_attr(I32)),
        node(
            "pcall",
            "PartitionedCall",
            "x",
            "y",
            f=func_attr("add_t", T=type_attr(I32)),
            Tin=type_list(I32, I32),
            Tout=type_list(I32),
        ),
        functions=(add_function(),),
    )
    sess = GraphSession(g)
    x, y = sess.run(["call:0", "pcall:0"], {"x:0": 2, "y:0": 40})
    assert x == 42 and x.dtype == np.int32 and y == 42


def functional_graph():
    double = function(
        "double",
        [("v", F)],
        [("out", F)],
        [const("k", np.float32(2)), node("m", "Mul", "v", "k:output:0", T=type_attr(F))],
        {"out": "m:z:0"},
    )
    negate = function(
        "negate", [("v", F)], [("out", F)], [node("m", "Neg", "v", T=type_attr(F))], {"out": "m:y:0"}
    )
    cond = function(
        "cond",
        [("i", I32), ("v", F)],
        [("ok", DT.DT_BOOL)],
        [const("lim", np.int32(5)), node("lt", "Less", "i", "lim:output:0", T=type_attr(I32))],
        {"ok": "lt:z:0"},
    )
    body = function(
        "body",
        [("i", I32), ("v", F)],
        [("i2", I32), ("v2", F)],
        [
            const("one", np.int32(1)),
            node("inc", "AddV2", "i", "one:output:0", T=type_attr(I32)),
            node("twice", "PartitionedCall", "v", f=func_attr("double"), Tin=type_list(F), Tout=type_list(F)),
        ],
        {"i2": "inc:z:0", "v2": "twice:output:0"},
    )
    return graph(
        placeholder("x"),
        placeholder("p", DT.DT_BOOL),
        placeholder("k", I32),
        placeholder("start", I32),
        node(
            "if",
            "StatelessIf",
            "p",
            "x",
            then_branch=func_attr("double"),
            else_branch=func_attr("negate"),
            Tcond=type_attr(DT.DT_BOOL),
            Tin=type_list(F),
            Tout=type_list(F),
        ),
        node(
            "case",
            "Case",
            "k",
            "x",
            branches=_func_list("double", "negate"),
            Tin=type_list(F),
            Tout=type_list(F),
        ),
        node(
            "while",
            "StatelessWhile",
            "start",
            "x",
            cond=func_attr("cond"),
            body=func_attr("body"),
            T=type_list(I32, F),
        ),
        functions=(double, negate, cond, body),
    )


def _func_list(*names: str):
    from savedmodel.proto import attr_value_pb2

    value = attr_value_pb2.AttrValue()
    for name in names:
        value.list.func.add(name=name)
    return value


def test_functional_if_case_while() -> None:
    sess = GraphSession(functional_graph())
    feeds = {"x:0": 3.0, "p:0": True, "k:0": 1, "start:0": 2}
    assert sess.run(["if:0", "case:0", "while:0", "while:1"], feeds) == [6.0, -3.0, 5, 24.0]
    feeds.update({"p:0": False, "k:0": 7, "start:0": 9})
    # Out-of-range Case indices run the last branch; a loop whose cond is false at once runs 0 times.
    assert sess.run(["if:0", "case:0", "while:0", "while:1"], feeds) == [-3.0, -3.0, 9, 3.0]


def test_functional_while_limit() -> None:
    sess = GraphSession(functional_graph(), policy=Policy(limits=Limits(max_while_iterations=2)))
    with pytest.raises(LimitExceededError, match="max_while_iterations"):
        sess.run("while:1", {"x:0": 1.0, "start:0": 0})


def test_function_depth_limit() -> None:
    recurse = function(
        "recurse", [("v", F)], [("out", F)], [node("again", "recurse", "v")], {"out": "again:out:0"}
    )
    g = graph(placeholder("x"), node("call", "recurse", "x"), functions=(recurse,))
    sess = GraphSession(g, policy=Policy(limits=Limits(max_function_depth=20)))
    with pytest.raises(LimitExceededError, match="depth"):
        sess.run("call:0", {"x:0": 1.0})


def test_kernel_error_names_node() -> None:
    g = graph(
        placeholder("a", I32), placeholder("b", I32), node("div", "FloorDiv", "a", "b", T=type_attr(I32))
    )
    with pytest.raises(ExecutionError, match="'div'"):
        feeds = {"a:0": np.array([1, 2], np.int32), "b:0": np.array([1, 2, 3], np.int32)}
        GraphSession(g).run("div:0", feeds)


def test_resource_variables_persist_across_runs() -> None:
    g = graph(
        node("v", "VarHandleOp", dtype=type_attr(F), shared_name="v"),
        placeholder("init"),
        node("assign", "AssignVariableOp", "v", "init", dtype=type_attr(F)),
        const("one", np.float32(1)),
        node("bump", "AssignAddVariableOp", "v", "one", dtype=type_attr(F)),
        node("read", "ReadVariableOp", "v", "^bump", dtype=type_attr(F)),
        node("is_init", "VarIsInitializedOp", "v"),
    )
    sess = GraphSession(g)
    assert not sess.run("is_init:0")
    sess.run("assign", {"init:0": 10.0})
    assert sess.run("read:0") == 11.0
    assert sess.run("read:0") == 12.0


def test_ref_variables() -> None:
    g = graph(
        node("v", "VariableV2", dtype=type_attr(F), shape=_shape()),
        const("five", np.float32(5)),
        node("assign", "Assign", "v", "five", T=type_attr(F)),
        node("add", "AssignAdd", "v", "five", T=type_attr(F)),
        node("read", "Identity", "v", T=type_attr(F)),
        node("doubled", "AddV2", "v", "v", T=type_attr(F)),
        node("ok", "IsVariableInitialized", "v", dtype=type_attr(F)),
    )
    sess = GraphSession(g)
    with pytest.raises(ExecutionError, match="uninitialized"):
        sess.run("read:0")
    assert not sess.run("ok:0")
    sess.run("assign")
    sess.run("add")
    assert sess.run(["read:0", "doubled:0", "ok:0"]) == [10.0, 20.0, True]


def _shape():
    from savedmodel.proto import attr_value_pb2

    return attr_value_pb2.AttrValue(shape={})


def test_resource_gather_and_lookup_tables() -> None:
    s = DT.DT_STRING
    g = graph(
        node("emb", "VarHandleOp", dtype=type_attr(F), shared_name="emb"),
        placeholder("table_init"),
        node("assign", "AssignVariableOp", "emb", "table_init", dtype=type_attr(F)),
        placeholder("ids", I32),
        node("gather", "ResourceGather", "emb", "ids", dtype=type_attr(F), Tindices=type_attr(I32)),
        node(
            "table",
            "HashTableV2",
            key_dtype=type_attr(s),
            value_dtype=type_attr(DT.DT_INT64),
            shared_name="t",
        ),
        const("keys", np.array([b"a", b"b"], dtype=object)),
        const("values", np.array([1, 2], np.int64)),
        node("init", "InitializeTableV2", "table", "keys", "values"),
        placeholder("words", s),
        const("default", np.int64(-1)),
        node("find", "LookupTableFindV2", "table", "words", "default"),
        node("size", "LookupTableSizeV2", "table"),
        node("mtable", "MutableHashTableV2", key_dtype=type_attr(DT.DT_INT64), value_dtype=type_attr(F)),
        node("insert", "LookupTableInsertV2", "mtable", "values", "two_floats"),
        const("two_floats", np.array([0.5, 1.5], np.float32)),
        const("fdefault", np.float32(0)),
        node("mfind", "LookupTableFindV2", "mtable", "values", "fdefault"),
    )
    sess = GraphSession(g)
    sess.run("assign", {"table_init:0": np.arange(6, dtype=np.float32).reshape(3, 2)})
    np.testing.assert_array_equal(
        sess.run("gather:0", {"ids:0": np.array([2, 0], np.int32)}), [[4, 5], [0, 1]]
    )
    with pytest.raises(ExecutionError, match="not in"):
        sess.run("gather:0", {"ids:0": np.array([3], np.int32)})
    with pytest.raises(ExecutionError, match="not initialized"):
        sess.run("find:0", {"words:0": np.array([b"a"], dtype=object)})
    sess.run("init")
    found = sess.run("find:0", {"words:0": np.array([[b"b", b"zz"]], dtype=object)})
    assert found.dtype == np.int64 and found.tolist() == [[2, -1]]
    assert sess.run("size:0") == 2
    sess.run("insert")
    assert sess.run("mfind:0").tolist() == [0.5, 1.5]


def test_tensor_list_and_tensor_array_ops() -> None:
    shape = const("shape", np.array([2], np.int32))
    g = graph(
        shape,
        const("zero", np.int32(0)),
        const("row", np.array([1.0, 2.0], np.float32)),
        const("row2", np.array([3.0, 4.0], np.float32)),
        node(
            "empty", "EmptyTensorList", "shape", "zero", element_dtype=type_attr(F), shape_type=type_attr(I32)
        ),
        node("push", "TensorListPushBack", "empty", "row", element_dtype=type_attr(F)),
        node("push2", "TensorListPushBack", "push", "row2", element_dtype=type_attr(F)),
        node("pop", "TensorListPopBack", "push2", "shape", element_dtype=type_attr(F)),
        node("len", "TensorListLength", "pop"),
        node("stack", "TensorListStack", "push2", "shape", element_dtype=type_attr(F)),
        const("three", np.int32(3)),
        node("ta", "TensorArrayV3", "three", dtype=type_attr(F), dynamic_size=True),
        node("w0", "TensorArrayWriteV3", "ta", "zero", "row", "ta:1", T=type_attr(F)),
        node("split", "TensorArraySplitV3", "ta", "values", "lengths", "w0", T=type_attr(F)),
        const("values", np.arange(6, dtype=np.float32)),
        const("lengths", np.array([1, 2, 3], np.int64)),
        node("concat", "TensorArrayConcatV3", "ta", "split", dtype=type_attr(F)),
        node("size", "TensorArraySizeV3", "ta", "split"),
    )
    sess = GraphSession(g)
    popped, length, stacked = sess.run(["pop:1", "len:0", "stack:0"])
    assert popped.tolist() == [3.0, 4.0] and length == 1 and stacked.tolist() == [[1, 2], [3, 4]]
    value, lengths, size = sess.run(["concat:0", "concat:1", "size:0"])
    assert value.tolist() == [0, 1, 2, 3, 4, 5] and lengths.tolist() == [1, 2, 3] and size == 3


def test_memory_limits() -> None:
    g = graph(
        placeholder("x"),
        node("y", "AddV2", "x", "x", T=type_attr(F)),
        node("z", "AddV2", "y", "y", T=type_attr(F)),
    )
    big = np.zeros(1000, np.float32)
    per_tensor = GraphSession(g, policy=Policy(limits=Limits(max_bytes_per_tensor=2000)))
    with pytest.raises(LimitExceededError, match="max_bytes_per_tensor"):
        per_tensor.run("z:0", {"x:0": big})
    per_call = GraphSession(g, policy=Policy(limits=Limits(max_bytes_per_call=6000)))
    with pytest.raises(LimitExceededError, match="max_bytes_per_call"):
        per_call.run("z:0", {"x:0": big})
    assert per_call.run("y:0", {"x:0": big}).shape == (1000,)


def test_intermediate_values_are_freed_after_their_last_reader() -> None:
    """A chain of 8 MB intermediates: each is dropped once its reader ran, so the call holds
    two at a time, not all of them until it ends; fetched and twice-read values are kept."""
    import tracemalloc

    chain = [placeholder("x"), const("one", np.float32(1))]
    for i in range(8):
        chain.append(node(f"y{i}", "AddV2", f"y{i - 1}" if i else "x", "one", T=type_attr(F)))
    chain.append(node("twice", "AddV2", "y3", "y7", T=type_attr(F)))
    sess = GraphSession(graph(*chain))
    x = np.zeros(2**21, np.float32)  # 8 MiB
    sess.run(["y7:0", "twice:0"], {"x:0": x})
    tracemalloc.start()
    y7, twice = sess.run(["y7:0", "twice:0"], {"x:0": x})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert y7[0] == np.float32(8) and twice[0] == np.float32(12)
    assert peak < 5 * x.nbytes  # y3 kept for `twice`, y7 and `twice` fetched, one in flight
