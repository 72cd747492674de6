"""Safety policy: what a loaded model may touch, and the resource limits a run obeys.

A SavedModel is a program. By default savedmodel refuses ops that reach outside
the model (file-system reads and writes, printing to files) and asset paths
that escape the model directory. Callers opt in with `Policy(allow_file_access=True)`
or the CLI flag `--allow_file_access`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel.errors import PolicyError
from savedmodel.proto import graph_pb2, meta_graph_pb2

# Ops refused unless file access is allowed. saved_model_cli scan's default
# denylist is ReadFile, WriteFile and PrintV2; we refuse a few more by default.
SCAN_DEFAULT_DENYLIST: tuple[str, ...] = ("ReadFile", "WriteFile", "PrintV2")
FILE_ACCESS_OPS: frozenset[str] = frozenset(
    {"ReadFile", "WriteFile", "MatchingFiles", "PrintV2", "Save", "SaveSlices", "ImmutableConst"}
)
# Checkpoint ops are needed to restore variables; they are confined to the model's
# own variables directory at run time rather than refused at load.
CHECKPOINT_OPS: frozenset[str] = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints", "Restore", "RestoreSlice"})


@dataclass(frozen=True)
class Limits:
    """Resource limits for one call. None means unlimited."""

    max_bytes_per_tensor: int | None = 4 << 30
    max_bytes_per_call: int | None = None
    max_string_length: int | None = 1 << 30
    max_image_pixels: int | None = 1 << 28
    max_function_depth: int = 100
    max_while_iterations: int | None = 10_000_000


@dataclass(frozen=True)
class Policy:
    allow_file_access: bool = False
    extra_denied_ops: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)

    def denied_ops(self) -> frozenset[str]:
        base = frozenset() if self.allow_file_access else FILE_ACCESS_OPS
        return base | self.extra_denied_ops


DEFAULT_POLICY = Policy()


def ops_in_graph(graph_def: graph_pb2.GraphDef) -> dict[str, list[str]]:
    """Op type -> node names, over the graph and every library function ("fn/node")."""
    found: dict[str, list[str]] = {}
    for node in graph_def.node:
        found.setdefault(node.op, []).append(node.name)
    for function in graph_def.library.function:
        for node in function.node_def:
            found.setdefault(node.op, []).append(f"{function.signature.name}/{node.name}")
    return found


def find_denied_ops(graph_def: graph_pb2.GraphDef, denylist: Iterable[str]) -> dict[str, list[str]]:
    denied = frozenset(denylist)
    return {op: nodes for op, nodes in ops_in_graph(graph_def).items() if op in denied}


def check_meta_graph(meta_graph: meta_graph_pb2.MetaGraphDef, policy: Policy, source: str = "model") -> None:
    """Raise PolicyError when the graph uses ops the policy refuses."""
    denied = find_denied_ops(meta_graph.graph_def, policy.denied_ops())
    if denied:
        listing = "; ".join(f"{op} ({', '.join(nodes[:3])})" for op, nodes in sorted(denied.items()))
        raise PolicyError(
            f"{source} uses ops that touch the file system: {listing}; "
            "pass allow_file_access=True (CLI: --allow_file_access) to run it anyway"
        )


def resolve_inside(root: str | os.PathLike[str], relative: str, what: str = "path") -> Path:
    """`root/relative`, refusing absolute paths, `..` and symlinks that leave `root`."""
    root_path = Path(root).resolve()
    if os.path.isabs(relative):
        raise PolicyError(f"{what} {relative!r} is absolute; it must stay inside {root_path}")
    candidate = (root_path / relative).resolve()
    if candidate != root_path and root_path not in candidate.parents:
        raise PolicyError(f"{what} {relative!r} escapes {root_path}")
    return candidate
