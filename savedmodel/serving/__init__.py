"""A TensorFlow Serving-compatible REST server (`savedmodel serve`).

Importing this package needs nothing beyond savedmodel's core dependencies; the
HTTP parts (`savedmodel.serving.app`, `savedmodel.serving.server`) need the
optional `serve` extra: `pip install "savedmodel[serve]"` (Starlette + uvicorn).

Modules: `json_tensor` (TF Serving's JSON <-> tensors, response formatting),
`config` (text-format ModelServerConfig subset), `model` (the only code touching
the runtime: `Servable`), `manager` (version policies, polling, loading and
unloading), `batching`, `metrics` (Prometheus text), `app` (Starlette routes),
`server` (uvicorn, config-file reloading).

Behaviour follows TF Serving's REST handler and json_tensor code; where it
deliberately differs or adds to it:
  * bodies over --rest_api_max_body_bytes (64 MiB) get 413 `{"error": ...}`
    before parsing (TF Serving has no limit);
  * JSON nested deeper than Python's parser allows is a 400 (rapidjson parses
    it iteratively); arrays deeper than 254 dimensions are a 400;
  * an unknown version label is 400 "Unrecognized servable version label" (as
    TF Serving), a label naming a version not loaded is 404; status requests by
    label report that label's version (TF Serving reports all versions);
  * input shapes are checked by savedmodel's runtime against the signature
    (TF1 sessions in TF Serving accept any feed shape): a mismatch is a 400;
  * /monitoring/prometheus/metrics is always on; /healthz is extra (200 when
    every model has an AVAILABLE version, else 503);
  * batching covers :predict only; requests larger than --max_batch_size run
    alone instead of being split.
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
