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

The registry is the one source of op facts the executor needs (`ops_with`, `has_fact`):
- declared at registration, what only our kernels know: `side_effects` (must run even when no
  result depends on it), `forwards_input` (returns its one input unchanged), `aliases_input`
  (and that output shares the input's buffer), `constant` (value fixed at load), `dataflow` (its
  role in the TF1 dataflow executor), and `notes` (how it differs from TensorFlow, for docs/ops.md);
- read from TensorFlow's OpDef (graph/outputs.py's `find_op_def`), what TensorFlow states: output
  arity and dtypes (graph/outputs.py), `tf_stateful`, `ref_inputs`, `ref_outputs`.
The generated index (savedmodel/ops/_index.py) caches each fact's op set, so asking for one imports
no kernel family.
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


# A kernel's role in the TF1 dataflow executor (savedmodel/runtime/dataflow.py), which routes
# these ops itself: their kernels are never run there (LoopCond's is, as a pass-through).
DATAFLOW_ROLES = ("switch", "merge", "enter", "exit", "next_iteration", "trigger", "loop_cond")
# Facts a kernel declares at registration (KernelDef fields of the same names).
DECLARED_FACTS = ("side_effects", "forwards_input", "aliases_input", "constant", "dataflow")
# Facts read from TensorFlow's OpDef of the op: OpDef.is_stateful, an input/output arg is a reference.
OP_DEF_FACTS = ("tf_stateful", "ref_inputs", "ref_outputs")
FACTS = DECLARED_FACTS + OP_DEF_FACTS


@dataclass(frozen=True)
class KernelDef:
    op: str
    family: str
    prepare: Prepare
    doc: str = ""
    dtypes: tuple[str, ...] = ()
    # The optional extra (pyproject's optional-dependencies) without which the kernel cannot run.
    extra: str = ""
    # Must run even when no result depends on it (kept when pruning function bodies): writes a
    # variable, table, file or stream, asserts, calls a stateful function. Not TensorFlow's
    # OpDef.is_stateful (the `tf_stateful` fact), which also marks reads of state and random ops.
    side_effects: bool = False
    # Returns its one input unchanged (an executor may skip the kernel).
    forwards_input: bool = False
    # Forwards its input (forwards_input) as the same buffer, as TensorFlow does: a TF1 variable
    # read through it sees the variable's later in-place updates. Snapshot forwards a copy.
    aliases_input: bool = False
    # Its value is fixed when the graph is loaded (computed once, while preparing).
    constant: bool = False
    # Its role in the TF1 dataflow executor (one of DATAFLOW_ROLES), or "".
    dataflow: str = ""
    # How the kernel differs from TensorFlow's, worth a line in docs/ops.md.
    notes: str = ""


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


def kernel(*ops: str, doc: str = "", **options: Any) -> Callable[[Run], Run]:
    """Register `fn(ctx, *inputs)` for each op name; attrs are not consulted. `options`: those
    of `kernel_factory`; `doc` defaults to fn's docstring."""

    def wrap(fn: Run) -> Run:
        kernel_factory(*ops, doc=doc or (fn.__doc__ or ""), **options)(lambda node, fn=fn: fn)
        return fn

    return wrap


def kernel_factory(
    *ops: str,
    family: str,
    doc: str = "",
    dtypes: Iterable[str] = (),
    extra: str = "",
    side_effects: bool = False,
    forwards_input: bool = False,
    aliases_input: bool = False,
    constant: bool = False,
    dataflow: str = "",
    notes: str | Mapping[str, str] = "",
) -> Callable[[Prepare], Prepare]:
    """Register `prepare(node) -> run(ctx, *inputs)` for each op name. `extra`: the optional extra
    (a key of EXTRA_MODULES) the kernel cannot run without; loading a model that uses the op
    fails at once, naming the extra, when it is not installed. The facts (see KernelDef) hold for
    every op named; `notes` is one text for all of them or a mapping op -> text (a family's
    table, of which each op takes its own entry)."""
    if extra and extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}")
    if dataflow and dataflow not in DATAFLOW_ROLES:
        raise ValueError(f"unknown dataflow role {dataflow!r}")
    if aliases_input and not forwards_input:
        raise ValueError("aliases_input needs forwards_input")

    def wrap(prepare: Prepare) -> Prepare:
        text = doc or (prepare.__doc__ or "")
        for op in ops:
            note = notes if isinstance(notes, str) else notes.get(op, "")
            register(
                KernelDef(
                    op,
                    family,
                    prepare,
                    doc=text,
                    dtypes=tuple(dtypes),
                    extra=extra,
                    side_effects=side_effects,
                    forwards_input=forwards_input,
                    aliases_input=aliases_input,
                    constant=constant,
                    dataflow=dataflow,
                    notes=note,
                )
            )
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


# --------------------------------------------------------------------------- op facts


def facts_of(definition: KernelDef) -> frozenset[str]:
    """The facts (names from FACTS) that hold for a kernel's op: its declared ones and those
    TensorFlow's OpDef of the op states (none for an op TensorFlow does not define)."""
    from savedmodel.graph.outputs import find_op_def

    facts = {fact for fact in DECLARED_FACTS if getattr(definition, fact)}
    op_def = find_op_def(definition.op)
    if op_def is not None:
        if op_def.is_stateful:
            facts.add("tf_stateful")
        if any(arg.is_ref for arg in op_def.input_arg):
            facts.add("ref_inputs")
        if any(arg.is_ref for arg in op_def.output_arg):
            facts.add("ref_outputs")
    return frozenset(facts)


def compute_op_facts(kernels: Mapping[str, KernelDef]) -> dict[str, frozenset[str]]:
    """fact -> the ops among `kernels` it holds for, for every fact in FACTS."""
    by_op = {op: facts_of(definition) for op, definition in kernels.items()}
    return {fact: frozenset(op for op, facts in by_op.items() if fact in facts) for fact in FACTS}


def ops_with(fact: str) -> frozenset[str]:
    """The ops whose kernels have `fact` (a name from FACTS). Read from the generated index:
    imports no kernel family. Kernels registered outside the shipped families (not in the
    index) count once registered."""
    if fact not in FACTS:
        raise ValueError(f"unknown op fact {fact!r}; known: {', '.join(FACTS)}")
    shipped = _index_facts()[fact]
    others = {op: d for op, d in _REGISTRY.items() if op not in _op_index()}
    if not others:
        return shipped
    return shipped | compute_op_facts(others)[fact]


def has_fact(op: str, fact: str) -> bool:
    """Whether `op`'s kernel has `fact` (False for an op without a kernel); imports no family."""
    if op in _op_index():
        return op in _index_facts()[fact]
    definition = _REGISTRY.get(op)
    return definition is not None and fact in facts_of(definition)


def dataflow_roles() -> dict[str, str]:
    """op -> its role in the TF1 dataflow executor (DATAFLOW_ROLES), for the ops that have one."""
    from savedmodel.ops import _index

    roles = dict(getattr(_index, "DATAFLOW_ROLES", {}))
    roles.update((op, d.dataflow) for op, d in _REGISTRY.items() if d.dataflow)
    return roles


def _index_facts() -> Mapping[str, frozenset[str]]:
    try:
        from savedmodel.ops._index import OP_FACTS
    except ImportError:  # pragma: no cover - index not generated yet (tools/gen_ops_index.py)
        return compute_op_facts(all_kernels())
    return OP_FACTS
