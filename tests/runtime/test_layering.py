"""Layering: kernels (savedmodel/ops) never import the executor (savedmodel/runtime).

The runtime hands kernels what they need through the call context (`ctx.function(attr)` for
the functions If/While/Case/PartitionedCall call, `ctx.resources`, `ctx.limits`); the values
kernels create (resource handles, TF1 reference buffers) live in savedmodel/ops/_resources.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

OPS = Path(__file__).resolve().parents[2] / "savedmodel" / "ops"


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_kernel_module_imports_the_runtime() -> None:
    offenders = []
    for path in sorted(OPS.rglob("*.py")):
        for module in _imported_modules(ast.parse(path.read_text(), str(path))):
            if module == "savedmodel.runtime" or module.startswith("savedmodel.runtime."):
                offenders.append(f"{path.relative_to(OPS.parent.parent)}: {module}")
    assert not offenders, offenders
    assert len(list(OPS.rglob("*.py"))) > 10  # the walk saw the kernels
