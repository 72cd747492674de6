"""savedmodel: run, inspect, write, serve and migrate TensorFlow SavedModels without TensorFlow."""

from savedmodel.errors import (
    DeadlineExceededError,
    ExecutionError,
    FormatError,
    InvalidInputError,
    LimitExceededError,
    MissingExtraError,
    NotFoundError,
    PolicyError,
    RefusedOpError,
    SavedModelError,
    UnsupportedError,
    UnsupportedOpError,
)

__version__ = "0.1.0"

__all__ = [
    "DeadlineExceededError",
    "ExecutionError",
    "FormatError",
    "InvalidInputError",
    "LimitExceededError",
    "MissingExtraError",
    "NotFoundError",
    "PolicyError",
    "RefusedOpError",
    "SavedModelError",
    "UnsupportedError",
    "UnsupportedOpError",
    "__version__",
]


def __getattr__(name: str):  # lazy: importing savedmodel stays cheap
    if name == "load":
        from savedmodel.loader import load

        return load
    if name in ("compat", "tf"):  # subpackages reachable after a bare `import savedmodel`
        import importlib

        return importlib.import_module(f"savedmodel.{name}")
    raise AttributeError(f"module 'savedmodel' has no attribute {name!r}")
