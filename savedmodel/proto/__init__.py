"""Protocol buffer schemas of the SavedModel format, written for savedmodel.

The `.proto` files here are our own, written from TensorFlow's documented field
numbers; the `*_pb2.py` modules are generated from them by `tools/gen_protos.py`.
The proto package is `savedmodel.tf`, so these classes never clash with
TensorFlow's own when both are imported in one process.
"""

from savedmodel.proto import (  # noqa: F401
    attr_value_pb2,
    example_pb2,
    fingerprint_pb2,
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    op_def_pb2,
    saved_metadata_pb2,
    saved_model_pb2,
    saved_object_graph_pb2,
    saver_pb2,
    struct_pb2,
    tensor_bundle_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    tensor_slice_pb2,
    trackable_object_graph_pb2,
    types_pb2,
    variable_pb2,
    versions_pb2,
)
