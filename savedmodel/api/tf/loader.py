"""`tf1.saved_model.load(sess, tags, export_dir)` into a savedmodel.api.tf Graph/Session.

The safety policy applies as in `savedmodel.load`: a model whose graph uses ops that
touch the file system is refused unless the policy (the `policy` argument, else the
session's, else DEFAULT_POLICY) allows file access; a model loaded without file
access confines the session's checkpoint ops to its own variables directory (and
the checkpoints the user names to a Saver). Restoring variables, asset feeds and
the init op follow `savedmodel.loader`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from savedmodel.api.tf.meta_graph import import_collections
from savedmodel.errors import InvalidInputError
from savedmodel.format import saved_model as saved_model_format
from savedmodel.ops import registry
from savedmodel.policy import DEFAULT_POLICY, Policy, check_meta_graph
from savedmodel.proto import meta_graph_pb2


def load(
    sess: Any,
    tags: Any,
    export_dir: str | os.PathLike[str],
    import_scope: str | None = None,
    policy: Policy | None = None,
    **saver_kwargs: Any,
) -> meta_graph_pb2.MetaGraphDef:
    """Import the MetaGraphDef tagged `tags` into `sess.graph`, restore its variables, run its init op."""
    from savedmodel import loader
    from savedmodel.api.tf.imported import import_nodes
    from savedmodel.api.tf.saver import Saver

    if not isinstance(tags, list | tuple | set | frozenset):
        raise InvalidInputError("tags must be a list of tag strings")
    root = Path(os.fspath(export_dir))
    proto = saved_model_format.read_saved_model(root)
    meta = saved_model_format.find_meta_graph(proto, list(tags), str(root))
    policy = policy or getattr(sess, "policy", None) or DEFAULT_POLICY
    check_meta_graph(meta, policy, str(root))
    registry.check_extras(meta.graph_def, str(root))
    graph = sess.graph
    if not policy.allow_file_access:
        graph.confined = True
    sess.set_model_dirs(root, loader.checkpoint_dir(root))
    prefix = f"{import_scope}/" if import_scope else ""
    with graph.as_default():
        import_nodes(graph, meta.graph_def, prefix, meta.meta_info_def.stripped_op_list)
        import_collections(graph, meta, prefix)
    variables_prefix = loader.restore_prefix(root)  # also a session bundle's export / export-?????-of-?????
    if meta.HasField("saver_def") and meta.saver_def.restore_op_name and variables_prefix is not None:
        saver_def = type(meta.saver_def)()
        saver_def.CopyFrom(meta.saver_def)
        if prefix:
            for field in ("filename_tensor_name", "save_tensor_name", "restore_op_name"):
                setattr(saver_def, field, prefix + getattr(saver_def, field))
        with graph.as_default():
            Saver(saver_def=saver_def).restore(sess, str(variables_prefix))
    init = loader.init_op_name(meta)
    if init:
        feeds = {
            prefix + name: value
            for name, value in loader.asset_feeds(meta, root).items()
            if prefix + name.split(":")[0] in graph._by_name
        }
        sess.run(prefix + init, feeds)
    return meta
