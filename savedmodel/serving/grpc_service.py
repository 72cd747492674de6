"""TF Serving's gRPC API: tensorflow.serving.PredictionService and ModelService on grpc.aio.

The method paths are TF Serving's (`/tensorflow.serving.PredictionService/Predict`, ...), so
the tensorflow-serving-api stubs (and ours, savedmodel/proto/prediction_service_pb2_grpc.py)
talk to this server. Handlers are registered by path with generic handlers; requests are
parsed into savedmodel.serving messages, which have TF Serving's field numbers. A failure
is a gRPC status with TF Serving's code for it (NOT_FOUND, INVALID_ARGUMENT,
FAILED_PRECONDITION, ...) and its message.

Every call goes through the same ServingApp as the REST API: its thread pool, its
--rest_api_timeout_in_ms deadline (TF Serving applies the client's gRPC deadline instead; a
client deadline still ends the call on the client), batching and metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from savedmodel.proto import serving_apis_pb2 as apis
from savedmodel.serving import inference
from savedmodel.serving.app import ServingApp
from savedmodel.serving.config import model_configs_from_proto
from savedmodel.serving.errors import ServingError
from savedmodel.serving.model import error_from_exception

log = logging.getLogger("savedmodel.serving")
access_log = logging.getLogger("savedmodel.serving.access")

PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"

Reload = Callable[[list], None]


def status_code(code: str) -> grpc.StatusCode:
    try:
        return grpc.StatusCode[code]
    except KeyError:
        return grpc.StatusCode.UNKNOWN


class GrpcServices:
    """The two services' handlers over a ServingApp; `reload` applies a new model list."""

    def __init__(self, serving: ServingApp, reload: Reload) -> None:
        self.serving = serving
        self.manager = serving.manager
        self._reload = reload
        self._check = serving.check_method_name

    async def _run(self, servable: Any, key: str, inputs: Any, batchable: bool) -> Any:
        return await self.serving.run(servable, key, inputs, batchable=batchable)

    async def predict(self, request: apis.PredictRequest) -> apis.PredictResponse:
        return await inference.predict(request, self.manager.servable, self._run, self._check)

    async def classify(self, request: apis.ClassificationRequest) -> apis.ClassificationResponse:
        return await inference.classify(request, self.manager.servable, self._run, self._check)

    async def regress(self, request: apis.RegressionRequest) -> apis.RegressionResponse:
        return await inference.regress(request, self.manager.servable, self._run, self._check)

    async def multi_inference(self, request: apis.MultiInferenceRequest) -> apis.MultiInferenceResponse:
        return await inference.multi_inference(request, self.manager.servable, self._run, self._check)

    async def get_model_metadata(
        self, request: apis.GetModelMetadataRequest
    ) -> apis.GetModelMetadataResponse:
        return inference.model_metadata(request, self.manager.servable)

    async def get_model_status(self, request: apis.GetModelStatusRequest) -> apis.GetModelStatusResponse:
        return inference.model_status(request, self.manager.version_status)

    async def reload_config(self, request: apis.ReloadConfigRequest) -> apis.ReloadConfigResponse:
        try:
            configs = model_configs_from_proto(request.config)
        except ServingError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad config is the client's error
            raise ServingError("INVALID_ARGUMENT", str(exc)) from None
        # Loading is blocking work: run it off the event loop, as TF Serving's ReloadConfig blocks.
        await asyncio.get_running_loop().run_in_executor(None, self._reload, configs)
        return apis.ReloadConfigResponse(status=apis.StatusProto(error_code=apis.OK))

    # -- registration ---------------------------------------------------

    def _wrap(
        self, path: str, api: str, handler: Callable[[Any], Awaitable[Any]]
    ) -> Callable[[Any, aio.ServicerContext], Awaitable[Any]]:
        metrics = self.serving.metrics

        async def call(request: Any, context: aio.ServicerContext) -> Any:
            started = time.perf_counter()
            name = request.model_spec.name if hasattr(request, "model_spec") else ""
            if not name and isinstance(request, apis.MultiInferenceRequest) and request.tasks:
                name = request.tasks[0].model_spec.name
            code = "OK"
            try:
                return await handler(request)
            except asyncio.CancelledError:  # the client went away or its deadline passed
                code = "CANCELLED"
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status
                error = error_from_exception(exc)
                code = error.code
                await context.abort(status_code(error.code), error.message)
            finally:
                elapsed = time.perf_counter() - started
                metrics.record_request(name, api, code, elapsed * 1e6, entrypoint="GRPC")
                access_log.info("%s gRPC %s %s %.2f ms", context.peer(), path, code, elapsed * 1000)

        return call

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        prediction = {
            "Predict": (self.predict, apis.PredictRequest),
            "Classify": (self.classify, apis.ClassificationRequest),
            "Regress": (self.regress, apis.RegressionRequest),
            "MultiInference": (self.multi_inference, apis.MultiInferenceRequest),
            "GetModelMetadata": (self.get_model_metadata, apis.GetModelMetadataRequest),
        }
        model = {
            "GetModelStatus": (self.get_model_status, apis.GetModelStatusRequest),
            "HandleReloadConfigRequest": (self.reload_config, apis.ReloadConfigRequest),
        }
        result = []
        for service, methods in ((PREDICTION_SERVICE, prediction), (MODEL_SERVICE, model)):
            table = {
                method: grpc.unary_unary_rpc_method_handler(
                    self._wrap(f"/{service}/{method}", method, handler),
                    request_deserializer=message.FromString,
                    response_serializer=_serialize,
                )
                for method, (handler, message) in methods.items()
            }
            result.append(grpc.method_handlers_generic_handler(service, table))
        return result


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()


def build_server(
    services: GrpcServices,
    channel_arguments: list[tuple[str, Any]] | None = None,
    max_receive_bytes: int = -1,
) -> aio.Server:
    """SO_REUSEPORT is off (a port another process listens on must fail to bind, not be shared).
    Responses have no size limit (TF Serving: INT_MAX); requests are limited to
    `max_receive_bytes` (the REST body limit) instead of gRPC's 4 MiB default.
    --grpc_channel_arguments come last and override these."""
    options = [
        ("grpc.so_reuseport", 0),
        ("grpc.max_send_message_length", -1),
        ("grpc.max_receive_message_length", max_receive_bytes),
        *(channel_arguments or []),
    ]
    server = aio.server(options=options)
    server.add_generic_rpc_handlers(tuple(services.handlers()))
    return server
