"""The errors savedmodel raises. Every one derives from SavedModelError."""

from __future__ import annotations


class SavedModelError(Exception):
    """Base class of every error savedmodel raises on purpose."""


class FormatError(SavedModelError):
    """A file is missing, truncated, corrupt or not of the expected format."""


class NotFoundError(SavedModelError, LookupError):
    """A named thing (tag set, signature, tensor, node, function, model) does not exist."""


class InvalidInputError(SavedModelError, ValueError):
    """The caller's input is wrong: unknown or missing names, bad dtype or shape, bad syntax."""


class UnsupportedOpError(SavedModelError):
    """The graph uses ops savedmodel has no kernel for.

    `missing` maps each op type to the names of the nodes that use it.
    """

    def __init__(self, missing: dict[str, list[str]], where: str = "") -> None:
        self.missing = {op: sorted(nodes) for op, nodes in sorted(missing.items())}
        parts = []
        for op, nodes in self.missing.items():
            shown = ", ".join(nodes[:5]) + (f", ... ({len(nodes)} nodes)" if len(nodes) > 5 else "")
            parts.append(f"{op} (used by {shown})")
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unsupported ops: " + "; ".join(parts))


class MissingExtraError(SavedModelError):
    """The model uses ops whose kernels need an optional extra that is not installed.

    `missing` maps each extra ("image", "special") to the ops that need it.
    """

    def __init__(self, missing: dict[str, list[str]], where: str = "") -> None:
        self.missing = {extra: sorted(ops) for extra, ops in sorted(missing.items())}
        prefix = f"{where}: " if where else ""
        super().__init__(prefix + "; ".join(extra_hint(extra, ops) for extra, ops in self.missing.items()))


def extra_hint(extra: str, ops: list[str]) -> str:
    """'ops DecodeGif, EncodeJpeg need the 'image' extra: pip install 'savedmodel[image]''."""
    subject = f"ops {', '.join(ops)} need" if len(ops) > 1 else f"op {ops[0]} needs"
    return f"{subject} the '{extra}' extra: pip install 'savedmodel[{extra}]'"


class ExecutionError(SavedModelError):
    """An op failed while running (TensorFlow would raise InvalidArgumentError and the like)."""

    def __init__(self, message: str, node: str | None = None, op: str | None = None) -> None:
        self.node = node
        self.op = op
        where = f"node {node!r} ({op}): " if node else ""
        super().__init__(where + message)


class PolicyError(SavedModelError):
    """The safety policy refused something (file-system ops, paths escaping the model, pickle)."""


class LimitExceededError(PolicyError):
    """A configured resource limit (memory, iterations, depth, sizes) was exceeded."""


class DeadlineExceededError(LimitExceededError):
    """A call ran longer than its wall-clock limit (policy limit max_call_seconds)."""


class RefusedOpError(PolicyError):
    """The safety policy refuses ops the graph (or the part of it a signature runs) uses.

    `refused` maps each op type to the names of the nodes that use it ("fn/node" inside functions).
    """

    def __init__(self, refused: dict[str, list[str]], where: str = "") -> None:
        self.refused = {op: sorted(nodes) for op, nodes in sorted(refused.items())}
        listing = "; ".join(f"{op} ({', '.join(nodes[:3])})" for op, nodes in self.refused.items())
        prefix = f"{where} " if where else ""
        super().__init__(
            f"{prefix}uses ops that touch the file system: {listing}; "
            "pass allow_file_access=True (CLI: --allow_file_access) to run it anyway"
        )


class UnsupportedError(SavedModelError, NotImplementedError, AttributeError):
    """A feature of the API savedmodel imitates that it does not implement (a Keras layer, a
    save format...); the message names what to use instead where there is something.

    Also an AttributeError, raised for names the TF-shaped facade lacks (`tf.GradientTape`), so
    `hasattr(tf, name)` and `getattr(tf, name, default)` keep working."""
