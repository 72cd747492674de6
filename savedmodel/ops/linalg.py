"""Linear algebra: inverses, determinants, factorizations and solvers (batched over leading dims).
Factorizations whose factors are only unique up to sign (QR, SVD, eigenvectors) may differ from
TensorFlow's by column signs; the products they represent agree."""

from __future__ import annotations

from typing import Any

import numpy as np

from savedmodel.ops._common import as_dtype, fail, shape_str, upcast
from savedmodel.ops.registry import NodeSpec, kernel, kernel_factory

LINALG_TYPES = ("float32", "float64", "float16", "complex64", "complex128")


def _square(x: np.ndarray, what: str = "Input") -> None:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        fail(f"{what} matrix must be square: {shape_str(x.shape)}")


def _adjoint(m: np.ndarray) -> np.ndarray:
    m = np.swapaxes(m, -1, -2)
    return np.conj(m) if m.dtype.kind == "c" else m


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.complex128) if x.dtype.kind == "c" else upcast(x).astype(np.float64)


@kernel_factory("MatrixInverse", family="linalg", dtypes=LINALG_TYPES)
def _matrix_inverse(node: NodeSpec) -> Any:
    adjoint = bool(node.attrs.get("adjoint", False))

    def run(ctx: Any, x: np.ndarray) -> np.ndarray:
        _square(x)
        m = _wide(x)
        if adjoint:
            m = _adjoint(m)
        try:
            return as_dtype(np.linalg.inv(m), x.dtype)
        except np.linalg.LinAlgError:
            fail("Input is not invertible.")

    return run


@kernel("MatrixDeterminant", family="linalg", dtypes=LINALG_TYPES)
def _matrix_determinant(ctx: Any, x: np.ndarray) -> np.ndarray:
    _square(x)
    return as_dtype(np.linalg.det(_wide(x)), x.dtype)


@kernel("LogMatrixDeterminant", family="linalg", dtypes=LINALG_TYPES)
def _log_matrix_determinant(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
    _square(x)
    sign, logdet = np.linalg.slogdet(_wide(x))
    return [as_dtype(sign, x.dtype), as_dtype(logdet, x.dtype)]


@kernel("Cholesky", family="linalg", dtypes=LINALG_TYPES)
def _cholesky(ctx: Any, x: np.ndarray) -> np.ndarray:
    _square(x)
    try:
        return as_dtype(np.linalg.cholesky(_wide(x)), x.dtype)
    except np.linalg.LinAlgError:
        fail("Cholesky decomposition was not successful. The input might not be valid.")


@kernel_factory(
    "Qr",
    family="linalg",
    dtypes=LINALG_TYPES,
    notes="factor signs may differ from TensorFlow's (product agrees)",
)
def _qr(node: NodeSpec) -> Any:
    full = bool(node.attrs.get("full_matrices", False))

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        if x.ndim < 2:
            fail(f"input must have rank >= 2: {shape_str(x.shape)}")
        q, r = np.linalg.qr(_wide(x), mode="complete" if full else "reduced")
        return [as_dtype(q, x.dtype), as_dtype(r, x.dtype)]

    return run


@kernel_factory("Svd", family="linalg", dtypes=LINALG_TYPES, notes="singular vectors defined up to sign")
def _svd(node: NodeSpec) -> Any:
    compute_uv = bool(node.attrs.get("compute_uv", True))
    full = bool(node.attrs.get("full_matrices", False))

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        if x.ndim < 2:
            fail(f"input must have rank >= 2: {shape_str(x.shape)}")
        real = np.float32 if x.dtype in (np.complex64,) else (np.float64 if x.dtype.kind == "c" else x.dtype)
        if not compute_uv:
            s = np.linalg.svd(_wide(x), compute_uv=False)
            return [as_dtype(s, np.dtype(real)), np.zeros((), x.dtype), np.zeros((), x.dtype)]
        u, s, vh = np.linalg.svd(_wide(x), full_matrices=full)
        return [as_dtype(s, np.dtype(real)), as_dtype(u, x.dtype), as_dtype(_adjoint(vh), x.dtype)]

    return run


@kernel_factory(
    "SelfAdjointEigV2", family="linalg", dtypes=LINALG_TYPES, notes="eigenvectors defined up to sign"
)
def _eigh(node: NodeSpec) -> Any:
    compute_v = bool(node.attrs.get("compute_v", True))

    def run(ctx: Any, x: np.ndarray) -> list[np.ndarray]:
        _square(x)
        w, v = np.linalg.eigh(_wide(x), UPLO="L")
        real = (
            np.dtype(np.float32)
            if x.dtype == np.complex64
            else (np.dtype(np.float64) if x.dtype.kind == "c" else x.dtype)
        )
        if not compute_v:
            return [as_dtype(w, real), np.zeros((), x.dtype)]
        return [as_dtype(w, real), as_dtype(v, x.dtype)]

    return run


@kernel_factory("MatrixSolve", family="linalg", dtypes=LINALG_TYPES)
def _matrix_solve(node: NodeSpec) -> Any:
    adjoint = bool(node.attrs.get("adjoint", False))

    def run(ctx: Any, a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        _square(a)
        if rhs.ndim < 2 or rhs.shape[-2] != a.shape[-1]:
            fail(
                f"Input matrix and right-hand side must have the same number of rows: "
                f"{shape_str(a.shape)} vs. {shape_str(rhs.shape)}"
            )
        m = _adjoint(_wide(a)) if adjoint else _wide(a)
        try:
            return as_dtype(np.linalg.solve(m, _wide(rhs)), rhs.dtype)
        except np.linalg.LinAlgError:
            fail("Input matrix is not invertible.")

    return run


@kernel_factory("MatrixTriangularSolve", family="linalg", dtypes=LINALG_TYPES)
def _triangular_solve(node: NodeSpec) -> Any:
    lower = bool(node.attrs.get("lower", True))
    adjoint = bool(node.attrs.get("adjoint", False))

    def run(ctx: Any, a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        _square(a)
        m = _wide(a)
        m = np.tril(m) if lower else np.triu(m)
        if adjoint:
            m = _adjoint(m)
        batch = np.broadcast_shapes(m.shape[:-2], rhs.shape[:-2])
        mb = np.broadcast_to(m, batch + m.shape[-2:])
        rb = np.broadcast_to(_wide(rhs), batch + rhs.shape[-2:])
        with np.errstate(all="ignore"):
            out = np.linalg.solve(mb, rb) if mb.size else np.zeros(batch + rhs.shape[-2:])
        return as_dtype(out, rhs.dtype)

    return run


@kernel_factory("MatrixSolveLs", family="linalg", dtypes=LINALG_TYPES)
def _matrix_solve_ls(node: NodeSpec) -> Any:
    def run(ctx: Any, a: np.ndarray, rhs: np.ndarray, l2: np.ndarray) -> np.ndarray:
        reg = float(np.asarray(l2).reshape(-1)[0])
        aw, bw = _wide(a), _wide(rhs)
        at = _adjoint(aw)
        n = aw.shape[-1]
        if aw.shape[-2] >= n:
            gram = at @ aw + reg * np.eye(n)
            return as_dtype(np.linalg.solve(gram, at @ bw), rhs.dtype)
        gram = aw @ at + reg * np.eye(aw.shape[-2])
        return as_dtype(at @ np.linalg.solve(gram, bw), rhs.dtype)

    return run
