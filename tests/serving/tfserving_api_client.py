"""tensorflow-serving-api's own stubs (with TensorFlow) against savedmodel's gRPC server.

Run by test_grpc.py::test_official_tensorflow_serving_api_client with the oracle venv's python when
it can import tensorflow_serving (pip install --no-deps --target DIR tensorflow-serving-api, then
PYTHONPATH=DIR). Usage: python tfserving_api_client.py HOST:PORT BASE_PATH_FOR_RELOAD
"""

import sys

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)


def add_example(model_input, x: float) -> None:
    model_input.example_list.examples.add().features.feature["x"].float_list.value.append(x)


def main(target: str, reload_base_path: str) -> None:
    channel = grpc.insecure_channel(target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "default"
    predict.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[1.0], [2.0], [5.0]], np.float32)))
    result = stub.Predict(predict, 10)
    y = result.outputs["y"]
    print(
        "Predict",
        tf.make_ndarray(y).ravel().tolist(),
        list(y.float_val),
        result.model_spec.version.value,
        result.model_spec.signature_name,
    )

    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "default"
    classify.model_spec.signature_name = "classify_x_to_y"
    add_example(classify.input, 2.0)
    print("Classify", stub.Classify(classify, 10).result.classifications[0].classes[0].score)

    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "default"
    regress.model_spec.signature_name = "regress_x_to_y"
    add_example(regress.input, 2.0)
    print("Regress", stub.Regress(regress, 10).result.regressions[0].value)

    multi = inference_pb2.MultiInferenceRequest()
    for signature, method in (("regress_x_to_y", "regress"), ("classify_x_to_y", "classify")):
        task = multi.tasks.add()
        task.model_spec.name = "default"
        task.model_spec.signature_name = signature
        task.method_name = f"tensorflow/serving/{method}"
    add_example(multi.input, 2.0)
    results = stub.MultiInference(multi, 10).results
    print(
        "MultiInference",
        results[0].regression_result.regressions[0].value,
        results[1].classification_result.classifications[0].classes[0].score,
    )

    metadata = get_model_metadata_pb2.GetModelMetadataRequest()
    metadata.model_spec.name = "default"
    metadata.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(metadata, 10)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    print("GetModelMetadata", sorted(signature_map.signature_def))

    models = model_service_pb2_grpc.ModelServiceStub(channel)
    status = get_model_status_pb2.GetModelStatusRequest()
    status.model_spec.name = "default"
    version_status = models.GetModelStatus(status, 10).model_version_status[0]
    print("GetModelStatus", version_status.version, version_status.state, version_status.status.error_code)

    try:
        predict.model_spec.name = "nope"
        stub.Predict(predict, 10)
    except grpc.RpcError as error:
        print("error", error.code(), error.details())

    reload = model_management_pb2.ReloadConfigRequest()
    config = reload.config.model_config_list.config.add()
    config.name = "default"
    config.base_path = reload_base_path
    config.model_platform = "tensorflow"
    config.model_version_policy.all.SetInParent()
    print("Reload", models.HandleReloadConfigRequest(reload, 30).status.error_code)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
