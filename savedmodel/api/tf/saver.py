"""`tf1.train.Saver`: the save/restore subgraph TensorFlow builds (V2 checkpoints,
plain and sharded), checkpoint state files, `export_meta_graph` and `import_meta_graph`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format

from savedmodel.api.tf import graph as g
from savedmodel.api.tf import ops
from savedmodel.api.tf.graph import Graph, Operation, Tensor
from savedmodel.api.tf.meta_graph import export_meta_graph as _export_meta_graph
from savedmodel.errors import ExecutionError, FormatError, InvalidInputError, NotFoundError
from savedmodel.format import checkpoint as ckpt
from savedmodel.format import checkpoint_v1
from savedmodel.format.atomic import atomic_write_bytes
from savedmodel.policy import DEFAULT_POLICY, Policy, check_meta_graph
from savedmodel.proto import meta_graph_pb2, saver_pb2

CPU0 = "/device:CPU:0"
CPU_ANY = "/device:CPU:*"


def _saveables(var_list: Any, graph: Graph | None) -> list[tuple[str, Any]]:
    """(checkpoint key, variable) pairs sorted by key, as TF's saver orders them."""
    from savedmodel.api.tf.variables import global_variables

    if var_list is None:
        var_list = global_variables(graph) + (graph.get_collection("saveable_objects") if graph else [])
    if isinstance(var_list, dict):
        pairs = list(var_list.items())
    else:
        pairs = []
        for var in var_list:
            if hasattr(var, "op") and isinstance(var.op, Operation):
                pairs.append((var.op.name, var))
            else:
                pairs.append((var.name.split(":")[0], var))
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(
            f"At least two variables have the same name: {sorted(k for k in keys if keys.count(k) > 1)}"
        )
    return sorted(pairs, key=lambda kv: kv[0])


def _const_strings(values: list[str], name: str) -> Tensor:
    return ops.constant(np.array([v.encode() for v in values], dtype=object), dtype="string", name=name)


def _save_tensor(var: Any) -> Tensor:
    """What SaveV2 reads: a reference variable itself, a resource variable's snapshot read."""
    ref = getattr(var, "_saveable_tensor", None)
    if ref is not None:
        return ref
    return var._as_graph_element() if hasattr(var, "_as_graph_element") else var


def sharded_temp_filename(
    graph: Graph, prefix: Tensor, join_device: str = "", shard_device: str = ""
) -> Tensor:
    """The nodes TF's sharded save starts with: `<prefix>_temp/part-00000-of-00001`
    (`<prefix>.part-...` for s3:// paths), the single shard written before the merge."""
    with graph.device(join_device):
        is_s3 = graph.create_op(
            "StaticRegexFullMatch",
            [prefix],
            {"pattern": g.attr_str("^s3://.*")},
            ["bool"],
            [[]],
            name="StaticRegexFullMatch",
        ).outputs[0]
        part = ops.constant(np.array(b".part", dtype=object), dtype="string", name="Const")
        temp = ops.constant(np.array(b"_temp/part", dtype=object), dtype="string", name="Const")
        suffix = graph.create_op(
            "Select", [is_s3, part, temp], {"T": g.attr_type("string")}, ["string"], [[]], name="Select"
        ).outputs[0]
        tmp_prefix = graph.create_op(
            "StringJoin", [prefix, suffix], {"N": g.attr_int(2)}, ["string"], [[]], name="StringJoin"
        ).outputs[0]
    num_shards = ops.constant(np.array(1, dtype=np.int32), name="num_shards")
    with graph.device(shard_device), graph.name_scope("ShardedFilename") as scope:
        shard = ops.constant(np.array(0, dtype=np.int32), name="shard")
        return graph.create_op(
            "ShardedFilename", [tmp_prefix, shard, num_shards], {}, ["string"], [[]], name=scope
        ).outputs[0]


def merge_sharded_save(graph: Graph, sharded: Tensor, prefix: Tensor, after: Operation) -> Operation:
    """The `MergeV2Checkpoints` step that ends TF's sharded save: pack the one shard's
    prefix (`checkpoint_prefixes`) and merge it into `prefix`, after the save `after`."""
    with graph.name_scope("MergeV2Checkpoints") as scope:
        packed = graph.create_op(
            "Pack",
            [sharded],
            {"N": g.attr_int(1), "T": g.attr_type("string"), "axis": g.attr_int(0)},
            ["string"],
            [[1]],
            name="checkpoint_prefixes",
            control_inputs=[after],
        ).outputs[0]
        merge = graph.create_op("MergeV2Checkpoints", [packed, prefix], {}, [], [], name=scope)
    merge.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
    return merge


class Saver:
    """Builds save/restore ops for variables and runs them through a session."""

    def __init__(
        self,
        var_list: Any = None,
        reshape: bool = False,
        sharded: bool = False,
        max_to_keep: int = 5,
        keep_checkpoint_every_n_hours: float = 10000.0,
        name: str | None = None,
        restore_sequentially: bool = False,
        saver_def: saver_pb2.SaverDef | None = None,
        builder: Any = None,
        defer_build: bool = False,
        allow_empty: bool = False,
        write_version: int = saver_pb2.SaverDef.V2,
        pad_step_number: bool = False,
        save_relative_paths: bool = False,
        filename: str | None = None,
    ) -> None:
        self._graph = g.get_default_graph()
        self._var_list = var_list
        self._sharded = sharded
        self._max_to_keep = max_to_keep
        self._keep_hours = keep_checkpoint_every_n_hours
        self._allow_empty = allow_empty
        self._filename = filename
        self._name = name
        self._last_checkpoints: list[str] = []
        self.saver_def: saver_pb2.SaverDef | None = saver_def
        self._eager_vars: list[tuple[str, Any]] | None = None
        if self._graph is None:
            if var_list is None:
                raise RuntimeError(
                    "When eager execution is enabled, `var_list` must specify a list or dict of variables "
                    "to save"
                )
            self._eager_vars = _saveables(var_list, None)
            return
        if saver_def is None and not defer_build:
            self.build()

    def build(self) -> None:
        pairs = _saveables(self._var_list, self._graph)
        if not pairs:
            if self._allow_empty:
                return
            raise ValueError("No variables to save")
        graph = self._graph
        assert graph is not None
        with graph.name_scope(self._name or "save") as scope:
            default = ops.constant(
                np.array((self._filename or "model").encode(), dtype=object),
                dtype="string",
                name="filename/input",
            )
            with graph.name_scope("filename") as fscope:
                filename = graph.create_op(
                    "PlaceholderWithDefault",
                    [default],
                    {"dtype": g.attr_type("string"), "shape": g.attr_shape([])},
                    ["string"],
                    [[]],
                    name=fscope,
                ).outputs[0]
            prefix = graph.create_op(
                "PlaceholderWithDefault",
                [filename],
                {"dtype": g.attr_type("string"), "shape": g.attr_shape([])},
                ["string"],
                [[]],
                name="Const",
            ).outputs[0]
            if self._sharded:
                save_tensor, restore_op = self._build_sharded(graph, prefix, pairs)
            else:
                save_tensor = self._add_save(graph, prefix, pairs, manual_ctrl=False)
                restore_op = self._add_restore(graph, prefix, pairs, name="restore_all")
        self.saver_def = saver_pb2.SaverDef(
            filename_tensor_name=prefix.name,
            save_tensor_name=save_tensor.name,
            restore_op_name=restore_op.name,
            max_to_keep=self._max_to_keep,
            sharded=self._sharded,
            keep_checkpoint_every_n_hours=self._keep_hours,
            version=saver_pb2.SaverDef.V2,
        )
        del scope

    def _add_save(
        self, graph: Graph, prefix: Tensor, pairs: list[tuple[str, Any]], manual_ctrl: bool
    ) -> Tensor:
        tensors = [_save_tensor(v) for _, v in pairs]
        with graph.name_scope("SaveV2") as scope:
            names = _const_strings([k for k, _ in pairs], "tensor_names")
            slices = _const_strings([""] * len(pairs), "shape_and_slices")
            save = graph.create_op(
                "SaveV2",
                [prefix, names, slices, *tensors],
                {"dtypes": g.attr_types([t.dtype.base_dtype for t in tensors])},
                [],
                [],
                name=scope,
            )
        save.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        ident = graph.create_op(
            "Identity",
            [prefix],
            {"T": g.attr_type("string")},
            ["string"],
            [[]],
            name="control_dependency",
            control_inputs=[save],
        )
        ident.attrs["_class"] = g.attr_strs([f"loc:@{prefix.op.name}"])
        if manual_ctrl:
            ident.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        return ident.outputs[0]

    def _add_restore(
        self, graph: Graph, prefix: Tensor, pairs: list[tuple[str, Any]], name: str
    ) -> Operation:
        with graph.device(CPU0), graph.name_scope("RestoreV2") as scope:
            names = _const_strings([k for k, _ in pairs], "tensor_names")
            slices = _const_strings([""] * len(pairs), "shape_and_slices")
            dtypes_ = [v.dtype for _, v in pairs]
            restore = graph.create_op(
                "RestoreV2",
                [prefix, names, slices],
                {"dtypes": g.attr_types(dtypes_)},
                dtypes_,
                [None] * len(dtypes_),
                name=scope,
            )
        assigns: list[Operation] = []
        for (_key, var), restored in zip(pairs, restore.outputs, strict=True):
            if not getattr(var, "is_resource", True):
                colocate = g.attr_strs([f"loc:@{var.op.name}"])
                attrs = {
                    "T": g.attr_type(var.dtype),
                    "validate_shape": g.attr_bool(True),
                    "use_locking": g.attr_bool(True),
                    "_class": colocate,
                }
                assign = graph.create_op(
                    "Assign", [var.handle, restored], attrs, [var.handle.dtype], [var.shape], name="Assign"
                )
                assign.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
                assigns.append(assign)
                continue
            assigns.append(assign_restored_value(graph, var.handle, restored, var.dtype))
        with graph.name_scope(name) as scope:
            op = graph.create_op("NoOp", [], {}, [], [], name=scope, control_inputs=assigns)
        return op

    def _build_sharded(
        self, graph: Graph, prefix: Tensor, pairs: list[tuple[str, Any]]
    ) -> tuple[Tensor, Operation]:
        sharded = sharded_temp_filename(graph, prefix, CPU_ANY, CPU0)
        with graph.device(CPU0):
            saved = self._add_save(graph, sharded, pairs, manual_ctrl=True)
            merge = merge_sharded_save(graph, sharded, prefix, after=saved.op)
            save_tensor = graph.create_op(
                "Identity",
                [prefix],
                {"T": g.attr_type("string")},
                ["string"],
                [[]],
                name="Identity",
                control_inputs=[merge, saved.op],
            ).outputs[0]
        shard_restore = self._add_restore(graph, prefix, pairs, name="restore_shard")
        shard_restore.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
        with graph.name_scope("restore_all") as scope:
            restore_all = graph.create_op("NoOp", [], {}, [], [], name=scope, control_inputs=[shard_restore])
        return save_tensor, restore_all

    # running
    def save(
        self,
        sess: Any,
        save_path: str,
        global_step: Any = None,
        latest_filename: str | None = None,
        meta_graph_suffix: str = "meta",
        write_meta_graph: bool = True,
        write_state: bool = True,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> str:
        save_path = os.fspath(save_path)
        if global_step is not None:
            step = global_step if isinstance(global_step, int) else int(np.asarray(sess.run(global_step)))
            save_path = f"{save_path}-{step}"
        if self._eager_vars is not None:
            values = {key: _eager_value(var) for key, var in self._eager_vars}
            ckpt.write_checkpoint(save_path, values, overwrite=True)
        else:
            if self.saver_def is None:
                raise ValueError("Saver has no variables to save")
            _allow_checkpoint(sess, save_path)
            sess.run(self.saver_def.save_tensor_name, {self.saver_def.filename_tensor_name: save_path})
        if write_state:
            self._write_state(save_path, latest_filename or "checkpoint")
        if write_meta_graph and self._graph is not None:
            self.export_meta_graph(
                f"{save_path}.{meta_graph_suffix}", strip_default_attrs=strip_default_attrs
            )
        return save_path

    def _write_state(self, save_path: str, latest_filename: str) -> None:
        directory = Path(save_path).parent
        if save_path in self._last_checkpoints:
            self._last_checkpoints.remove(save_path)
        self._last_checkpoints.append(save_path)
        if self._max_to_keep:
            self._last_checkpoints = self._last_checkpoints[-self._max_to_keep :]
        rel = [
            os.path.relpath(p, directory) if os.path.isabs(p) else os.path.basename(p)
            for p in self._last_checkpoints
        ]
        ckpt.write_checkpoint_state(directory, rel[-1], rel, filename=latest_filename)

    @property
    def last_checkpoints(self) -> list[str]:
        return list(self._last_checkpoints)

    def restore(self, sess: Any, save_path: str) -> None:
        save_path = os.fspath(save_path)
        if not _checkpoint_exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        if self._eager_vars is not None:
            with ckpt.CheckpointReader(save_path) as reader:
                values = [_read_checked(reader, key, var) for key, var in self._eager_vars]
            for (_, var), value in zip(self._eager_vars, values, strict=True):
                _assign_eagerly(var, value)
            return
        if self.saver_def is None:
            return
        _allow_checkpoint(sess, save_path)
        sess.run(self.saver_def.restore_op_name, {self.saver_def.filename_tensor_name: save_path})

    def as_saver_def(self) -> saver_pb2.SaverDef | None:
        return self.saver_def

    def export_meta_graph(
        self,
        filename: str | None = None,
        collection_list: list[str] | None = None,
        as_text: bool = False,
        export_scope: str | None = None,
        clear_devices: bool = False,
        clear_extraneous_savers: bool = False,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> meta_graph_pb2.MetaGraphDef:
        graph = self._graph or g.require_graph("Saver.export_meta_graph")
        meta = _export_meta_graph(graph, self.saver_def, collection_list, clear_devices, strip_default_attrs)
        if filename:
            write_meta_graph_file(meta, filename, as_text)
        return meta


def _checkpoint_exists(save_path: str) -> bool:
    """A V2 checkpoint (`<prefix>.index`) or a V1 one (a table file, or a `-?????-of-N` pattern)."""
    return Path(save_path + ".index").is_file() or checkpoint_v1.is_v1_checkpoint(save_path)


def _eager_value(var: Any) -> np.ndarray:
    session = getattr(var, "_wrapped_session", None)
    if session is None:
        return np.asarray(var._value)
    return np.asarray(session.run(var._as_graph_element()))


def _assign_eagerly(var: Any, value: np.ndarray) -> None:
    """Assign a restored value to an eager variable, or to a graph variable of a wrapped function."""
    session = getattr(var, "_wrapped_session", None)
    if session is None:
        var.assign(value)
        return
    session.run(var.handle).assign(np.asarray(value))


def _allow_checkpoint(sess: Any, save_path: str) -> None:
    """A checkpoint the user names may be written/read even in a session confined to a model."""
    allow = getattr(sess, "allow_checkpoint_dir", None)
    if allow is not None:
        allow(Path(save_path).parent)


def _read_checked(reader: ckpt.CheckpointReader, key: str, var: Any) -> np.ndarray:
    """The checkpoint's `key`, which must have the variable's dtype."""
    value = np.array(reader.get_tensor(key))
    want = np.dtype(var.dtype.as_numpy_dtype)
    if value.dtype != want:
        raise ExecutionError(
            f"checkpoint {reader.prefix}: tensor {key} has dtype {value.dtype}, expected {want}"
        )
    return value


def write_meta_graph_file(meta: meta_graph_pb2.MetaGraphDef, filename: str, as_text: bool) -> None:
    data = (
        text_format.MessageToString(meta).encode() if as_text else meta.SerializeToString(deterministic=True)
    )
    atomic_write_bytes(filename, data, overwrite=True)


def read_meta_graph_file(filename: str) -> meta_graph_pb2.MetaGraphDef:
    path = Path(filename)
    if not path.is_file():
        raise NotFoundError(f"File {filename} does not exist.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read {filename}: {exc.strerror}") from None
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
        if meta.graph_def.node or meta.HasField("meta_info_def"):
            return meta
    except Exception:  # noqa: BLE001, S110 - fall back to text, as TF does
        pass
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        text_format.Parse(data.decode("utf-8"), meta)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{filename}: not a MetaGraphDef ({exc})") from None
    return meta


def import_meta_graph(
    meta_graph_or_file: Any,
    clear_devices: bool = False,
    import_scope: str | None = None,
    policy: Policy | None = None,
    **_: Any,
) -> Saver | None:
    """Add a MetaGraphDef's graph and collections to the default graph; a Saver for its saver_def.

    Like `tf1.saved_model.load`, a graph using file-system ops is refused unless `policy`
    allows file access; otherwise the graph's sessions confine checkpoint ops to the
    checkpoints named to a Saver.
    """
    from savedmodel.api.tf.meta_graph import import_collections

    meta = (
        meta_graph_or_file
        if isinstance(meta_graph_or_file, meta_graph_pb2.MetaGraphDef)
        else read_meta_graph_file(os.fspath(meta_graph_or_file))
    )
    policy = policy or DEFAULT_POLICY
    source = (
        "meta graph"
        if isinstance(meta_graph_or_file, meta_graph_pb2.MetaGraphDef)
        else str(meta_graph_or_file)
    )
    check_meta_graph(meta, policy, source)
    graph = g.require_graph("tf.compat.v1.train.import_meta_graph")
    if not policy.allow_file_access:
        graph.confined = True
    prefix = f"{import_scope}/" if import_scope else ""
    graph_def = meta.graph_def
    if clear_devices:
        graph_def = type(graph_def)()
        graph_def.CopyFrom(meta.graph_def)
        for node in graph_def.node:
            node.device = ""
    graph.import_graph_def_with_ops(graph_def, prefix, meta.meta_info_def.stripped_op_list) if hasattr(
        graph, "import_graph_def_with_ops"
    ) else _import(graph, graph_def, prefix, meta)
    import_collections(graph, meta, prefix)
    if meta.HasField("saver_def"):
        saver_def = saver_pb2.SaverDef()
        saver_def.CopyFrom(meta.saver_def)
        if prefix:
            for field in ("filename_tensor_name", "save_tensor_name", "restore_op_name"):
                setattr(saver_def, field, prefix + getattr(saver_def, field))
        return Saver(saver_def=saver_def)
    return None


def _import(graph: Graph, graph_def: Any, prefix: str, meta: meta_graph_pb2.MetaGraphDef) -> None:
    from savedmodel.api.tf.imported import import_nodes

    import_nodes(graph, graph_def, prefix, meta.meta_info_def.stripped_op_list)


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The newest checkpoint prefix named by the directory's state file; None when there is none."""
    filename = latest_filename or ckpt.STATE_FILE
    if not (Path(checkpoint_dir) / filename).is_file():
        return None
    try:
        prefix = ckpt.latest_checkpoint(checkpoint_dir, filename)
    except FormatError:
        return None
    return str(prefix) if Path(f"{prefix}.index").is_file() else None


def assign_restored_value(graph: Any, handle: Any, restored: Any, dtype: Any) -> Operation:
    """`Identity` then `AssignVariableOp` of a restored value, as TF's restore functions write them."""
    ident = graph.create_op(
        "Identity", [restored], {"T": g.attr_type(dtype)}, [dtype], [None], name="Identity"
    )
    assign = graph.create_op(
        "AssignVariableOp",
        [handle, ident.outputs[0]],
        {"dtype": g.attr_type(dtype)},
        [],
        [],
        name="AssignVariableOp",
    )
    assign.attrs["_has_manual_control_dependencies"] = g.attr_bool(True)
    return assign
