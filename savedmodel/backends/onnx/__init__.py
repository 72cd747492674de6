"""The onnxruntime backend: signatures exported to ONNX (opset 17) without TensorFlow.

    pip install 'savedmodel[onnx]'
    model = savedmodel.load(path, backend="onnxruntime")     # or SAVEDMODEL_BACKEND=onnxruntime

Each signature's function is inlined into one flat graph (`flatten`); what never changes between
calls (constants, variable reads) is folded into initializers; every node with a converter
(`converters`, registered by TensorFlow op name) joins an ONNX region run by onnxruntime, and
the rest (strings, tables, TensorList, functional and TF1 control flow, ops without a converter)
runs on the NumPy kernels between regions (`hybrid`). `export` writes a whole signature as one
ONNX file, or lists the ops that block it.

Nothing here imports onnxruntime until a model asks for this backend. Models are built with the
backend's own copy of the ONNX schema (savedmodel/proto/onnx_model.proto), so the onnx package is
never imported (seconds on a small machine); large initializers reach onnxruntime as the arrays
they are (in-memory external data), never copied into the serialized model.
"""

from __future__ import annotations

import importlib.util

from savedmodel.errors import MissingExtraError

EXTRA = "onnx"
MODULES = ("onnxruntime",)


def available() -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in MODULES)
    except (ValueError, ImportError):
        return False


def require(where: str = "") -> None:
    """Raise MissingExtraError (one line, naming the extra) unless onnxruntime imports."""
    if not available():
        missing = [m for m in MODULES if importlib.util.find_spec(m) is None] or list(MODULES)
        error = MissingExtraError({}, where)
        prefix = f"{where}: " if where else ""
        error.missing = {EXTRA: missing}
        error.args = (
            f"{prefix}the onnxruntime backend needs the '{EXTRA}' extra ({', '.join(missing)} not "
            f"installed): pip install 'savedmodel[{EXTRA}]'",
        )
        raise error
