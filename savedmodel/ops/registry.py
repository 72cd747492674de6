"""The kernel registry: TensorFlow op name -> how to run it on NumPy.

A kernel is prepared once per node when a graph is loaded: its `prepare`
function receives a `NodeSpec` (name, op, decoded attrs) and returns the
callable that runs it, `run(ctx, *inputs) -> output`. Ops that produce several
outputs (or a list output) return a sequence; single-output ops return one value.

Two decorators cover the usual cases:

    @kernel("Relu", family="nn")
    def relu(ctx, x):                     # attrs not needed
        return np.maximum(x, 0)

    @kernel_factory("Cast", family="math")
    def cast(node):                       # attrs decoded once, at load time
        dst = node.attrs.dtype("DstT")
        return lambda ctx, x: x.astype(dst)

`ctx` is the runtime's per-call context (savedmodel.runtime); kernels that do
not touch resources, functions or limits ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from savedmodel.errors import FormatError
from savedmodel.format import dtypes
from savedmodel.format import tensor as tensor_format
from savedmodel.proto import attr_value_pb2

Run = Callable[..., Any]
Prepare = Callable[["NodeSpec"], Run]


class Attrs:
    """Typed, cached access to a node's attrs (an AttrValue map)."""

    def __init__(self, attr: Mapping[str, attr_value_pb2.AttrValue], where: str = "") -> None:
        self._attr = attr
        self._where = where

    def __contains__(self, name: str) -> bool:
        return name in self._attr

    def raw(self, name: str) -> attr_value_pb2.AttrValue:
        try:
            return self._attr[name]
        except KeyError:
            raise FormatError(f"{self._where}: missing attr {name!r}") from None

    def get(self, name: str, default: Any = None) -> Any:
        """The attr's Python value (see `decode`), or `default` when absent."""
        if name not in self._attr:
            return default
        return decode_attr(self._attr[name])

    def __getitem__(self, name: str) -> Any:
        return decode_attr(self.raw(name))

    def dtype(self, name: str, default: int | None = None) -> np.dtype:
        """A `type` attr as a NumPy dtype."""
        if name not in self._attr and default is not None:
            return dtypes.as_numpy_dtype(default)
        return dtypes.as_numpy_dtype(self.raw(name).type)

    def dtype_enum(self, name: str, default: int | None = None) -> int:
        if name not in self._attr and default is not None:
            return default
        return self.raw(name).type

    def names(self) -> list[str]:
        return list(self._attr)


def decode_attr(value: attr_value_pb2.AttrValue) -> Any:
    """AttrValue -> Python: bytes for s, int, float, bool, DataType enum int for type,
    tuple/None shape, NumPy array for tensor, NameAttrList for func, list for list."""
    kind = value.WhichOneof("value")
    if kind == "list":
        lst = value.list
        for fname in ("s", "i", "f", "b", "type"):
            items = getattr(lst, fname)
            if items:
                return list(items)
        if lst.shape:
            return [tensor_format.shape_from_proto(s) for s in lst.shape]
        if lst.tensor:
            return [tensor_format.to_numpy(t) for t in lst.tensor]
        if lst.func:
            return list(lst.func)
        return []
    if kind == "shape":
        return tensor_format.shape_from_proto(value.shape)
    if kind == "tensor":
        return tensor_format.to_numpy(value.tensor)
    if kind is None:
        return None
    return getattr(value, kind)


@dataclass
class NodeSpec:
    """What a kernel's prepare function sees of a node."""

    name: str
    op: str
    attrs: Attrs
    num_inputs: int
    # Names of the node's data inputs as written in the graph ("x", "y:1", ...).
    inputs: list[str] = field(default_factory=list)
    device: str = ""


@dataclass(frozen=True)
class KernelDef:
    op: str
    family: str
    prepare: Prepare
    stateful: bool = False
    doc: str = ""
    dtypes: tuple[str, ...] = ()
    # The optional extra (pyproject's optional-dependencies) without which the kernel cannot run.
    extra: str = ""


# What each extra installs that kernels import: a kernel naming an extra needs this module.
EXTRA_MODULES: dict[str, str] = {"image": "PIL", "special": "scipy"}


def extra_available(extra: str) -> bool:
    """Whether the module an extra provides can be imported (found, not imported: SciPy is slow)."""
    import importlib.util

    try:
        return importlib.util.find_spec(EXTRA_MODULES[extra]) is not None
    except (ValueError, ImportError):  # a module set to None in sys.modules, a broken parent
        return False


def missing_extras(ops: Iterable[str]) -> dict[str, list[str]]:
    """extra -> the sorted ops among `ops` whose kernels need that extra, for extras not installed."""
    absent = {extra for extra in EXTRA_MODULES if not extra_available(extra)}
    missing: dict[str, list[str]] = {}
    if not absent:  # the usual case: nothing to look up (lookups import kernel families)
        return missing
    for op in sorted(set(ops)):
        definition = lookup(op)
        if definition is not None and definition.extra in absent:
            missing.setdefault(definition.extra, []).append(op)
    return dict(sorted(missing.items()))


def check_extras(graph_def: Any, where: str = "") -> None:
    """Raise MissingExtraError naming, for the whole graph (and its library functions), every op
    whose kernel needs an optional extra that is not installed."""
    from savedmodel.errors import MissingExtraError

    functions = {function.signature.name for function in graph_def.library.function}
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    missing = missing_extras(ops - functions)
    if missing:
        raise MissingExtraError(missing, where)


_REGISTRY: dict[str, KernelDef] = {}


def register(defn: KernelDef) -> KernelDef:
    if defn.op in _REGISTRY:
        raise ValueError(f"kernel for {defn.op} registered twice")
    _REGISTRY[defn.op] = defn
    return defn


def kernel(
    *ops: str,
    family: str,
    stateful: bool = False,
    doc: str = "",
    dtypes: Iterable[str] = (),
    extra: str = "",
) -> Callable[[Run], Run]:
    """Register `fn(ctx, *inputs)` for each op name; attrs are not consulted."""

    def wrap(fn: Run) -> Run:
        kernel_factory(
            *ops, family=family, stateful=stateful, doc=doc or (fn.__doc__ or ""), dtypes=dtypes, extra=extra
        )(lambda node, fn=fn: fn)
        return fn

    return wrap


def kernel_factory(
    *ops: str,
    family: str,
    stateful: bool = False,
    doc: str = "",
    dtypes: Iterable[str] = (),
    extra: str = "",
) -> Callable[[Prepare], Prepare]:
    """Register `prepare(node) -> run(ctx, *inputs)` for each op name. `extra`: the optional extra
    (a key of EXTRA_MODULES) the kernel cannot run without; loading a model that uses the op
    fails at once, naming the extra, when it is not installed."""
    if extra and extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}")

    def wrap(prepare: Prepare) -> Prepare:
        text = doc or (prepare.__doc__ or "")
        for op in ops:
            register(KernelDef(op, family, prepare, stateful, text, tuple(dtypes), extra))
        return prepare

    return wrap


def lookup(op: str) -> KernelDef | None:
    """The kernel for an op, importing only the family module that defines it.

    `savedmodel/ops/_index.py` (generated by tools/gen_ops_index.py, checked by a
    test) maps op names to family modules, so loading a model imports only the
    families it uses. Ops missing from the index fall back to importing every family.
    """
    definition = _REGISTRY.get(op)
    if definition is not None or _loaded:
        return definition
    family = _op_index().get(op)
    if family is not None:
        _import_family(family)
        definition = _REGISTRY.get(op)
    if definition is None:
        _load_families()
        definition = _REGISTRY.get(op)
    return definition


def all_kernels() -> dict[str, KernelDef]:
    _load_families()
    return dict(sorted(_REGISTRY.items()))


_loaded = False
_imported_families: set[str] = set()


def _op_index() -> dict[str, str]:
    try:
        from savedmodel.ops._index import OP_FAMILY_MODULES
    except ImportError:  # pragma: no cover - index not generated yet
        return {}
    return OP_FAMILY_MODULES


def _import_family(module: str) -> None:
    if module not in _imported_families:
        import importlib

        importlib.import_module(f"savedmodel.ops.{module}")
        _imported_families.add(module)


def family_modules() -> list[str]:
    """Names of the kernel family modules under savedmodel/ops."""
    import pkgutil

    import savedmodel.ops as package

    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name != "registry"
    )


def _load_families() -> None:
    """Import every kernel family module once, so their decorators register."""
    global _loaded
    if _loaded:
        return
    for module in family_modules():
        _import_family(module)
    _loaded = True
