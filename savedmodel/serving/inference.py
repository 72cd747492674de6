"""TF Serving's protobuf APIs (Predict, Classify, Regress, MultiInference, GetModelMetadata,
GetModelStatus) on top of the model manager, independent of the transport.

The gRPC service (`grpc_service`) and the warmup replay (`warmup`) both call these
functions. Each takes a request message (savedmodel.proto.serving_apis_pb2), a `resolve`
callable (ModelSpec fields -> served version and Servable) and an async `run` callable
(Servable, signature key, inputs, batchable -> outputs), so the REST server's executor,
timeout and batching apply to gRPC requests too.

Checks and messages follow TF Serving's predict_util.cc, classification_service.cc,
regression_service.cc, multi_inference_helper.cc and get_model_metadata_impl.cc.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from savedmodel.errors import SavedModelError
from savedmodel.format import tensor as tensor_format
from savedmodel.proto import serving_apis_pb2 as apis
from savedmodel.proto import tensor_pb2
from savedmodel.serving import json_tensor
from savedmodel.serving.errors import ServingError, failed_precondition, invalid_argument, unimplemented
from savedmodel.serving.model import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    PREDICT_METHOD,
    REGRESS_METHOD,
    Servable,
)

SIGNATURE_DEF_MAP_TYPE_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"
SIGNATURE_DEF_FIELD = "signature_def"

Resolve = Callable[[str, "int | None", "str | None"], tuple[int, Servable]]
Run = Callable[[Servable, str, Mapping[str, np.ndarray], bool], Awaitable[dict[str, np.ndarray]]]


def _resolve_spec(resolve: Resolve, spec: apis.ModelSpec) -> tuple[int, Servable]:
    choice = spec.WhichOneof("version_choice")
    version = spec.version.value if choice == "version" else None
    label = spec.version_label if choice == "version_label" else None
    return resolve(spec.name, version, label)


def make_model_spec(name: str, signature_name: str, version: int | None) -> apis.ModelSpec:
    """TF Serving's MakeModelSpec: the signature name as requested, the version served."""
    spec = apis.ModelSpec(name=name, signature_name=signature_name)
    if version is not None:
        spec.version.value = version
    return spec


def _require_model_spec(request: Any) -> None:
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")


# -- tensors ----------------------------------------------------------------


def tensor_from_proto(proto: tensor_pb2.TensorProto, alias: str) -> np.ndarray:
    try:
        return tensor_format.to_numpy(proto)
    except SavedModelError as exc:
        raise invalid_argument(f"input tensor {alias}: {exc}") from None


def tensor_to_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """Tensor::AsProtoField: values in the typed repeated field (float_val, ...), not tensor_content."""
    array = np.asarray(array)
    proto = tensor_format.from_numpy(array)
    if proto.tensor_content:
        proto.ClearField("tensor_content")
        tensor_format._append_typed(proto, proto.dtype, array.reshape(-1))
    return proto


# -- Predict ----------------------------------------------------------------


def _predict_inputs(signature: Any, request: apis.PredictRequest) -> dict[str, np.ndarray]:
    wanted = set(signature.inputs)
    sent = set(request.inputs)
    if len(sent) > len(wanted) or (len(sent) < len(wanted) and not signature.defaults):
        raise invalid_argument(
            f"input size does not match signature: {len(sent)}!={len(wanted)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. "
            f"Missing but required: {{{','.join(sorted(wanted - sent))}}}."
        )
    inputs: dict[str, np.ndarray] = {}
    for index, alias in enumerate(sorted(sent)):
        if alias not in signature.inputs:
            raise invalid_argument(
                f"input tensor alias not found in signature: {alias}. Inputs expected to be in the set "
                f"{{{','.join(sorted(wanted))}}}."
            )
        proto = request.inputs[alias]
        expected = signature.inputs[alias].dtype
        if expected and proto.dtype != expected:
            raise invalid_argument(
                f"Expects arg[{index}] to be {_type_name(expected)} but {_type_name(proto.dtype)} is provided"
            )
        inputs[alias] = tensor_from_proto(proto, alias)
    return inputs


def _type_name(dtype: int) -> str:
    try:
        return json_tensor.dtype_string(dtype)
    except Exception:  # noqa: BLE001 - an unknown enum value still gets a message
        return str(dtype)


def _output_aliases(signature: Any, request: apis.PredictRequest) -> list[str]:
    seen: set[str] = set()
    for alias in request.output_filter:
        if alias not in signature.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs expected to be in the set "
                f"{{{','.join(sorted(signature.outputs))}}}."
            )
        if alias in seen:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return list(request.output_filter) or sorted(signature.outputs)


def check_predict_signature(signature: Any, check_method_name: bool = False) -> None:
    """TF Serving's VerifySignature (only with --enable_signature_method_name_check)."""
    methods = (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD)
    if check_method_name and signature.method_name not in methods:
        raise ServingError(
            "INTERNAL",
            f"Expected prediction signature method_name to be one of {{{', '.join(methods)}}}. "
            f"Was: {signature.method_name}",
        )


async def predict(
    request: apis.PredictRequest, resolve: Resolve, run: Run, check_method_name: bool = False
) -> apis.PredictResponse:
    _require_model_spec(request)
    version, servable = _resolve_spec(resolve, request.model_spec)
    key = request.model_spec.signature_name or DEFAULT_SIGNATURE
    signature = servable.signature_defs.get(key)
    if signature is None:
        raise failed_precondition(f'Serving signature key "{key}" not found.')
    check_predict_signature(signature, check_method_name)
    inputs = _predict_inputs(signature, request)
    aliases = _output_aliases(signature, request)
    outputs = await run(servable, key, inputs, True)
    response = apis.PredictResponse()
    response.model_spec.CopyFrom(make_model_spec(request.model_spec.name, key, version))
    for alias in aliases:
        if alias not in outputs:
            raise ServingError("INTERNAL", f"the model did not return output {alias!r}")
        response.outputs[alias].CopyFrom(tensor_to_proto(outputs[alias]))
    return response


# -- Classify / Regress / MultiInference --------------------------------------


def serialized_examples(model_input: apis.Input) -> np.ndarray:
    """The examples of an Input as a 1-D string tensor; with a context, each example is the
    context's bytes followed by its own (protobuf merge: example features win)."""
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        records = [e.SerializeToString() for e in model_input.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = model_input.example_list_with_context
        context = with_context.context.SerializeToString()
        records = [context + e.SerializeToString() for e in with_context.examples]
    else:
        records = []
    if not records:
        raise invalid_argument("Input is empty.")
    tensor = np.empty(len(records), dtype=object)
    tensor[:] = records
    return tensor


def check_examples_signature(signature: Any, verb: str, check_method_name: bool = False) -> None:
    """TF Serving's PreProcessClassification / PreProcessRegression checks. The method_name is
    checked only with --enable_signature_method_name_check (off by default, as in TF Serving:
    TF2 exports mark every signature tensorflow/serving/predict)."""
    kind = "classification" if verb == "classify" else "regression"
    method = CLASSIFY_METHOD if verb == "classify" else REGRESS_METHOD
    if check_method_name and signature.method_name != method:
        raise invalid_argument(
            f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}"
        )
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if "inputs" not in signature.inputs:
        raise invalid_argument(f"No {kind} inputs found in SignatureDef: {signature}")
    outputs = signature.outputs
    if verb == "classify":
        if len(outputs) not in (1, 2):
            raise invalid_argument(f"Expected one or two output Tensors, found {len(outputs)}")
        if "classes" not in outputs and "scores" not in outputs:
            raise invalid_argument(
                'Expected classification signature outputs to contain at least one of "classes" or '
                f'"scores". Signature was: {signature}'
            )
    else:
        if len(outputs) != 1:
            raise invalid_argument("Expected one output Tensor.")
        if "outputs" not in outputs:
            raise failed_precondition(f"No regression outputs found in SignatureDef: {signature}")


def _examples_signature(servable: Servable, signature_name: str, verb: str, check_method_name: bool) -> str:
    key = signature_name or DEFAULT_SIGNATURE
    signature = servable.signature_defs.get(key)
    if signature is None:
        raise invalid_argument(f"No signature was found with the name: {key}")
    check_examples_signature(signature, verb, check_method_name)
    return key


def classification_result(outputs: Mapping[str, np.ndarray], count: int) -> apis.ClassificationResult:
    result = apis.ClassificationResult()
    for row in json_tensor.classification_results(outputs, count):
        classifications = result.classifications.add()
        for label, score in row:
            classifications.classes.add(label=label.decode("utf-8", "replace"), score=score)
    return result


def regression_result(outputs: Mapping[str, np.ndarray], count: int) -> apis.RegressionResult:
    result = apis.RegressionResult()
    for value in json_tensor.regression_results(outputs, count):
        result.regressions.add(value=value)
    return result


async def _run_examples(
    request: Any, resolve: Resolve, run: Run, verb: str, check_method_name: bool
) -> tuple[apis.ModelSpec, dict[str, np.ndarray], int]:
    _require_model_spec(request)
    version, servable = _resolve_spec(resolve, request.model_spec)
    key = _examples_signature(servable, request.model_spec.signature_name, verb, check_method_name)
    examples = serialized_examples(request.input)
    outputs = await run(servable, key, {"inputs": examples}, False)
    spec = make_model_spec(request.model_spec.name, request.model_spec.signature_name, version)
    return spec, outputs, len(examples)


async def classify(
    request: apis.ClassificationRequest, resolve: Resolve, run: Run, check_method_name: bool = False
) -> apis.ClassificationResponse:
    spec, outputs, count = await _run_examples(request, resolve, run, "classify", check_method_name)
    return apis.ClassificationResponse(model_spec=spec, result=classification_result(outputs, count))


async def regress(
    request: apis.RegressionRequest, resolve: Resolve, run: Run, check_method_name: bool = False
) -> apis.RegressionResponse:
    spec, outputs, count = await _run_examples(request, resolve, run, "regress", check_method_name)
    return apis.RegressionResponse(model_spec=spec, result=regression_result(outputs, count))


def _check_tasks(request: apis.MultiInferenceRequest) -> str:
    model_name = ""
    seen: set[str] = set()
    for task in request.tasks:
        name = task.model_spec.name
        if not name:
            raise invalid_argument("Found ModelSpec with an empty model name.")
        if model_name and name != model_name:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        model_name = name
        signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if signature_name in seen:
            raise invalid_argument(f"Duplicate evaluation of signature: {signature_name}")
        seen.add(signature_name)
        if task.method_name not in (CLASSIFY_METHOD, REGRESS_METHOD):
            raise unimplemented(f"Unsupported signature method_name: {task.method_name}")
    if not request.tasks:
        raise invalid_argument("MultiInferenceRequest must specify at least one task.")
    return model_name


async def multi_inference(
    request: apis.MultiInferenceRequest, resolve: Resolve, run: Run, check_method_name: bool = False
) -> apis.MultiInferenceResponse:
    _check_tasks(request)
    first = request.tasks[0].model_spec
    version, servable = _resolve_spec(resolve, first)
    examples = serialized_examples(request.input)
    response = apis.MultiInferenceResponse()
    for task in request.tasks:
        key = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if key not in servable.signature_defs:
            raise invalid_argument(f"Requested signature not found in model graph: {key}")
        verb = "classify" if task.method_name == CLASSIFY_METHOD else "regress"
        check_examples_signature(servable.signature_defs[key], verb, check_method_name)
        outputs = await run(servable, key, {"inputs": examples}, False)
        result = response.results.add()
        result.model_spec.CopyFrom(
            make_model_spec(task.model_spec.name, task.model_spec.signature_name, version)
        )
        if verb == "classify":
            result.classification_result.CopyFrom(classification_result(outputs, len(examples)))
        else:
            result.regression_result.CopyFrom(regression_result(outputs, len(examples)))
    return response


# -- metadata and status ------------------------------------------------------


def model_metadata(request: apis.GetModelMetadataRequest, resolve: Resolve) -> apis.GetModelMetadataResponse:
    _require_model_spec(request)
    if not request.metadata_field:
        raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != SIGNATURE_DEF_FIELD:
            raise invalid_argument(f"Metadata field {field} is not supported")
    version, servable = _resolve_spec(resolve, request.model_spec)
    signature_map = apis.SignatureDefMap()
    for key, signature in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(signature)
    response = apis.GetModelMetadataResponse()
    response.model_spec.CopyFrom(make_model_spec(request.model_spec.name, "", version))
    # Our message is savedmodel.serving.SignatureDefMap; clients unpack TF Serving's type name.
    any_value = response.metadata[SIGNATURE_DEF_FIELD]
    any_value.type_url = SIGNATURE_DEF_MAP_TYPE_URL
    any_value.value = signature_map.SerializeToString()
    return response


STATE_VALUES = {
    "START": apis.ModelVersionStatus.START,
    "LOADING": apis.ModelVersionStatus.LOADING,
    "AVAILABLE": apis.ModelVersionStatus.AVAILABLE,
    "UNLOADING": apis.ModelVersionStatus.UNLOADING,
    "END": apis.ModelVersionStatus.END,
}


def model_status(
    request: apis.GetModelStatusRequest, version_status: Callable
) -> apis.GetModelStatusResponse:
    """`version_status(name, version, label)` is ModelManager.version_status."""
    _require_model_spec(request)
    spec = request.model_spec
    if not spec.name:
        raise invalid_argument("Missing model name in request.")
    choice = spec.WhichOneof("version_choice")
    states = version_status(
        spec.name,
        spec.version.value if choice == "version" else None,
        spec.version_label if choice == "version_label" else None,
    )
    response = apis.GetModelStatusResponse()
    for state in states:
        status = response.model_version_status.add(
            version=state.version, state=STATE_VALUES.get(state.state, apis.ModelVersionStatus.UNKNOWN)
        )
        status.status.error_code = apis.ErrorCode.Value(state.error_code) if state.error_code else 0
        status.status.error_message = state.error_message
    return response


__all__ = [
    "SIGNATURE_DEF_MAP_TYPE_URL",
    "classify",
    "model_metadata",
    "model_status",
    "multi_inference",
    "predict",
    "regress",
]
