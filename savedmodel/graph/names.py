"""Tensor and input names as TensorFlow writes them.

Graph nodes name their inputs `node`, `node:3` or `^node` (control input).
Function bodies write `arg_name` (a function argument), `node:out_arg:2` (the
third tensor of the output argument `out_arg` of `node`) or `^node`.
"""

from __future__ import annotations

from typing import NamedTuple

from savedmodel.errors import InvalidInputError


class InputRef(NamedTuple):
    """One parsed input: the producing node, its output index, and whether it is a control edge."""

    node: str
    index: int
    control: bool


def parse_input(text: str) -> InputRef:
    """'x' -> (x, 0), 'x:2' -> (x, 2), '^x' -> control edge on x."""
    if text.startswith("^"):
        return InputRef(text[1:], -1, True)
    name, sep, index = text.rpartition(":")
    if sep and index.isdigit():
        return InputRef(name, int(index), False)
    return InputRef(text, 0, False)


def parse_tensor_name(text: str) -> tuple[str, int]:
    """A user-supplied tensor name 'node:0' (or 'node', meaning output 0) -> (node, index)."""
    if not isinstance(text, str) or not text or text.startswith("^"):
        raise InvalidInputError(f"not a tensor name: {text!r} (expected 'node:index')")
    ref = parse_input(text)
    return ref.node, ref.index


def tensor_name(node: str, index: int = 0) -> str:
    return f"{node}:{index}"


class FunctionInputRef(NamedTuple):
    """A function-body input: either an argument or (node, output arg, index), or a control edge."""

    node: str
    out_arg: str | None
    index: int
    control: bool


def parse_function_input(text: str) -> FunctionInputRef:
    """'x' (argument or single-output node), 'n:out:1', '^n'."""
    if text.startswith("^"):
        return FunctionInputRef(text[1:], None, -1, True)
    parts = text.split(":")
    if len(parts) == 1:
        return FunctionInputRef(text, None, 0, False)
    if len(parts) == 2:
        # Not written by TensorFlow in function bodies, but accept 'node:idx'.
        if parts[1].isdigit():
            return FunctionInputRef(parts[0], None, int(parts[1]), False)
        return FunctionInputRef(parts[0], parts[1], 0, False)
    node = ":".join(parts[:-2])
    index = int(parts[-1]) if parts[-1].isdigit() else 0
    return FunctionInputRef(node, parts[-2], index, False)
