"""MetaGraphDef export/import for savedmodel.api.tf graphs (collections, saver_def, op list)."""

from __future__ import annotations

from typing import Any

from savedmodel import __version__
from savedmodel.api.tf import op_defs
from savedmodel.api.tf.graph import Graph, Operation, Tensor
from savedmodel.proto import meta_graph_pb2, op_def_pb2, saver_pb2

TENSORFLOW_VERSION = "2.21.0"  # the TensorFlow release whose files we write like
GIT_VERSION = f"savedmodel-{__version__}"


def _collection_value(meta: meta_graph_pb2.MetaGraphDef, key: str, items: list[Any]) -> None:
    """Serialize one collection as TF does; skip ones it cannot store."""
    from savedmodel.api.tf.variables import BaseVariable

    if not items:
        return
    first = items[0]
    if hasattr(first, "to_proto") and isinstance(first, BaseVariable):
        col = meta.collection_def[key].bytes_list
        col.value.extend(v.to_proto().SerializeToString() for v in items)
    elif isinstance(first, Tensor | Operation):
        meta.collection_def[key].node_list.value.extend(i.name for i in items)
    elif isinstance(first, bool | int):
        meta.collection_def[key].int64_list.value.extend(int(i) for i in items)
    elif isinstance(first, float):
        meta.collection_def[key].float_list.value.extend(items)
    elif isinstance(first, str | bytes):
        meta.collection_def[key].bytes_list.value.extend(
            i.encode() if isinstance(i, str) else i for i in items
        )


def export_meta_graph(
    graph: Graph,
    saver_def: saver_pb2.SaverDef | None = None,
    collection_list: list[str] | None = None,
    clear_devices: bool = False,
    strip_default_attrs: bool = False,
    tags: list[str] | None = None,
) -> meta_graph_pb2.MetaGraphDef:
    meta = meta_graph_pb2.MetaGraphDef()
    graph_def = graph.as_graph_def(add_shapes=True)
    if clear_devices:
        for node in graph_def.node:
            node.device = ""
        graph_def.library.SetInParent()  # TF's device-clearing copy leaves an empty library set
    if strip_default_attrs:
        op_defs.strip_default_attrs(graph_def)
        meta.meta_info_def.stripped_default_attrs = True
    meta.meta_info_def.stripped_op_list.CopyFrom(op_defs.stripped_op_list(graph.op_types()))
    if tags:
        meta.meta_info_def.tags.extend(tags)
    meta.meta_info_def.tensorflow_version = TENSORFLOW_VERSION
    meta.meta_info_def.tensorflow_git_version = GIT_VERSION
    meta.graph_def.CopyFrom(graph_def)
    if saver_def is not None:
        meta.saver_def.CopyFrom(saver_def)
    keys = collection_list if collection_list is not None else graph.get_all_collection_keys()
    for key in keys:
        _collection_value(meta, key, graph.get_collection(key))
    return meta


def op_list(meta: meta_graph_pb2.MetaGraphDef) -> op_def_pb2.OpList:
    return meta.meta_info_def.stripped_op_list


def import_collections(graph: Graph, meta: meta_graph_pb2.MetaGraphDef, prefix: str = "") -> None:
    """Rebuild the collections of an imported MetaGraphDef (variables come back as variable objects)."""
    from savedmodel.api.tf.imported import ImportedVariable
    from savedmodel.proto import variable_pb2

    for key in sorted(meta.collection_def):
        col = meta.collection_def[key]
        kind = col.WhichOneof("kind")
        if kind == "node_list":
            for name in col.node_list.value:
                try:
                    graph.add_to_collection(key, graph.as_graph_element(prefix + name))
                except (KeyError, ValueError):
                    continue
        elif kind == "bytes_list" and key in (
            "variables",
            "trainable_variables",
            "global_step",
            "local_variables",
            "model_variables",
        ):
            for data in col.bytes_list.value:
                proto = variable_pb2.VariableDef.FromString(data)
                graph.add_to_collection(key, ImportedVariable.get(graph, proto, prefix))
        elif kind == "bytes_list":
            graph.get_collection_ref(key).extend(col.bytes_list.value)
        elif kind == "int64_list":
            graph.get_collection_ref(key).extend(col.int64_list.value)
        elif kind == "float_list":
            graph.get_collection_ref(key).extend(col.float_list.value)
