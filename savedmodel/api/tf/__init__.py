"""A TensorFlow-shaped API that builds, runs and writes SavedModels without TensorFlow.

    from savedmodel import tf
    tf1 = tf.compat.v1

Covers the graph-building and saving parts of TF1 (`tf.Graph`, `tf1.placeholder`,
`tf1.Session`, `tf1.saved_model.Builder`, `tf1.train.Saver`...) and TF2
(eager tensors, `tf.function`, `tf.Module`, `tf.saved_model.save`/`load`, `tf.cond`,
`tf.case`, `tf.while_loop`, `tf.map_fn`, `tf.train.Example`), plus a Keras and Estimator
subset. What it writes loads in TensorFlow.

A name it does not implement (`tf.GradientTape`, `tf.keras.layers.Foo`) raises one
`savedmodel.UnsupportedError` naming it; that error is also an AttributeError, so `hasattr`
answers False.
"""

from __future__ import annotations

import sys as _sys
from typing import Any, NamedTuple

from savedmodel.api.tf import builder as _builder
from savedmodel.api.tf import dtypes as _dtypes
from savedmodel.api.tf import graph as _graph
from savedmodel.api.tf import ops as _ops
from savedmodel.api.tf import saver as _saver
from savedmodel.api.tf import session as _session
from savedmodel.api.tf import variables as _variables
from savedmodel.api.tf.dtypes import (
    DType,
    as_dtype,
    bfloat16,
    bool_,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from savedmodel.api.tf.eager import EagerTensor
from savedmodel.api.tf.graph import Graph, Operation, Tensor, TensorShape, executing_eagerly
from savedmodel.api.tf.namespace import LazyNamespace, Namespace, unsupported
from savedmodel.api.tf.ops import (
    NameScope as name_scope,  # noqa: N813 - TF's spelling
)
from savedmodel.api.tf.ops import abs_ as abs  # noqa: A004
from savedmodel.api.tf.ops import (
    add,
    argmax,
    cast,
    concat,
    constant,
    convert_to_tensor,
    divide,
    equal,
    exp,
    expand_dims,
    greater,
    greater_equal,
    identity,
    is_tensor,
    less,
    less_equal,
    log,
    matmul,
    maximum,
    minimum,
    multiply,
    negative,
    no_op,
    not_equal,
    ones,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    reshape,
    shape,
    sigmoid,
    sqrt,
    square,
    squeeze,
    stack,
    subtract,
    tanh,
    transpose,
    where,
    zeros,
)
from savedmodel.api.tf.ops import pow_ as pow  # noqa: A004
from savedmodel.api.tf.variables import Variable

bool = bool_  # noqa: A001 - TF's name
newaxis = None


def group(*inputs: Any, name: str | None = None) -> Any:
    return _ops.group(*inputs, name=name)


def control_dependencies(control_inputs: Any) -> Any:
    graph = _graph.get_default_graph()
    if graph is None:
        import contextlib

        return contextlib.nullcontext()
    return graph.control_dependencies(control_inputs)


def get_default_graph() -> Graph:
    graph = _graph.get_default_graph()
    if graph is None:
        graph = _graph.global_graph()
    return graph


def reset_default_graph() -> None:
    _graph.reset_global_graph()


def _disable_eager_execution() -> None:
    _graph.set_eager_execution(False)


def _enable_eager_execution(
    config: Any = None, device_policy: Any = None, execution_mode: Any = None
) -> None:
    _graph.set_eager_execution(True)


nn = Namespace(
    "tf.nn",
    relu=_ops.relu,
    softmax=_ops.softmax,
    sigmoid=_ops.sigmoid,
    tanh=_ops.tanh,
    bias_add=_ops.bias_add,
)
math = Namespace(
    "tf.math",
    add=add,
    subtract=subtract,
    multiply=multiply,
    divide=divide,
    exp=exp,
    log=log,
    sqrt=sqrt,
    square=square,
    maximum=maximum,
    minimum=minimum,
    reduce_sum=reduce_sum,
    reduce_mean=reduce_mean,
    reduce_max=reduce_max,
    reduce_min=reduce_min,
    reduce_prod=reduce_prod,
    sigmoid=sigmoid,
    tanh=tanh,
    equal=equal,
    negative=negative,
    abs=abs,
    pow=pow,
)

_signature_constants = Namespace(
    "tf.saved_model.signature_constants",
    DEFAULT_SERVING_SIGNATURE_DEF_KEY=_builder.DEFAULT_SERVING_SIGNATURE_DEF_KEY,
    PREDICT_METHOD_NAME=_builder.PREDICT_METHOD_NAME,
    CLASSIFY_METHOD_NAME=_builder.CLASSIFY_METHOD_NAME,
    REGRESS_METHOD_NAME=_builder.REGRESS_METHOD_NAME,
    PREDICT_INPUTS=_builder.PREDICT_INPUTS,
    PREDICT_OUTPUTS=_builder.PREDICT_OUTPUTS,
    CLASSIFY_INPUTS=_builder.CLASSIFY_INPUTS,
    CLASSIFY_OUTPUT_CLASSES=_builder.CLASSIFY_OUTPUT_CLASSES,
    CLASSIFY_OUTPUT_SCORES=_builder.CLASSIFY_OUTPUT_SCORES,
    REGRESS_INPUTS=_builder.REGRESS_INPUTS,
    REGRESS_OUTPUTS=_builder.REGRESS_OUTPUTS,
)
_tag_constants = Namespace(
    "tf.saved_model.tag_constants",
    SERVING=_builder.SERVING,
    TRAINING=_builder.TRAINING,
    EVAL=_builder.EVAL,
    GPU=_builder.GPU,
    TPU=_builder.TPU,
)
_signature_def_utils = Namespace(
    "tf.compat.v1.saved_model.signature_def_utils",
    build_signature_def=_builder.build_signature_def,
    predict_signature_def=_builder.predict_signature_def,
    classification_signature_def=_builder.classification_signature_def,
    regression_signature_def=_builder.regression_signature_def,
    is_valid_signature=_builder.is_valid_signature,
    MethodNameUpdater=_builder.MethodNameUpdater,
)


def _tf1_load(sess: Any, tags: Any, export_dir: Any, import_scope: str | None = None, **kwargs: Any) -> Any:
    from savedmodel.api.tf.loader import load

    return load(sess, tags, export_dir, import_scope, **kwargs)


_v1_saved_model = Namespace(
    "tf.compat.v1.saved_model",
    Builder=_builder.Builder,
    builder=Namespace("tf.compat.v1.saved_model.builder", SavedModelBuilder=_builder.Builder),
    simple_save=_builder.simple_save,
    load=_tf1_load,
    loader=Namespace("tf.compat.v1.saved_model.loader", load=_tf1_load),
    predict_signature_def=_builder.predict_signature_def,
    classification_signature_def=_builder.classification_signature_def,
    regression_signature_def=_builder.regression_signature_def,
    build_signature_def=_builder.build_signature_def,
    build_tensor_info=_builder.build_tensor_info,
    is_valid_signature=_builder.is_valid_signature,
    signature_def_utils=_signature_def_utils,
    signature_constants=_signature_constants,
    tag_constants=_tag_constants,
    utils=Namespace("tf.compat.v1.saved_model.utils", build_tensor_info=_builder.build_tensor_info),
    contains_saved_model=_builder.contains_saved_model,
    main_op=Namespace(
        "tf.compat.v1.saved_model.main_op",
        main_op=lambda: _ops.group(_variables.global_variables_initializer()),
    ),
    **{
        k: getattr(_builder, k)
        for k in (
            "SERVING",
            "TRAINING",
            "EVAL",
            "GPU",
            "TPU",
            "DEFAULT_SERVING_SIGNATURE_DEF_KEY",
            "PREDICT_METHOD_NAME",
            "CLASSIFY_METHOD_NAME",
            "REGRESS_METHOD_NAME",
            "PREDICT_INPUTS",
            "PREDICT_OUTPUTS",
            "CLASSIFY_INPUTS",
            "CLASSIFY_OUTPUT_CLASSES",
            "CLASSIFY_OUTPUT_SCORES",
            "REGRESS_INPUTS",
            "REGRESS_OUTPUTS",
            "ASSETS_DIRECTORY",
            "VARIABLES_DIRECTORY",
            "VARIABLES_FILENAME",
            "SAVED_MODEL_FILENAME_PB",
            "SAVED_MODEL_FILENAME_PBTXT",
            "SAVED_MODEL_SCHEMA_VERSION",
            "MAIN_OP_KEY",
            "LEGACY_INIT_OP_KEY",
            "ASSETS_KEY",
        )
    },
)


def _get_global_step(graph: Graph | None = None) -> Any:
    graph = graph or _graph.get_default_graph()
    if graph is None:
        return None
    found = graph.get_collection(_variables.GLOBAL_STEP)
    return found[0] if found else None


def _create_global_step(graph: Graph | None = None) -> Any:
    graph = graph or _graph.require_graph("create_global_step")
    if _get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default():
        import numpy as np

        step = _variables.GraphVariable(
            graph,
            lambda: _ops.constant(np.array(0, dtype=np.int64), name="zeros"),
            trainable=False,
            name="global_step",
            collections=[_variables.GLOBAL_VARIABLES, _variables.GLOBAL_STEP],
            aggregation=_variables.ONLY_FIRST_REPLICA,
        )
    return step


_v1_train = Namespace(
    "tf.compat.v1.train",
    Saver=_saver.Saver,
    import_meta_graph=_saver.import_meta_graph,
    export_meta_graph=lambda filename=None, as_text=False, **kw: _saver.Saver(
        allow_empty=True
    ).export_meta_graph(filename, as_text=as_text, **kw),
    latest_checkpoint=_saver.latest_checkpoint,
    get_global_step=_get_global_step,
    get_or_create_global_step=lambda graph=None: _get_global_step(graph) or _create_global_step(graph),
    create_global_step=_create_global_step,
    SaverDef=__import__("savedmodel.proto.saver_pb2", fromlist=["SaverDef"]).SaverDef,
)


def import_graph_def(
    graph_def: Any,
    input_map: Any = None,
    return_elements: Any = None,
    name: str | None = None,
    op_dict: Any = None,
    producer_op_list: Any = None,
) -> Any:
    """`tf.compat.v1.import_graph_def` (see savedmodel.api.tf.importer)."""
    from savedmodel.api.tf.importer import import_graph_def as _import

    return _import(graph_def, input_map, return_elements, name, op_dict, producer_op_list)


def _map_structure(func: Any, *structures: Any) -> Any:
    from savedmodel.api.tf.function import flatten, pack

    if not structures:
        raise ValueError("map_structure needs at least one structure")
    flats = [flatten(s) for s in structures]
    if any(len(f) != len(flats[0]) for f in flats):
        raise ValueError("The structures passed to map_structure do not have the same number of elements")
    return pack(structures[0], [func(*items) for items in zip(*flats, strict=True)])


def _nest_flatten(structure: Any, expand_composites: bool = False) -> list[Any]:
    from savedmodel.api.tf.function import flatten

    return flatten(structure)


def _nest_pack(structure: Any, flat_sequence: Any, expand_composites: bool = False) -> Any:
    from savedmodel.api.tf.function import pack

    return pack(structure, list(flat_sequence))


nest = Namespace("tf.nest", map_structure=_map_structure, flatten=_nest_flatten, pack_sequence_as=_nest_pack)
graph_util = Namespace("tf.compat.v1.graph_util", import_graph_def=import_graph_def)


def _wrap_function(fn: Any, signature: Any, name: str | None = None) -> Any:
    from savedmodel.api.tf.wrap import wrap_function

    return wrap_function(fn, signature, name)


_gfile = LazyNamespace("savedmodel.api.tf.gfile", "tf.io.gfile")
io = Namespace("tf.io", gfile=_gfile)
_v1_gfile = LazyNamespace(
    "savedmodel.api.tf.gfile",
    "tf.compat.v1.gfile",
    Copy=lambda src, dst, overwrite=False: _gfile.copy(src, dst, overwrite),
    DeleteRecursively=lambda path: _gfile.rmtree(path),
    Exists=lambda path: _gfile.exists(path),
    Glob=lambda pattern: _gfile.glob(pattern),
    IsDirectory=lambda path: _gfile.isdir(path),
    ListDirectory=lambda path: _gfile.listdir(path),
    MakeDirs=lambda path: _gfile.makedirs(path),
    MkDir=lambda path: _gfile.mkdir(path),
    Remove=lambda path: _gfile.remove(path),
    Rename=lambda src, dst, overwrite=False: _gfile.rename(src, dst, overwrite),
    Walk=lambda top, in_order=True: _gfile.walk(top, topdown=in_order),
)
GraphDef = __import__("savedmodel.proto.graph_pb2", fromlist=["GraphDef"]).GraphDef
NodeDef = __import__("savedmodel.proto.node_def_pb2", fromlist=["NodeDef"]).NodeDef

compat = Namespace("tf.compat")
compat.v1 = Namespace(
    "tf.compat.v1",
    placeholder=_ops.placeholder,
    placeholder_with_default=_ops.placeholder_with_default,
    Session=_session.Session,
    InteractiveSession=_session.Session,
    get_default_session=_session.get_default_session,
    Graph=Graph,
    get_default_graph=get_default_graph,
    reset_default_graph=reset_default_graph,
    Variable=Variable,
    disable_resource_variables=_variables.disable_resource_variables,
    enable_resource_variables=_variables.enable_resource_variables,
    constant=constant,
    global_variables_initializer=_variables.global_variables_initializer,
    initializers=Namespace(
        "tf.compat.v1.initializers", global_variables=_variables.global_variables_initializer
    ),
    variables_initializer=_variables.variables_initializer,
    global_variables=_variables.global_variables,
    trainable_variables=_variables.trainable_variables,
    saved_model=_v1_saved_model,
    train=_v1_train,
    wrap_function=_wrap_function,
    import_graph_def=import_graph_def,
    graph_util=graph_util,
    disable_eager_execution=_disable_eager_execution,
    enable_eager_execution=_enable_eager_execution,
    disable_v2_behavior=_disable_eager_execution,
    enable_v2_behavior=_enable_eager_execution,
    GraphDef=GraphDef,
    NodeDef=NodeDef,
    gfile=_v1_gfile,
    io=io,
    nest=nest,
    name_scope=name_scope,
    GraphKeys=Namespace(
        "tf.compat.v1.GraphKeys",
        GLOBAL_VARIABLES="variables",
        TRAINABLE_VARIABLES="trainable_variables",
        GLOBAL_STEP="global_step",
        ASSET_FILEPATHS="asset_filepaths",
        SAVEABLE_OBJECTS="saveable_objects",
        TABLE_INITIALIZERS="table_initializer",
        LOCAL_VARIABLES="local_variables",
        TRAIN_OP="train_op",
        UPDATE_OPS="update_ops",
    ),
    nn=nn,
    math=math,
    float32=float32,
    int32=int32,
    int64=int64,
    string=string,
    add=add,
    multiply=multiply,
    matmul=matmul,
    group=group,
    no_op=no_op,
    identity=identity,
    executing_eagerly=executing_eagerly,
)

from savedmodel.api.tf.control_flow import case, cond, map_fn, while_loop  # noqa: E402
from savedmodel.api.tf.function import TensorSpec, function  # noqa: E402
from savedmodel.api.tf.module import Module  # noqa: E402

compat.v1.cond = cond
compat.v1.case = case
compat.v1.while_loop = while_loop
compat.v1.map_fn = map_fn


class PhysicalDevice(NamedTuple):
    name: str
    device_type: str


def _list_physical_devices(device_type: str | None = None) -> list[PhysicalDevice]:
    """savedmodel runs on the CPU only: one CPU device, no GPU or TPU."""
    cpu = PhysicalDevice("/physical_device:CPU:0", "CPU")
    return [cpu] if device_type in (None, "CPU") else []


def _set_memory_growth(device: PhysicalDevice, enable: bool) -> None:
    """Nothing to do on the CPU (TF allows it only for GPUs, which savedmodel never lists)."""


config = Namespace(
    "tf.config",
    list_physical_devices=_list_physical_devices,
    list_logical_devices=_list_physical_devices,
    experimental=Namespace(
        "tf.config.experimental",
        list_physical_devices=_list_physical_devices,
        set_memory_growth=_set_memory_growth,
    ),
)

train = LazyNamespace(
    "savedmodel.proto.example_pb2",
    "tf.train",
    latest_checkpoint=_saver.latest_checkpoint,
)
compat.v1.train.Example = train.Example
compat.v1.train.Features = train.Features
compat.v1.train.Feature = train.Feature
compat.v1.train.BytesList = train.BytesList
compat.v1.train.FloatList = train.FloatList
compat.v1.train.Int64List = train.Int64List


def _saving() -> Any:
    import importlib

    return importlib.import_module("savedmodel.api.tf.saving")


saved_model = LazyNamespace(
    "savedmodel.api.tf.saving",
    "tf.saved_model",
    save=lambda obj, export_dir, signatures=None, options=None, **kw: _saving().saved_model_save(
        obj, export_dir, signatures, options, **kw
    ),
    DEFAULT_SERVING_SIGNATURE_DEF_KEY=_builder.DEFAULT_SERVING_SIGNATURE_DEF_KEY,
    SERVING=_builder.SERVING,
    TRAINING=_builder.TRAINING,
    GPU=_builder.GPU,
    TPU=_builder.TPU,
    PREDICT_METHOD_NAME=_builder.PREDICT_METHOD_NAME,
    CLASSIFY_METHOD_NAME=_builder.CLASSIFY_METHOD_NAME,
    REGRESS_METHOD_NAME=_builder.REGRESS_METHOD_NAME,
    ASSETS_DIRECTORY=_builder.ASSETS_DIRECTORY,
    VARIABLES_DIRECTORY=_builder.VARIABLES_DIRECTORY,
    VARIABLES_FILENAME=_builder.VARIABLES_FILENAME,
    SAVED_MODEL_FILENAME_PB=_builder.SAVED_MODEL_FILENAME_PB,
    SAVED_MODEL_FILENAME_PBTXT=_builder.SAVED_MODEL_FILENAME_PBTXT,
    contains_saved_model=_builder.contains_saved_model,
)
keras = LazyNamespace("savedmodel.api.tf.keras", "tf.keras")
estimator = LazyNamespace("savedmodel.api.tf.estimator", "tf.estimator")
data = LazyNamespace("savedmodel.api.tf.data", "tf.data")


def __getattr__(name: str) -> Any:
    """Every name this facade does not implement: one clear UnsupportedError naming it."""
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    raise unsupported(f"tf.{name}")


class _FacadeModule(type(_sys.modules[__name__])):  # type: ignore[misc]
    """Keeps `tf.keras`, `tf.data`, `tf.estimator` the strict namespaces above when Python binds
    the same-named implementation modules (savedmodel.api.tf.keras...) on their first import."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FACADE_NAMESPACES and isinstance(value, type(_sys)):
            return
        super().__setattr__(name, value)


_FACADE_NAMESPACES = ("keras", "estimator", "data")
_sys.modules[__name__].__class__ = _FacadeModule

__all__ = [
    "DType",
    "EagerTensor",
    "Graph",
    "GraphDef",
    "Module",
    "NodeDef",
    "Operation",
    "Tensor",
    "TensorShape",
    "TensorSpec",
    "Variable",
    "abs",
    "add",
    "as_dtype",
    "cast",
    "compat",
    "concat",
    "constant",
    "control_dependencies",
    "convert_to_tensor",
    "divide",
    "equal",
    "exp",
    "executing_eagerly",
    "function",
    "get_default_graph",
    "graph_util",
    "import_graph_def",
    "io",
    "nest",
    "greater",
    "greater_equal",
    "group",
    "identity",
    "is_tensor",
    "less",
    "less_equal",
    "log",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "name_scope",
    "negative",
    "no_op",
    "not_equal",
    "pow",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
    "reshape",
    "saved_model",
    "sigmoid",
    "sqrt",
    "square",
    "stack",
    "subtract",
    "tanh",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "string",
    "complex64",
    "complex128",
    "half",
    "double",
    "keras",
    "estimator",
    "data",
    "nn",
    "math",
    "argmax",
    "expand_dims",
    "ones",
    "shape",
    "squeeze",
    "transpose",
    "where",
    "zeros",
    "cond",
    "case",
    "while_loop",
    "map_fn",
    "train",
    "config",
]
_ = (
    bfloat16,
    bool_,
    complex64,
    complex128,
    double,
    float16,
    float64,
    half,
    int8,
    int16,
    uint8,
    uint16,
    uint32,
    uint64,
    DType,
    as_dtype,
    _dtypes,
)
