"""`savedmodel serve` and `tensorflow_model_server`: TensorFlow Serving's model server.

Both take tensorflow_model_server's flags, with the same names and meaning (gRPC on
--port and/or --grpc_socket_path, REST on --rest_api_port, --model_config_file, batching,
monitoring, warmup...). They differ only in defaults:

    tensorflow_model_server   gRPC on 8500, REST off unless --rest_api_port, listens on 0.0.0.0
    savedmodel serve          REST on 8501, gRPC off unless --port, listens on 127.0.0.1

Boolean flags take TF Serving's forms: --enable_batching, --enable_batching=true/false.
Flags that have no meaning without TensorFlow's runtime (thread pools, sessions, TPU, ...)
are accepted and reported once in the log; they never stop the server.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from savedmodel import backends
from savedmodel.cli.commands import help_of
from savedmodel.errors import InvalidInputError, SavedModelError
from savedmodel.policy import DEFAULT_LIMITS
from savedmodel.serving import SERVE_EXTRA_HINT, serve_dependencies_missing

log = logging.getLogger("savedmodel.serving")

# Accepted for compatibility; nothing in savedmodel's runtime corresponds to them.
IGNORED_FLAGS: dict[str, str] = {
    "tensorflow_session_parallelism": "int",
    "tensorflow_intra_op_parallelism": "int",
    "tensorflow_inter_op_parallelism": "int",
    "num_load_threads": "int",
    "num_unload_threads": "int",
    "load_retry_interval_micros": "int",
    "flush_filesystem_caches": "bool",
    "grpc_max_threads": "int",
    "rest_api_enable_cors_support": "bool",
    "per_process_gpu_memory_fraction": "float",
    "tensorflow_session_config_file": "str",
    "saved_model_config_file": "str",
    "use_tflite_model": "bool",
    "prefer_tflite_model": "bool",
    "num_tflite_pools": "int",
    "num_tflite_interpreters_per_pool": "int",
    "enable_profiler": "bool",
    "xla_cpu_compilation_enabled": "bool",
    "remove_unused_fields_from_bundle_metagraph": "bool",
    "thread_pool_factory_config_file": "str",
    "mixed_precision": "str",
    "skip_initialize_tpu": "bool",
    "enable_grpc_healthcheck_service": "bool",
    "enable_per_model_batching_params": "bool",
    "allow_version_labels_for_unavailable_models": "bool",
    "max_num_load_retries": "int",
    "ssl_config_file": "str",
    "use_alts_credentials": "bool",
    "platform_config_file": "str",
}


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "t", "1", "yes"):
        return True
    if value in ("false", "f", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _flag_bool(parser: argparse.ArgumentParser, name: str, help_text: str, default: bool = False) -> None:
    parser.add_argument(
        f"--{name}", type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL", help=help_text
    )


def add_server_flags(parser: argparse.ArgumentParser, tf_defaults: bool) -> None:
    """tensorflow_model_server's flags; `tf_defaults` picks its defaults (see the module doc)."""
    host = "0.0.0.0" if tf_defaults else "127.0.0.1"
    parser.add_argument(
        "--port",
        type=int,
        default=8500 if tf_defaults else 0,
        help=f"gRPC port; 0 turns gRPC over TCP off (default {8500 if tf_defaults else 0})",
    )
    parser.add_argument("--grpc_socket_path", default="", help="also serve gRPC on this Unix socket")
    parser.add_argument(
        "--rest_api_port",
        type=int,
        default=0 if tf_defaults else 8501,
        help=f"HTTP/REST port; 0 turns REST off (default {0 if tf_defaults else 8501})",
    )
    parser.add_argument(
        "--host",
        "--rest_api_host",
        dest="host",
        default=host,
        help=f"address both servers listen on (default {host}; TF Serving has no such flag)",
    )
    parser.add_argument(
        "--rest_api_timeout_in_ms",
        type=int,
        default=30000,
        help="answer DEADLINE_EXCEEDED (HTTP 504) when a model call takes longer; <= 0 waits forever",
    )
    parser.add_argument(
        "--rest_api_num_threads", type=int, default=4, help="threads running model calls (default 4)"
    )
    parser.add_argument("--model_name", default="default", help="name of the model (default: default)")
    parser.add_argument(
        "--model_base_path", default="", help="directory holding numbered version directories"
    )
    parser.add_argument("--model_config_file", default="", help="text-format ModelServerConfig")
    parser.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="seconds between re-reads of --model_config_file; 0 = read once (default 0)",
    )
    parser.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="seconds between scans of the base paths for new versions; 0 = only at startup (default 1)",
    )
    parser.add_argument(
        "--monitoring_config_file",
        default="",
        help="text-format MonitoringConfig (prometheus_config { enable: true path: ... })",
    )
    _flag_bool(parser, "enable_batching", "batch concurrent Predict requests")
    parser.add_argument("--batching_parameters_file", default="", help="text-format BatchingParameters")
    parser.add_argument("--max_batch_size", type=int, default=32, help="rows per batch (default 32)")
    parser.add_argument(
        "--batch_timeout_micros",
        type=int,
        default=1000,
        help="longest wait for a batch to fill (default 1000)",
    )
    _flag_bool(parser, "enable_model_warmup", "replay assets.extra/tf_serving_warmup_requests before serving")
    parser.add_argument(
        "--num_request_iterations_for_warmup",
        type=int,
        default=1,
        help="times each warmup request is replayed (default 1)",
    )
    parser.add_argument(
        "--grpc_channel_arguments", default="", help="gRPC server arguments: key=value,key=value"
    )
    _flag_bool(
        parser,
        "enable_signature_method_name_check",
        "check SignatureDef method_name for classify/regress/predict (off: TF2 models mark all 'predict')",
    )
    parser.add_argument(
        "--saved_model_tags",
        default="serve",
        help="comma-separated tags of the MetaGraph to load (default serve)",
    )
    parser.add_argument(
        "--rest_api_max_body_bytes",
        type=int,
        default=64 << 20,
        help="larger request bodies are refused with HTTP 413 (default 64 MiB)",
    )
    parser.add_argument(
        "--allow_file_access",
        action="store_true",
        help="allow models whose graphs read or write files (refused by default)",
    )
    parser.add_argument(
        "--max_while_iterations",
        type=int,
        default=None,
        metavar="N",
        help=f"stop a while loop after N iterations (default {DEFAULT_LIMITS.max_while_iterations:,})",
    )
    backends.add_argument(parser)
    parser.add_argument("--log_level", default="info", choices=["debug", "info", "warning", "error"])
    _flag_bool(parser, "version", "print the version and exit")
    for name, kind in IGNORED_FLAGS.items():
        arg_type = {"int": int, "float": float, "str": str}.get(kind)
        if kind == "bool":
            parser.add_argument(
                f"--{name}", type=parse_bool, nargs="?", const=True, default=None, help=argparse.SUPPRESS
            )
        else:
            parser.add_argument(f"--{name}", type=arg_type, default=None, help=argparse.SUPPRESS)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        allow_abbrev=False,
        help=help_of("serve"),
        description="Serve SavedModels over TensorFlow Serving's REST API (and gRPC with --port or "
        "--grpc_socket_path): predict, classify, regress, multi-inference, model status and metadata. "
        "The base path holds numbered version directories; the latest version is served unless a model "
        "config file says otherwise. Flags are tensorflow_model_server's.",
    )
    add_server_flags(parser, tf_defaults=False)
    parser.set_defaults(func=run)


def _configs(args: argparse.Namespace):  # noqa: ANN202
    from savedmodel.serving.config import ModelConfig, read_model_config_file

    if args.model_config_file:
        if args.model_base_path:
            raise InvalidInputError("give either --model_config_file or --model_base_path, not both")
        return read_model_config_file(args.model_config_file)
    if not args.model_base_path:
        raise InvalidInputError("give --model_base_path (or --model_config_file)")
    base = Path(args.model_base_path)
    if not base.is_dir():
        raise InvalidInputError(f"--model_base_path {base} is not a directory")
    return [ModelConfig(name=args.model_name, base_path=base)]


def _report_ignored(args: argparse.Namespace) -> None:
    given = [f"--{name}" for name in IGNORED_FLAGS if getattr(args, name, None) is not None]
    if given:
        log.warning("accepted and ignored (no meaning without TensorFlow's runtime): %s", ", ".join(given))


def _batching(args: argparse.Namespace) -> tuple[int, int]:
    from savedmodel.serving.config import read_batching_parameters_file

    max_batch_size, timeout = args.max_batch_size, args.batch_timeout_micros
    if args.batching_parameters_file:
        if not args.enable_batching:
            raise InvalidInputError(
                "server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true."
            )
        params = read_batching_parameters_file(args.batching_parameters_file)
        if params.max_batch_size is not None:
            max_batch_size = params.max_batch_size
        if params.batch_timeout_micros is not None:
            timeout = params.batch_timeout_micros
        unused = params.unused_fields()
        if unused:
            log.warning("batching parameters accepted but not used: %s", ", ".join(unused))
    if args.enable_batching and (max_batch_size < 1 or timeout < 0):
        raise InvalidInputError("max_batch_size must be >= 1 and batch_timeout_micros >= 0")
    return max_batch_size, timeout


def _check_port(value: int, flag: str) -> int | None:
    if not 0 <= value <= 65535:
        raise InvalidInputError(f"{flag} {value} is not a valid port")
    return value or None


def build_options(args: argparse.Namespace):  # noqa: ANN201 - ServerOptions (imported lazily)
    from savedmodel.serving.config import read_monitoring_config_file
    from savedmodel.serving.server import ServerOptions

    rest_port = _check_port(args.rest_api_port, "--rest_api_port")
    grpc_port = _check_port(args.port, "--port")
    if rest_port is None and grpc_port is None and not args.grpc_socket_path:
        raise InvalidInputError("nothing to serve on: give --port, --grpc_socket_path or --rest_api_port")
    if rest_port is not None and rest_port == grpc_port:
        raise InvalidInputError(f"--port and --rest_api_port are both {rest_port}; they must differ")
    channel_arguments = []
    if args.grpc_channel_arguments:
        from savedmodel.serving.config import parse_channel_arguments

        try:
            channel_arguments = parse_channel_arguments(args.grpc_channel_arguments)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
    max_batch_size, batch_timeout = _batching(args)
    if args.max_while_iterations is not None and args.max_while_iterations < 1:
        raise InvalidInputError("--max_while_iterations must be >= 1")
    monitoring = (
        read_monitoring_config_file(args.monitoring_config_file) if args.monitoring_config_file else None
    )
    tags = tuple(t.strip() for t in args.saved_model_tags.split(",") if t.strip()) or ("serve",)
    return ServerOptions(
        host=args.host,
        port=rest_port,
        poll_wait_seconds=args.file_system_poll_wait_seconds,
        max_body_bytes=args.rest_api_max_body_bytes,
        num_threads=max(1, args.rest_api_num_threads),
        enable_batching=bool(args.enable_batching),
        max_batch_size=max_batch_size,
        batch_timeout_micros=batch_timeout,
        allow_file_access=args.allow_file_access,
        log_level=args.log_level,
        timeout_in_ms=args.rest_api_timeout_in_ms,
        max_while_iterations=args.max_while_iterations,
        config_file=Path(args.model_config_file) if args.model_config_file else None,
        config_poll_seconds=args.model_config_file_poll_wait_seconds,
        grpc_port=grpc_port,
        grpc_socket_path=args.grpc_socket_path or None,
        grpc_channel_arguments=channel_arguments,
        monitoring=monitoring,
        enable_model_warmup=bool(args.enable_model_warmup),
        warmup_iterations=max(1, args.num_request_iterations_for_warmup),
        saved_model_tags=tags,
        enable_signature_method_name_check=bool(args.enable_signature_method_name_check),
    )


def run(args: argparse.Namespace) -> int:
    if args.version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"TensorFlow ModelServer: savedmodel {version('savedmodel')}")
        except PackageNotFoundError:
            print("TensorFlow ModelServer: savedmodel (not installed)")
        return 0
    missing = serve_dependencies_missing(grpc=bool(args.port or args.grpc_socket_path))
    if missing:
        print(f"savedmodel serve: {SERVE_EXTRA_HINT} (missing: {missing})", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.backend:  # every model (and every version loaded later) runs on it
        os.environ[backends.ENVIRONMENT_VARIABLE] = backends.check(args.backend)
    configs = _configs(args)
    options = build_options(args)
    _report_ignored(args)
    from savedmodel.serving.server import ModelServer

    server = ModelServer(configs, options)
    server.serve_forever()
    return 0


def tensorflow_model_server(argv: list[str] | None = None) -> int:
    """The `tensorflow_model_server` console script."""
    parser = argparse.ArgumentParser(
        prog="tensorflow_model_server",
        allow_abbrev=False,
        description="TensorFlow Serving's model server, without TensorFlow (savedmodel).",
    )
    add_server_flags(parser, tf_defaults=True)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except SavedModelError as exc:
        print(f"tensorflow_model_server: {exc}", file=sys.stderr)
        return 1


def main() -> None:
    sys.exit(tensorflow_model_server())
