"""The HTTP layer: TF Serving's REST API on Starlette.

Endpoints (TF Serving's URL grammar, matched case-insensitively like its RE2 patterns):
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]            model version status
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata   signature defs
  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict|:classify|:regress
  GET  /monitoring/prometheus/metrics                          Prometheus text format
  GET  /healthz                                                200 if every model has a version up, else 503

Every failure is `{"error": "<message>"}` with TF Serving's HTTP status for its
status code (400 INVALID_ARGUMENT / FAILED_PRECONDITION, 404 NOT_FOUND, 501
UNIMPLEMENTED, ...). Bodies larger than `max_body_bytes` get 413 before parsing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from savedmodel.serving import json_tensor
from savedmodel.serving.batching import Batcher
from savedmodel.serving.errors import ServingError, failed_precondition, invalid_argument
from savedmodel.serving.inference import check_examples_signature, check_predict_signature
from savedmodel.serving.manager import ModelManager
from savedmodel.serving.metrics import Metrics
from savedmodel.serving.model import DEFAULT_SIGNATURE, Servable

PREDICT_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)
METRICS_PATH = "/monitoring/prometheus/metrics"
HEALTH_PATH = "/healthz"
DEFAULT_MAX_BODY_BYTES = 64 << 20
JSON_TYPE = "application/json"
INT64_MAX = 2**63 - 1
access_log = logging.getLogger("savedmodel.serving.access")


class BodyTooLarge(ServingError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "INVALID_ARGUMENT", f"Request body is larger than the limit of {limit} bytes", http_status=413
        )


class ServingApp:
    """State shared by the request handlers."""

    def __init__(
        self,
        manager: ModelManager,
        metrics: Metrics | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        num_threads: int = 4,
        batching: dict[str, int] | None = None,
        timeout_seconds: float | None = None,
        check_method_name: bool = False,
    ) -> None:
        self.manager = manager
        self.check_method_name = check_method_name
        self.timeout_seconds = timeout_seconds if timeout_seconds and timeout_seconds > 0 else None
        self.metrics = metrics or Metrics()
        self.max_body_bytes = max_body_bytes
        self.executor = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="savedmodel-serve")
        self.batcher = (
            Batcher(self._run_direct, on_batch=self.metrics.record_batch, **batching) if batching else None
        )

    # -- model calls -----------------------------------------------------

    async def _run_direct(
        self, servable: Servable, key: str, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.executor, servable.run, key, inputs)
        if self.timeout_seconds is None:
            return await call
        try:
            return await asyncio.wait_for(call, self.timeout_seconds)
        except asyncio.TimeoutError:
            # The model call cannot be interrupted; it finishes in its thread, unanswered.
            raise ServingError(
                "DEADLINE_EXCEEDED",
                f"Deadline Exceeded: the model did not answer within {self.timeout_seconds:g} s",
            ) from None

    async def run(
        self, servable: Servable, key: str, inputs: Mapping[str, np.ndarray], batchable: bool = False
    ) -> dict[str, np.ndarray]:
        if batchable and self.batcher is not None:
            return await self.batcher.submit(servable, key, inputs)
        return await self._run_direct(servable, key, inputs)

    # -- request bodies --------------------------------------------------

    async def read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            except ValueError:
                raise invalid_argument("Malformed Content-Length header") from None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    # -- REST API --------------------------------------------------------

    async def handle_v1(self, request: Request) -> Response:
        started = time.perf_counter()
        method = request.method
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        info: dict[str, str] = {"model_name": "", "api": ""}
        try:
            body = await self.read_body(request) if method == "POST" else b""
            if method == "OPTIONS":
                origin = request.headers.get("origin", "")
                if not re.search(r"https?://", origin):
                    raise failed_precondition("Origin header is missing in CORS preflight")
                output = b""
            else:
                output = await self.dispatch(method, path, body, info)
            status, code = 200, "OK"
        except ServingError as exc:
            output = json_tensor.error_json(exc.message)
            status, code = exc.http_status, exc.code
        except Exception as exc:  # noqa: BLE001 - last line of defence: the server keeps serving
            output = json_tensor.error_json(f"internal error: {type(exc).__name__}: {exc}")
            status, code = 500, "INTERNAL"
        latency_us = (time.perf_counter() - started) * 1e6
        self.metrics.record_request(info["model_name"], info["api"], code, latency_us)
        return Response(output, status_code=status, media_type=JSON_TYPE)

    async def dispatch(self, method: str, path: str, body: bytes, info: dict[str, str]) -> bytes:
        malformed = invalid_argument(f"Malformed request: {method} {path}")
        pattern = PREDICT_PATH if method == "POST" else STATUS_PATH if method == "GET" else None
        match = pattern.fullmatch(path) if pattern is not None else None
        if match is None:
            raise malformed
        name_raw, version_raw, label_raw, verb = match.groups()
        name = urllib.parse.unquote(name_raw or "")
        info["model_name"] = name
        version = None
        if version_raw:
            version = int(version_raw)
            if version > INT64_MAX:
                raise invalid_argument(f"Failed to convert version: {version_raw} to numeric.")
        label = urllib.parse.unquote(label_raw) if label_raw else None
        if method == "POST":
            info["api"] = verb
            if verb == "predict":
                return await self.predict(name, version, label, body)
            if verb == "classify":
                return await self.classify(name, version, label, body)
            if verb == "regress":
                return await self.regress(name, version, label, body)
            raise malformed
        if not name:
            raise invalid_argument("Missing model name in request.")
        if verb == "metadata":
            info["api"] = "GetModelMetadata"
            return self.metadata(name, version, label)
        info["api"] = "GetModelStatus"
        return self.status(name, version, label)

    async def predict(self, name: str, version: int | None, label: str | None, body: bytes) -> bytes:
        doc = json_tensor.parse_json_object(body)
        signature_name = json_tensor.signature_name_of(doc)
        _, servable = self.manager.servable(name, version, label)
        key = signature_name or DEFAULT_SIGNATURE
        if key not in servable.signature_defs:
            raise invalid_argument(f'Serving signature name: "{key}" not found in signature def')
        check_predict_signature(servable.signature_defs[key], self.check_method_name)
        inputs, fmt = json_tensor.predict_request_tensors(doc, servable.input_dtypes(key), signature_name)
        outputs = await self.run(servable, key, inputs, batchable=True)
        wanted = servable.signature_defs[key].outputs
        if wanted and all(k in outputs for k in wanted):
            outputs = {k: outputs[k] for k in wanted}
        return json_tensor.predict_response_json(outputs, fmt)

    async def _examples_call(
        self, name: str, version: int | None, label: str | None, body: bytes, verb: str
    ) -> tuple[dict[str, np.ndarray], int]:
        doc = json_tensor.parse_json_object(body)
        signature_name = json_tensor.signature_name_of(doc)
        examples = json_tensor.serialized_examples(doc, verb)
        _, servable = self.manager.servable(name, version, label)
        key = signature_name or DEFAULT_SIGNATURE
        if key not in servable.signature_defs:
            raise invalid_argument(f"No signature was found with the name: {key}")
        signature = servable.signature_defs[key]
        check_examples_signature(signature, verb, self.check_method_name)
        tensor = np.empty(len(examples), dtype=object)
        tensor[:] = examples
        outputs = await self.run(servable, key, {"inputs": tensor})
        return outputs, len(examples)

    async def classify(self, name: str, version: int | None, label: str | None, body: bytes) -> bytes:
        outputs, count = await self._examples_call(name, version, label, body, "classify")
        return json_tensor.classify_response_json(json_tensor.classification_results(outputs, count))

    async def regress(self, name: str, version: int | None, label: str | None, body: bytes) -> bytes:
        outputs, count = await self._examples_call(name, version, label, body, "regress")
        return json_tensor.regress_response_json(json_tensor.regression_results(outputs, count))

    def status(self, name: str, version: int | None, label: str | None) -> bytes:
        states = self.manager.version_status(name, version, label)
        response = {
            "model_version_status": [
                {
                    "version": str(s.version),
                    "state": s.state,
                    "status": {"error_code": s.error_code, "error_message": s.error_message},
                }
                for s in states
            ]
        }
        return (json.dumps(response, indent=1, ensure_ascii=False) + "\n").encode()

    def metadata(self, name: str, version: int | None, label: str | None) -> bytes:
        served_version, servable = self.manager.servable(name, version, label)
        model_spec = {"name": name, "signature_name": "", "version": str(served_version)}
        signature_map = {
            "signature_def": {
                key: _signature_def_json(servable.signature_defs[key])
                for key in sorted(servable.signature_defs)
            }
        }
        # TF Serving prints the two parts separately and joins them by hand; so do we.
        text = (
            "{\n"
            f'"model_spec":{json.dumps(model_spec, indent=1, ensure_ascii=False)},\n'
            f'"metadata": {{"signature_def": {json.dumps(signature_map, indent=1, ensure_ascii=False)}}}\n'
            "}\n"
        )
        return text.encode()

    # -- other endpoints -------------------------------------------------

    async def handle_metrics(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type="text/plain; version=0.0.4")

    async def handle_health(self, request: Request) -> Response:
        available = self.manager.available()
        healthy = all(available.values()) and bool(available)
        body = {"status": "ok" if healthy else "unavailable", "models": available}
        return Response(json.dumps(body), status_code=200 if healthy else 503, media_type=JSON_TYPE)

    async def handle_unknown(self, request: Request) -> Response:
        return Response(
            json_tensor.error_json(f"Not found: {request.method} {request.url.path}"),
            status_code=404,
            media_type=JSON_TYPE,
        )

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _signature_def_json(signature: Any) -> dict[str, Any]:
    """A SignatureDef as TF Serving's proto JSON printer renders it (field names kept,
    fields without presence printed, int64 as strings, enums by name)."""
    rendered = json_format.MessageToDict(
        signature, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    for part in ("inputs", "outputs", "defaults"):
        if part in rendered:
            rendered[part] = {k: rendered[part][k] for k in sorted(rendered[part])}
    return rendered


class AccessLog:
    """ASGI middleware: one log line per HTTP request (client, method, path, status, milliseconds).

    The line is written just before the response's last byte is sent, so a client that has its
    answer can already see the line; a request that ends without a complete response (an error)
    is logged when the app returns."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        logged = False

        def log_once() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            client = scope.get("client")
            path = scope.get("raw_path", b"").decode("latin-1") or scope.get("path", "")
            access_log.info(
                '%s "%s %s" %d %.2f ms',
                f"{client[0]}:{client[1]}" if client else "-",
                scope.get("method", ""),
                path,
                status,
                (time.perf_counter() - started) * 1000,
            )

        async def send_and_record(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                log_once()
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            log_once()


def build_app(serving: ServingApp, metrics_path: str | None = METRICS_PATH) -> Any:
    """The ASGI app; `metrics_path` None turns the Prometheus endpoint off."""

    @asynccontextmanager
    async def lifespan(app: Starlette):  # noqa: ANN202
        try:
            yield
        finally:
            serving.close()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    routes = [Route(metrics_path, serving.handle_metrics, methods=["GET"])] if metrics_path else []
    routes += [
        Route(HEALTH_PATH, serving.handle_health, methods=["GET"]),
        Route("/v1/{rest:path}", serving.handle_v1, methods=methods),
        Route("/V1/{rest:path}", serving.handle_v1, methods=methods),
        Route("/v1", serving.handle_v1, methods=methods),
        Route("/{rest:path}", serving.handle_unknown, methods=methods),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.serving = serving
    return AccessLog(app)
