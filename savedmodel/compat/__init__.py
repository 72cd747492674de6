"""TensorFlow's `compat` namespaces: `savedmodel.compat.v1` is `savedmodel.tf.compat.v1`.

    import savedmodel.compat.v1 as tf1

Nothing is imported until `v1` is used, so `import savedmodel` stays fast.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "v1":
        import importlib

        return importlib.import_module("savedmodel.compat.v1")
    raise AttributeError(f"module 'savedmodel.compat' has no attribute {name!r}")
