"""`savedmodel serve`: a TensorFlow Serving-compatible REST server.

Flags follow tensorflow_model_server's names. Either --model_name and
--model_base_path, or --model_config_file (text-format ModelServerConfig).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from savedmodel.errors import InvalidInputError
from savedmodel.serving import SERVE_EXTRA_HINT, serve_dependencies_missing


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve SavedModels over TF Serving's REST API",
        description="Serve SavedModels over TensorFlow Serving's REST API (predict, classify, regress, "
        "model status and metadata). The base path holds numbered version directories; the latest "
        "version is served unless a model config file says otherwise.",
    )
    parser.add_argument("--model_name", default="default", help="name of the model (default: default)")
    parser.add_argument("--model_base_path", help="directory holding numbered version subdirectories")
    parser.add_argument("--model_config_file", help="text-format ModelServerConfig (model_config_list)")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="port (default 8501)")
    parser.add_argument(
        "--rest_api_host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)"
    )
    parser.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="seconds between scans of the base paths for new versions; 0 scans only at startup (default 1)",
    )
    parser.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="seconds between re-reads of --model_config_file (models, policies, labels); 0 = never",
    )
    parser.add_argument(
        "--rest_api_timeout_in_ms",
        type=int,
        default=30000,
        help="answer 504 when a model call takes longer; <= 0 waits forever (default 30000)",
    )
    parser.add_argument("--enable_batching", action="store_true", help="batch concurrent predict requests")
    parser.add_argument("--max_batch_size", type=int, default=32, help="rows per batch (default 32)")
    parser.add_argument(
        "--batch_timeout_micros",
        type=int,
        default=1000,
        help="longest wait for a batch to fill (default 1000)",
    )
    parser.add_argument(
        "--rest_api_max_body_bytes",
        type=int,
        default=64 << 20,
        help="larger request bodies are refused with HTTP 413 (default 64 MiB)",
    )
    parser.add_argument(
        "--rest_api_num_threads", type=int, default=4, help="threads running model calls (default 4)"
    )
    parser.add_argument(
        "--allow_file_access",
        action="store_true",
        help="allow models whose graphs read or write files (refused by default)",
    )
    parser.add_argument("--log_level", default="info", choices=["debug", "info", "warning", "error"])
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


def run(args: argparse.Namespace) -> int:
    missing = serve_dependencies_missing()
    if missing:
        print(f"savedmodel serve: {SERVE_EXTRA_HINT} (missing: {missing})", file=sys.stderr)
        return 1
    if args.enable_batching and (args.max_batch_size < 1 or args.batch_timeout_micros < 0):
        raise InvalidInputError("--max_batch_size must be >= 1 and --batch_timeout_micros >= 0")
    if not 0 <= args.rest_api_port <= 65535:
        raise InvalidInputError(f"--rest_api_port {args.rest_api_port} is not a valid port")
    configs = _configs(args)
    from savedmodel.serving.server import ModelServer, ServerOptions

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = ServerOptions(
        host=args.rest_api_host,
        port=args.rest_api_port,
        poll_wait_seconds=args.file_system_poll_wait_seconds,
        max_body_bytes=args.rest_api_max_body_bytes,
        num_threads=max(1, args.rest_api_num_threads),
        enable_batching=args.enable_batching,
        max_batch_size=args.max_batch_size,
        batch_timeout_micros=args.batch_timeout_micros,
        allow_file_access=args.allow_file_access,
        log_level=args.log_level,
        timeout_in_ms=args.rest_api_timeout_in_ms,
        config_file=Path(args.model_config_file) if args.model_config_file else None,
        config_poll_seconds=args.model_config_file_poll_wait_seconds,
    )
    server = ModelServer(configs, options)
    names = ", ".join(c.name for c in configs)
    print(f"savedmodel serve: serving {names} on http://{options.host}:{options.port}", file=sys.stderr)
    server.serve_forever()
    return 0
