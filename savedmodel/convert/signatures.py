"""Editing a SavedModel's signatures and nothing else: rename, remove, choose the default,
set method names (what TF's MethodNameUpdater does, plus the rest).

Only saved_model.pb(txt) changes (and fingerprint.pb, whose signature hash follows it); every
other file is copied byte for byte. For TF2 models the root's `signatures` map in the object
graph is edited alike, so `tf.saved_model.load(...).signatures` agrees with the SignatureDefs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from savedmodel.convert.report import Report
from savedmodel.errors import InvalidInputError, NotFoundError, PolicyError
from savedmodel.format import saved_model as sm
from savedmodel.format.atomic import atomic_directory
from savedmodel.proto import meta_graph_pb2, saved_model_pb2

DEFAULT_KEY = "serving_default"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
METHODS = {
    "predict": "tensorflow/serving/predict",
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}
PathLike = str | os.PathLike[str]


def parse_pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """['a:b', 'c:d'] -> {'a': 'b', 'c': 'd'} (the CLI's `old:new` and `key:method` flags)."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, target = value.partition(":")
        if not sep or not key or not target:
            raise InvalidInputError(f"{what} takes KEY:VALUE, got {value!r}")
        if key in out:
            raise InvalidInputError(f"{what}: {key!r} given twice")
        out[key] = target
    return out


def method_name(value: str) -> str:
    """'classify' -> 'tensorflow/serving/classify'; a full name is kept."""
    return METHODS.get(value, value)


def _signature_map_node(meta: meta_graph_pb2.MetaGraphDef) -> int | None:
    graph = meta.object_graph_def
    if not len(graph.nodes):
        return None
    child = next((c.node_id for c in graph.nodes[0].children if c.local_name == "signatures"), None)
    return child


class _Editor:
    def __init__(self, meta: meta_graph_pb2.MetaGraphDef, report: Report, where: str) -> None:
        self.meta = meta
        self.report = report
        self.where = where
        self.map_node = _signature_map_node(meta)

    def _require(self, key: str) -> None:
        if key == INIT_OP_SIGNATURE_KEY:
            raise InvalidInputError(
                f"{INIT_OP_SIGNATURE_KEY} is the model's init op, not a signature to edit"
            )
        if key not in self.meta.signature_def:
            available = ", ".join(sorted(k for k in self.meta.signature_def if k != INIT_OP_SIGNATURE_KEY))
            raise NotFoundError(f"{self.where}: no signature {key!r} (available: {available or 'none'})")

    def remove(self, key: str) -> None:
        self._require(key)
        del self.meta.signature_def[key]
        if self.map_node is not None:
            node = self.meta.object_graph_def.nodes[self.map_node]
            kept = [c for c in node.children if c.local_name != key]
            del node.children[:]
            node.children.extend(kept)
        self.report.changes.append(f"removed signature {key!r}")

    def rename(self, renames: Mapping[str, str]) -> None:
        for old in renames:
            self._require(old)
        if INIT_OP_SIGNATURE_KEY in renames.values():
            raise InvalidInputError(f"{INIT_OP_SIGNATURE_KEY} is reserved for the model's init op")
        remaining = set(self.meta.signature_def) - set(renames)
        targets = list(renames.values())
        clash = sorted({t for t in targets if t in remaining or targets.count(t) > 1})
        if clash:
            raise InvalidInputError(f"{self.where}: signature {clash[0]!r} already exists")
        moved = {old: _copy(self.meta.signature_def[old]) for old in renames}
        for old in renames:
            del self.meta.signature_def[old]
        for old, new in renames.items():
            self.meta.signature_def[new].CopyFrom(moved[old])
        if self.map_node is not None:
            for child in self.meta.object_graph_def.nodes[self.map_node].children:
                if child.local_name in renames:
                    child.local_name = renames[child.local_name]
        for old, new in renames.items():
            self.report.changes.append(f"renamed signature {old!r} to {new!r}")

    def set_default(self, key: str) -> None:
        self._require(key)
        if key == DEFAULT_KEY:
            return
        if DEFAULT_KEY in self.meta.signature_def:
            self.rename({key: DEFAULT_KEY, DEFAULT_KEY: key})
        else:
            self.rename({key: DEFAULT_KEY})

    def set_method(self, key: str, method: str) -> None:
        self._require(key)
        signature = self.meta.signature_def[key]
        old = signature.method_name
        signature.method_name = method
        self.report.changes.append(f"signature {key!r}: method name {old!r} -> {method!r}")
        _check_method(signature, key, self.report)


def _copy(signature: meta_graph_pb2.SignatureDef) -> meta_graph_pb2.SignatureDef:
    out = meta_graph_pb2.SignatureDef()
    out.CopyFrom(signature)
    return out


def _check_method(signature: meta_graph_pb2.SignatureDef, key: str, report: Report) -> None:
    """Warn where TF Serving would refuse a classify/regress signature."""
    method = signature.method_name
    if method == METHODS["classify"]:
        if set(signature.inputs) != {"inputs"} or not set(signature.outputs) <= {"classes", "scores"}:
            report.warn(
                f"signature {key!r}: TF Serving's classify API wants one input 'inputs' (serialized "
                "tf.Examples) and outputs 'classes' and/or 'scores'"
            )
    elif method == METHODS["regress"]:
        if set(signature.inputs) != {"inputs"} or set(signature.outputs) != {"outputs"}:
            report.warn(
                f"signature {key!r}: TF Serving's regress API wants one input 'inputs' (serialized "
                "tf.Examples) and one output 'outputs'"
            )
    elif not method.startswith("tensorflow/serving/"):
        report.warn(f"signature {key!r}: {method!r} is not a TF Serving method name")


def edit_proto(
    proto: saved_model_pb2.SavedModel,
    where: str,
    tag_set: str | Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    set_default: str | None = None,
    method_names: Mapping[str, str] | None = None,
) -> Report:
    """Apply the edits to the MetaGraphDef chosen by `tag_set` (None: every MetaGraphDef)."""
    report = Report(where, kind="edit_signatures")
    metas = [sm.find_meta_graph(proto, tag_set, where)] if tag_set else list(proto.meta_graphs)
    for meta in metas:
        editor = _Editor(meta, report, where)
        for key in remove:
            editor.remove(key)
        if rename:
            editor.rename(rename)
        if set_default:
            editor.set_default(set_default)
        for key, method in (method_names or {}).items():
            editor.set_method(key, method_name(method))
        report.signatures.update(
            {k: v.method_name for k, v in meta.signature_def.items() if k != INIT_OP_SIGNATURE_KEY}
        )
    if not report.changes:
        report.warn("no edits asked for: the output is a copy")
    return report


def edit_signatures(
    source: PathLike,
    output: PathLike | None,
    tag_set: str | Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    set_default: str | None = None,
    method_names: Mapping[str, str] | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
) -> Report:
    """Write a copy of `source` to `output` with its signatures edited (see the module
    docstring); `output` may be `source` itself with `overwrite`. `dry_run` writes nothing."""
    source = Path(source)
    path = sm.saved_model_file(source)
    proto = sm.read_saved_model(source)
    report = edit_proto(proto, str(source), tag_set, rename, list(remove), set_default, method_names)
    report.output = None if output is None else str(output)
    if dry_run or output is None:
        return report
    if Path(output).resolve() == source.resolve() and not overwrite:
        raise PolicyError(f"{output} is the source model (pass overwrite to edit it in place)")
    with atomic_directory(output, overwrite=overwrite) as tmp:
        _copy_tree(source, tmp, skip={path.name, sm.FINGERPRINT_NAME})
        sm.write_saved_model_proto(proto, tmp, as_text=path.name == sm.PBTXT_NAME)
        if (source / sm.FINGERPRINT_NAME).is_file():
            from savedmodel.format import fingerprint

            data = fingerprint.compute_fingerprint(tmp).to_proto().SerializeToString(deterministic=True)
            (tmp / sm.FINGERPRINT_NAME).write_bytes(data)
    report.written = True
    return report


def _copy_tree(source: Path, target: Path, skip: set[str]) -> None:
    for item in sorted(source.iterdir()):
        if item.name in skip:
            continue
        if item.is_symlink():
            raise PolicyError(f"{item}: symbolic links are not copied")
        if item.is_dir():
            shutil.copytree(item, target / item.name, symlinks=True)
        else:
            shutil.copyfile(item, target / item.name)
