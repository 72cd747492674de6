"""Kahn's order with a stack (savedmodel.graph.order), the one the executor and `show` use."""

from savedmodel.graph.order import stack_order


def test_the_stack_decides_ties_and_cycles_stay_out():
    consumers = {"a": ["c"], "b": ["c"], "c": ["d"], "x": ["y"], "y": ["x"]}
    pending = {"a": 0, "b": 0, "c": 2, "d": 1, "x": 1, "y": 1}
    # "b" pushed last goes first; "c" waits for both; the x <-> y cycle is never placed
    assert stack_order(["a", "b"], consumers, pending) == ["b", "a", "c", "d"]


def test_consumers_without_entries_are_leaves():
    assert stack_order(["only"], {}, {"only": 0}) == ["only"]
