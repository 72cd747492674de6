"""TF Serving's gRPC API over loopback, with a real grpcio client and the stubs generated from
savedmodel/proto/prediction_service.proto, on TF Serving's half_plus_two (y = 0.5 x + 2).

Ported from tensorflow_serving/model_servers/tensorflow_model_server_test.py (testGetModelStatus,
testGetModelMetadata, testClassify, testRegress, testMultiInference, testPredictSavedModel,
testPredictUDS, testBadModel*) and from the error cases of predict_impl_test.cc,
classification_service_test.cc and get_model_metadata_impl_test.cc.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

grpc = pytest.importorskip("grpc")

from savedmodel.format import tensor as tensor_format  # noqa: E402
from savedmodel.proto import meta_graph_pb2, types_pb2  # noqa: E402
from savedmodel.proto import prediction_service_pb2_grpc as services  # noqa: E402
from savedmodel.proto import serving_apis_pb2 as apis  # noqa: E402
from savedmodel.proto import serving_config_pb2 as config_pb2  # noqa: E402
from savedmodel.serving.config import VersionPolicy  # noqa: E402
from savedmodel.serving.inference import SIGNATURE_DEF_MAP_TYPE_URL  # noqa: E402

from .serving_helpers import (  # noqa: E402
    FIXTURES,
    HALF_PLUS_N,
    HALF_PLUS_TWO_VERSION,
    copy_half_plus_two,
    copy_version,
    model_config,
    running_server,
)

VERSION = HALF_PLUS_TWO_VERSION

TIMEOUT = 20


@pytest.fixture(scope="module")
def grpc_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpc")
    copy_half_plus_two(root / "half_plus_two")
    copy_version(HALF_PLUS_N / "1", root / "half_plus_n", 1)
    copy_version(HALF_PLUS_N / "2", root / "half_plus_n", 2)
    socket_path = str(root / "grpc.sock")
    configs = [
        model_config("default", root / "half_plus_two"),
        model_config("half_plus_n", root / "half_plus_n", VersionPolicy("all"), {"stable": 1}),
    ]
    with running_server(configs, grpc_port=0, grpc_socket_path=socket_path) as (server, client):
        channel = grpc.insecure_channel(server.grpc_target)
        yield server, channel, client, socket_path
        channel.close()


def prediction_stub(channel):
    return services.PredictionServiceStub(channel)


def predict_request(values, name: str = "default", signature: str = "") -> apis.PredictRequest:
    request = apis.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    request.inputs["x"].CopyFrom(tensor_format.from_numpy(np.asarray(values, dtype=np.float32)))
    return request


def test_predict_tensor_proto_in_and_out(grpc_server):
    _, channel, _, _ = grpc_server
    request = predict_request([[1.0], [2.0], [5.0]])
    result = prediction_stub(channel).Predict(request, TIMEOUT)
    y = result.outputs["y"]
    assert y.dtype == types_pb2.DT_FLOAT
    assert list(y.float_val) == [2.5, 3.0, 4.5]  # typed field, as TF Serving's AsProtoField
    np.testing.assert_allclose(tensor_format.to_numpy(y), [[2.5], [3.0], [4.5]])
    assert result.model_spec.name == "default"
    assert result.model_spec.signature_name == "serving_default"
    assert result.model_spec.version.value == VERSION


def test_predict_any_feed_shape_and_output_filter(grpc_server):
    _, channel, _, _ = grpc_server
    request = predict_request([[1.0, 2.0], [3.0, 4.0]])
    request.output_filter.append("y")
    result = prediction_stub(channel).Predict(request, TIMEOUT)
    np.testing.assert_allclose(tensor_format.to_numpy(result.outputs["y"]), [[2.5, 3.0], [3.5, 4.0]])


def test_predict_by_version_and_label(grpc_server):
    _, channel, _, _ = grpc_server
    stub = prediction_stub(channel)
    request = predict_request([2.0], name="half_plus_n")
    request.model_spec.version.value = 2
    assert stub.Predict(request, TIMEOUT).outputs["y"].float_val[0] == 4.0  # 0.5 * 2 + 3
    request.model_spec.version_label = "stable"
    result = stub.Predict(request, TIMEOUT)
    assert result.outputs["y"].float_val[0] == 3.0 and result.model_spec.version.value == 1


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


@pytest.mark.parametrize(
    ("mutate", "code", "message"),
    [
        (lambda r: r.model_spec.__setattr__("name", "nope"), "NOT_FOUND", "Servable not found for request"),
        (lambda r: r.model_spec.version.__setattr__("value", 9), "NOT_FOUND", "Specific(default, 9)"),
        (
            lambda r: r.model_spec.__setattr__("signature_name", "nope"),
            "FAILED_PRECONDITION",
            'Serving signature key "nope" not found.',
        ),
        (lambda r: r.ClearField("model_spec"), "INVALID_ARGUMENT", "Missing ModelSpec"),
        (lambda r: r.output_filter.append("z"), "INVALID_ARGUMENT", "output tensor alias not found"),
        (
            lambda r: r.inputs["extra"].CopyFrom(tensor_format.from_numpy(np.float32(1))),
            "INVALID_ARGUMENT",
            "input size does not match signature: 2!=1",
        ),
        (
            lambda r: r.inputs["x"].CopyFrom(tensor_format.from_numpy(np.array([1], np.int32))),
            "INVALID_ARGUMENT",
            "Expects arg[0] to be float but int32 is provided",
        ),
        (lambda r: r.model_spec.__setattr__("version_label", "ghost"), "INVALID_ARGUMENT", "Unrecognized"),
    ],
)
def test_predict_errors_have_tf_serving_codes(grpc_server, mutate, code, message):
    _, channel, _, _ = grpc_server
    request = predict_request([1.0])
    mutate(request)
    status, details = _code(lambda: prediction_stub(channel).Predict(request, TIMEOUT))
    assert status == getattr(grpc.StatusCode, code)
    assert message in details


def _example_input(target, values: list[float]) -> None:
    for value in values:
        example = target.example_list.examples.add()
        example.features.feature["x"].float_list.value.append(value)


def test_classify_and_regress_on_tf_example_signatures(grpc_server):
    _, channel, _, _ = grpc_server
    stub = prediction_stub(channel)
    classify = apis.ClassificationRequest()
    classify.model_spec.name = "default"
    classify.model_spec.signature_name = "classify_x_to_y"
    _example_input(classify.input, [2.0, 4.0])
    result = stub.Classify(classify, TIMEOUT)
    assert [c.classes[0].score for c in result.result.classifications] == [3.0, 4.0]
    assert result.model_spec.signature_name == "classify_x_to_y"
    assert result.model_spec.version.value == VERSION

    regress = apis.RegressionRequest()
    regress.model_spec.name = "default"
    regress.model_spec.signature_name = "regress_x_to_y"
    _example_input(regress.input, [2.0])
    result = stub.Regress(regress, TIMEOUT)
    assert [r.value for r in result.result.regressions] == [3.0]


def test_regress_with_context_example(grpc_server):
    _, channel, _, _ = grpc_server
    request = apis.RegressionRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "regress_x_to_y"
    with_context = request.input.example_list_with_context
    with_context.context.features.feature["x"].float_list.value.append(10.0)
    with_context.examples.add()  # takes x from the context
    result = prediction_stub(channel).Regress(request, TIMEOUT)
    assert [r.value for r in result.result.regressions] == [7.0]


def test_classify_errors(grpc_server):
    _, channel, _, _ = grpc_server
    request = apis.ClassificationRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "classify_x_to_y"
    status, details = _code(lambda: prediction_stub(channel).Classify(request, TIMEOUT))
    assert status == grpc.StatusCode.INVALID_ARGUMENT and details == "Input is empty."
    request.model_spec.signature_name = "serving_default"
    _example_input(request.input, [1.0])
    status, details = _code(lambda: prediction_stub(channel).Classify(request, TIMEOUT))
    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert "No classification inputs found in SignatureDef" in details


def test_tf2_model_classify_and_regress_without_method_name_check(tmp_path: Path):
    """TF2 exports mark every signature tensorflow/serving/predict; TF Serving classifies and
    regresses with them anyway (testClassifyTf2, testRegressTf2, testMultiInferenceTf2), unless
    --enable_signature_method_name_check."""
    source = FIXTURES / "realworld" / "tfserving__saved_model_half_plus_two_tf2_cpu__2023_45bc291"
    shutil.copytree(source, tmp_path / "tf2" / "1", ignore=shutil.ignore_patterns("*.json", "*.npz"))
    for check in (False, True):
        with running_server(
            [model_config("tf2", tmp_path / "tf2")],
            port=None,
            grpc_port=0,
            enable_signature_method_name_check=check,
        ) as (server, _):
            with grpc.insecure_channel(server.grpc_target) as channel:
                request = apis.RegressionRequest()
                request.model_spec.name = "tf2"
                request.model_spec.signature_name = "regress_x_to_y"
                _example_input(request.input, [2.0])
                if not check:
                    result = prediction_stub(channel).Regress(request, TIMEOUT)
                    assert [r.value for r in result.result.regressions] == [3.0]
                    classify = apis.ClassificationRequest()
                    classify.model_spec.name = "tf2"
                    classify.model_spec.signature_name = "classify_x_to_y"
                    _example_input(classify.input, [2.0])
                    result = prediction_stub(channel).Classify(classify, TIMEOUT)
                    assert result.result.classifications[0].classes[0].score == 3.0
                else:
                    regress = prediction_stub(channel).Regress
                    status, details = _code(lambda r=request, call=regress: call(r, TIMEOUT))
                    assert status == grpc.StatusCode.INVALID_ARGUMENT
                    assert details == (
                        "Expected regression signature method_name to be tensorflow/serving/regress. "
                        "Was: tensorflow/serving/predict"
                    )


def test_multi_inference(grpc_server):
    _, channel, _, _ = grpc_server
    request = apis.MultiInferenceRequest()
    task = request.tasks.add(method_name="tensorflow/serving/regress")
    task.model_spec.name = "default"
    task.model_spec.signature_name = "regress_x_to_y"
    task = request.tasks.add(method_name="tensorflow/serving/classify")
    task.model_spec.name = "default"
    task.model_spec.signature_name = "classify_x_to_y"
    _example_input(request.input, [2.0])
    result = prediction_stub(channel).MultiInference(request, TIMEOUT)
    assert result.results[0].regression_result.regressions[0].value == 3.0
    assert result.results[1].classification_result.classifications[0].classes[0].score == 3.0
    assert [r.model_spec.version.value for r in result.results] == [VERSION, VERSION]

    request.tasks[1].model_spec.name = "half_plus_n"
    status, details = _code(lambda: prediction_stub(channel).MultiInference(request, TIMEOUT))
    assert status == grpc.StatusCode.INVALID_ARGUMENT and "same model name" in details


def test_get_model_metadata_signature_def_map(grpc_server):
    _, channel, _, _ = grpc_server
    request = apis.GetModelMetadataRequest()
    request.model_spec.name = "default"
    request.metadata_field.append("signature_def")
    result = prediction_stub(channel).GetModelMetadata(request, TIMEOUT)
    assert result.model_spec.name == "default" and result.model_spec.version.value == VERSION
    assert list(result.metadata) == ["signature_def"]
    packed = result.metadata["signature_def"]
    # What tensorflow-serving-api's SignatureDefMap.Unpack checks: the type URL's full name.
    assert packed.type_url == SIGNATURE_DEF_MAP_TYPE_URL
    assert packed.type_url.split("/")[-1] == "tensorflow.serving.SignatureDefMap"
    signature_map = apis.SignatureDefMap.FromString(packed.value)
    assert "serving_default" in signature_map.signature_def
    signature = signature_map.signature_def["serving_default"]
    assert isinstance(signature, meta_graph_pb2.SignatureDef)
    assert signature.inputs["x"].name == "x:0"

    request.metadata_field[0] = "nope"
    status, details = _code(lambda: prediction_stub(channel).GetModelMetadata(request, TIMEOUT))
    assert status == grpc.StatusCode.INVALID_ARGUMENT and "Metadata field nope is not supported" in details


def test_get_model_status(grpc_server):
    _, channel, _, _ = grpc_server
    stub = services.ModelServiceStub(channel)
    request = apis.GetModelStatusRequest()
    request.model_spec.name = "default"
    result = stub.GetModelStatus(request, TIMEOUT)
    assert len(result.model_version_status) == 1
    status = result.model_version_status[0]
    assert status.version == VERSION
    assert status.state == apis.ModelVersionStatus.AVAILABLE
    assert status.status.error_code == 0

    request.model_spec.name = "nope"
    code, details = _code(lambda: stub.GetModelStatus(request, TIMEOUT))
    assert code == grpc.StatusCode.NOT_FOUND and "Could not find any versions of model nope" in details


def test_predict_over_unix_socket(grpc_server):
    _, _, _, socket_path = grpc_server
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        result = prediction_stub(channel).Predict(predict_request([4.0]), TIMEOUT)
    assert list(result.outputs["y"].float_val) == [4.0]


def test_grpc_requests_are_counted_in_metrics(grpc_server):
    _, channel, client, _ = grpc_server
    prediction_stub(channel).Predict(predict_request([1.0]), TIMEOUT)
    text = client.get("/monitoring/prometheus/metrics").text
    assert 'entrypoint="GRPC",model_name="default",status="OK"' in text


def test_reload_config_request(tmp_path: Path):
    copy_half_plus_two(tmp_path / "a")
    copy_half_plus_two(tmp_path / "b", version=7)
    configs = [model_config("a", tmp_path / "a")]
    with running_server(configs, port=None, grpc_port=0) as (server, _):
        with grpc.insecure_channel(server.grpc_target) as channel:
            request = apis.ReloadConfigRequest()
            entry = request.config.model_config_list.config.add(
                name="b", base_path=str(tmp_path / "b"), model_platform="tensorflow"
            )
            entry.model_version_policy.CopyFrom(
                config_pb2.ServableVersionPolicy(
                    latest=config_pb2.ServableVersionPolicy.Latest(num_versions=1)
                )
            )
            response = services.ModelServiceStub(channel).HandleReloadConfigRequest(request, TIMEOUT)
            assert response.status.error_code == 0
            result = prediction_stub(channel).Predict(predict_request([2.0], name="b"), TIMEOUT)
            assert result.model_spec.version.value == 7 and list(result.outputs["y"].float_val) == [3.0]
            code, _ = _code(
                lambda: prediction_stub(channel).Predict(predict_request([2.0], name="a"), TIMEOUT)
            )
            assert code == grpc.StatusCode.NOT_FOUND

            bad = apis.ReloadConfigRequest()
            bad.config.model_config_list.config.add(name="c")
            code, details = _code(
                lambda: services.ModelServiceStub(channel).HandleReloadConfigRequest(bad, TIMEOUT)
            )
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "needs a base_path" in details


@pytest.mark.oracle
def test_official_tensorflow_serving_api_client(tmp_path: Path, oracle_python: Path):
    """tensorflow-serving-api's generated stubs, TensorFlow's make_tensor_proto and Any.Unpack against
    this server, in the oracle venv (skipped unless it can import tensorflow_serving)."""
    import os
    import subprocess

    python = oracle_python
    probe = subprocess.run(
        [str(python), "-c", "import tensorflow_serving"], capture_output=True, env=dict(os.environ)
    )
    if probe.returncode != 0:
        pytest.skip("tensorflow_serving is not importable in the oracle venv")
    copy_half_plus_two(tmp_path / "default")
    copy_half_plus_two(tmp_path / "reload", version=7)
    with running_server([model_config("default", tmp_path / "default")], port=None, grpc_port=0) as (
        server,
        _,
    ):
        result = subprocess.run(
            [
                str(python),
                str(Path(__file__).with_name("tfserving_api_client.py")),
                server.grpc_target,
                str(tmp_path / "reload"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ),
        )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "Predict [2.5, 3.0, 4.5] [2.5, 3.0, 4.5] 123 serving_default" in lines
    assert {
        "Classify 3.0",
        "Regress 3.0",
        "MultiInference 3.0 3.0",
        "GetModelStatus 123 30 0",
        "Reload 0",
    } <= set(lines)
    assert any(line.startswith("GetModelMetadata [") and "'serving_default'" in line for line in lines)
    assert "error StatusCode.NOT_FOUND Servable not found for request: Latest(nope)" in lines


def test_messages_over_grpcs_4_mib_default(grpc_server):
    server, _, _, _ = grpc_server
    values = np.arange(1_500_000, dtype=np.float32)  # 6 MB each way
    # The server takes them; a client receiving one must raise its own limit (as with TF Serving).
    options = [("grpc.max_receive_message_length", 64 << 20)]
    with grpc.insecure_channel(server.grpc_target, options=options) as channel:
        result = prediction_stub(channel).Predict(predict_request(values), TIMEOUT)
    np.testing.assert_allclose(tensor_format.to_numpy(result.outputs["y"]), values * 0.5 + 2)


def test_request_over_the_body_limit_is_refused(tmp_path: Path):
    copy_half_plus_two(tmp_path / "m")
    with running_server([model_config("default", tmp_path / "m")], grpc_port=0, max_body_bytes=1 << 20) as (
        server,
        _,
    ):
        with grpc.insecure_channel(server.grpc_target) as channel:
            request = predict_request(np.zeros(300_000, np.float32))
            code, _ = _code(lambda: prediction_stub(channel).Predict(request, TIMEOUT))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_grpc_predict_requests_are_batched(tmp_path: Path):
    import threading

    from .serving_helpers import fake_loader

    copy_version(HALF_PLUS_N / "1", tmp_path / "m", 1)
    calls: list[int] = []

    def record(inputs: dict) -> float:
        if "x" in inputs:
            calls.append(len(inputs["x"]))
        return 0.0

    options = {"enable_batching": True, "max_batch_size": 8, "batch_timeout_micros": 200_000}
    with running_server(
        [model_config("m", tmp_path / "m")], loader=fake_loader(delay=record), grpc_port=0, **options
    ) as (server, _):
        results: dict[int, list[float]] = {}

        def one(i: int) -> None:
            with grpc.insecure_channel(server.grpc_target) as channel:
                request = predict_request([float(i), i + 0.5], name="m")
                results[i] = list(prediction_stub(channel).Predict(request, TIMEOUT).outputs["y"].float_val)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    assert results == {i: [0.5 * i + 2, 0.5 * (i + 0.5) + 2] for i in range(8)}
    assert sum(calls) == 16 and len(calls) < 8 and max(calls) <= 8  # some requests ran together
