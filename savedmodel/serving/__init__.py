"""TensorFlow Serving's model server without TensorFlow (`tensorflow_model_server`,
`savedmodel serve`): the REST API and the gRPC PredictionService / ModelService.

Importing this package needs nothing beyond savedmodel's core dependencies; the
servers (`app`, `grpc_service`, `server`) need the optional `serve` extra:
`pip install "savedmodel[serve]"` (Starlette, uvicorn, grpcio). docs/serving.md is
the user's guide (flags, endpoints, batching, warmup, differences from TF Serving).

Modules: `json_tensor` (TF Serving's JSON <-> tensors, response formatting),
`config` (text-format ModelServerConfig, MonitoringConfig, BatchingParameters),
`model` (the only code touching the runtime: `Servable`), `manager` (version
policies, polling, loading and unloading), `inference` (the protobuf APIs,
transport-independent), `warmup` (tf_serving_warmup_requests), `batching`,
`metrics` (Prometheus text), `app` (Starlette routes, access log),
`grpc_service` (grpc.aio), `server` (one event loop for both, config reloading).

Behaviour follows TF Serving's REST handler, json_tensor, predict/classify/regress
and warmup code; where it deliberately differs or adds to it:
  * bodies over --rest_api_max_body_bytes (64 MiB) get 413 `{"error": ...}`
    before parsing, and larger gRPC requests RESOURCE_EXHAUSTED (TF Serving: 2 GiB);
  * tensors have at most 64 dimensions (NumPy's limit; TensorFlow's is 254);
  * an unknown version label is 400 "Unrecognized servable version label" (as
    TF Serving), a label naming a version not loaded is 404; status requests by
    label report that label's version (TF Serving reports all versions);
  * /monitoring/prometheus/metrics is on unless a MonitoringConfig says otherwise;
    /healthz is extra (200 when every model has an AVAILABLE version, else 503);
  * batching covers Predict only; requests larger than the maximum batch size run
    alone instead of being split;
  * --rest_api_timeout_in_ms bounds gRPC model calls too, and stops the call in its
    worker thread at its next loop iteration or function call; while loops stop after
    --max_while_iterations (default 50,000).
"""

SERVE_EXTRA_HINT = 'the model server needs Starlette, uvicorn and grpcio: pip install "savedmodel[serve]"'


def serve_dependencies_missing(grpc: bool = False) -> str | None:
    """The name of the first missing server dependency (grpc too when asked), or None."""
    import importlib.util

    for module in ("starlette", "uvicorn", *(("grpc",) if grpc else ())):
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):
            return module
    return None
