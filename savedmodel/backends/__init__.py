"""Execution backends: how a loaded model's signatures run.

- `numpy` (the default): the prepared plans run the NumPy kernels (savedmodel.ops).
- `onnxruntime`: each signature's dense part is exported to ONNX and run by onnxruntime, the rest
  by the NumPy kernels (savedmodel.backends.onnx; needs the `onnx` extra).

`savedmodel.load(path, backend=...)` picks one; without it, the `SAVEDMODEL_BACKEND` environment
variable does, else `numpy`.
"""

from __future__ import annotations

import os

from savedmodel.errors import InvalidInputError

BACKENDS = ("numpy", "onnxruntime")
ENVIRONMENT_VARIABLE = "SAVEDMODEL_BACKEND"


def resolve(backend: str | None) -> str:
    """The backend to use: `backend`, else $SAVEDMODEL_BACKEND, else numpy."""
    chosen = backend or os.environ.get(ENVIRONMENT_VARIABLE) or "numpy"
    chosen = chosen.strip().lower()
    if chosen == "onnx":
        chosen = "onnxruntime"
    if chosen not in BACKENDS:
        source = "backend" if backend else ENVIRONMENT_VARIABLE
        raise InvalidInputError(f"unknown {source} {chosen!r} (choose from {', '.join(BACKENDS)})")
    return chosen


def add_argument(parser: object) -> None:
    """The `--backend {numpy,onnxruntime}` option of `savedmodel run` and `savedmodel serve`."""
    parser.add_argument(  # type: ignore[attr-defined]
        "--backend",
        choices=BACKENDS,
        default=None,
        help=f"how signatures run: numpy kernels, or onnxruntime where the graph exports to ONNX "
        f"(needs savedmodel[onnx]); default ${ENVIRONMENT_VARIABLE}, else numpy",
    )


def check(backend: str | None) -> str:
    """Resolve `backend` and fail now, in one line, when its extra is not installed."""
    chosen = resolve(backend)
    if chosen == "onnxruntime":
        from savedmodel.backends.onnx import require

        require()
    return chosen
