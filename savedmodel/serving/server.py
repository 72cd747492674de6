"""Running the servers: REST (uvicorn) and gRPC (grpc.aio) on one event loop, in the
foreground (CLI) or in a thread (tests, benchmarks).

Startup order: every listening socket is bound first (a port in use is a PortInUseError
naming the port, before anything else is printed or loaded), then the models are loaded
(versions are AVAILABLE only after warmup, when enabled), then the servers start and one
line per server says where it listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import signal
import socket
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from savedmodel.errors import InvalidInputError, SavedModelError
from savedmodel.policy import DEFAULT_LIMITS, Limits
from savedmodel.serving.app import DEFAULT_MAX_BODY_BYTES, ServingApp, build_app
from savedmodel.serving.config import ModelConfig, MonitoringConfig, parse_model_config
from savedmodel.serving.manager import Loader, ModelManager
from savedmodel.serving.metrics import Metrics
from savedmodel.serving.model import Servable, load_servable

log = logging.getLogger("savedmodel.serving")


class PortInUseError(SavedModelError):
    """A port or socket path the server was told to listen on cannot be bound."""


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int | None = 8501  # REST; None: no REST server; 0: any free port
    poll_wait_seconds: float = 1.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    num_threads: int = 4
    enable_batching: bool = False
    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    allow_file_access: bool = False
    log_level: str = "warning"
    timeout_in_ms: int = 30000
    max_while_iterations: int | None = None  # None: the policy default
    config_file: Path | None = None
    config_poll_seconds: float = 0.0
    grpc_port: int | None = None  # None: no gRPC over TCP; 0: any free port
    grpc_host: str | None = None  # default: host
    grpc_socket_path: str | None = None
    grpc_channel_arguments: list[tuple[str, Any]] = field(default_factory=list)
    monitoring: MonitoringConfig | None = None  # None: metrics at the default path
    enable_model_warmup: bool = False
    warmup_iterations: int = 1
    saved_model_tags: tuple[str, ...] = ("serve",)
    enable_signature_method_name_check: bool = False


def call_limits(options: ServerOptions) -> Limits:
    """The policy limits of each model call: the REST timeout (when > 0) also stops the call
    in its worker thread, at its next loop iteration or function call."""
    seconds = options.timeout_in_ms / 1000 if options.timeout_in_ms > 0 else None
    limits = dataclasses.replace(DEFAULT_LIMITS, max_call_seconds=seconds)
    if options.max_while_iterations is not None:
        limits = dataclasses.replace(limits, max_while_iterations=options.max_while_iterations)
    return limits


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _bind_tcp(host: str, port: int, what: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so (accepted sockets
    # inherit it); without it every response waits for a delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortInUseError(f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _warming_loader(base: Loader, options: ServerOptions) -> Loader:
    from savedmodel.serving.warmup import run_warmup

    def load(path: Path) -> Servable:
        servable = base(path)
        try:
            run_warmup(
                servable, Path(path), options.warmup_iterations, options.enable_signature_method_name_check
            )
        except BaseException:
            servable.close()
            raise
        return servable

    return load


class ModelServer:
    """Manager + Starlette app (uvicorn) + gRPC services (grpc.aio)."""

    def __init__(
        self, configs: list[ModelConfig], options: ServerOptions, loader: Loader | None = None
    ) -> None:
        if not configs:
            raise InvalidInputError("no models to serve")
        if options.port is None and options.grpc_port is None and not options.grpc_socket_path:
            raise InvalidInputError(
                "nothing to serve on: give a gRPC port, a gRPC socket path or a REST port"
            )
        self.options = options
        self.metrics = Metrics()
        self._base_paths = base_paths = {c.name: c.base_path for c in configs}
        if loader is None:
            loader = functools.partial(
                load_servable,
                allow_file_access=options.allow_file_access,
                tags=options.saved_model_tags,
                limits=call_limits(options),
            )
        if options.enable_model_warmup:
            loader = _warming_loader(loader, options)

        def on_load(name: str, version: int, status: str) -> None:
            self.metrics.record_load(str(base_paths[name] / str(version)), status)

        self.manager = ModelManager(configs, loader, options.poll_wait_seconds, on_load=on_load)
        batching = None
        if options.enable_batching:
            batching = {
                "max_batch_size": options.max_batch_size,
                "batch_timeout_micros": options.batch_timeout_micros,
            }
        self.serving = ServingApp(
            self.manager,
            self.metrics,
            max_body_bytes=options.max_body_bytes,
            num_threads=options.num_threads,
            batching=batching,
            timeout_seconds=options.timeout_in_ms / 1000 if options.timeout_in_ms > 0 else None,
            check_method_name=options.enable_signature_method_name_check,
        )
        monitoring = options.monitoring
        metrics_path = None
        if monitoring is None:
            metrics_path = "/monitoring/prometheus/metrics"
        elif monitoring.prometheus_enabled:
            metrics_path = monitoring.prometheus_path
        self.app = build_app(self.serving, metrics_path=metrics_path)
        self._uvicorn: Any = None
        self._grpc: Any = None
        self._rest_socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._config_stop = threading.Event()
        self._config_thread: threading.Thread | None = None
        self._config_text: str | None = None
        self._rejected_text: str | None = None
        self.grpc_port: int | None = None
        if options.config_file is not None:
            try:
                self._config_text = Path(options.config_file).read_text(encoding="utf-8")
            except OSError:
                self._config_text = None

    # -- model config file reloading ---------------------------------------

    def apply_configs(self, configs: list[ModelConfig]) -> None:
        """Serve a new model list (config file change or ModelService.HandleReloadConfigRequest)."""
        self._base_paths.clear()
        self._base_paths.update({c.name: c.base_path for c in configs})
        self.manager.update_configs(configs)

    def reload_config_if_changed(self) -> bool:
        """Re-read the model config file; apply it when its text changed and it parses."""
        path = self.options.config_file
        if path is None:
            return False
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            log.error("cannot read model config file %s: %s", path, exc)
            return False
        if text in (self._config_text, self._rejected_text):
            return False
        try:
            configs = parse_model_config(text, str(path))
        except InvalidInputError as exc:
            log.error("Failed to read ModelServerConfig file: %s", exc)
            self._rejected_text = text
            return False
        self._config_text = text
        self.apply_configs(configs)
        log.info("applied model config file %s (%d models)", path, len(configs))
        return True

    def _config_loop(self) -> None:
        while not self._config_stop.wait(self.options.config_poll_seconds):
            try:
                self.reload_config_if_changed()
            except Exception:  # noqa: BLE001 - the watcher must not die
                log.exception("reloading the model config file failed")

    def _start_background(self) -> None:
        self.manager.start()
        if self.options.config_file is not None and self.options.config_poll_seconds > 0:
            self._config_thread = threading.Thread(
                target=self._config_loop, name="savedmodel-serve-config", daemon=True
            )
            self._config_thread.start()

    def _stop_background(self) -> None:
        self._config_stop.set()
        if self._config_thread is not None:
            self._config_thread.join(timeout=10)
            self._config_thread = None
        self.manager.stop()

    # -- addresses ---------------------------------------------------------

    @property
    def url(self) -> str:
        host = self.options.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.options.port}"

    @property
    def grpc_target(self) -> str:
        """Where a gRPC client connects: host:port, or unix:path when only a socket is served."""
        if self.grpc_port is not None:
            return f"{self.options.grpc_host or self.options.host}:{self.grpc_port}"
        return f"unix:{self.options.grpc_socket_path}"

    # -- binding and serving -------------------------------------------------

    def _bind_rest(self) -> None:
        if self.options.port is None or self._rest_socket is not None:
            return
        self._rest_socket = _bind_tcp(self.options.host, self.options.port, "the HTTP/REST API")
        self.options.port = self._rest_socket.getsockname()[1]

    def _bind_grpc(self) -> None:
        options = self.options
        if options.grpc_port is None and not options.grpc_socket_path:
            return
        from savedmodel.serving.grpc_service import GrpcServices, build_server

        server = build_server(
            GrpcServices(self.serving, self.apply_configs),
            options.grpc_channel_arguments,
            max_receive_bytes=min(options.max_body_bytes, 2**31 - 1),
        )
        if options.grpc_port is not None:
            host = options.grpc_host or options.host
            address = f"[{host}]:{options.grpc_port}" if ":" in host else f"{host}:{options.grpc_port}"
            unavailable = f"cannot listen on {address} for gRPC: address in use or not available"
            try:
                port = server.add_insecure_port(address)
            except RuntimeError:  # grpc logs the reason itself, just before
                raise PortInUseError(unavailable) from None
            if port == 0:
                raise PortInUseError(unavailable)
            self.grpc_port = port
        if options.grpc_socket_path:
            path = options.grpc_socket_path
            _remove_stale_socket(path)
            try:
                bound = server.add_insecure_port(f"unix:{path}")
            except RuntimeError as exc:
                raise PortInUseError(f"cannot listen on unix:{path} for gRPC: {exc}") from None
            if bound == 0:
                raise PortInUseError(f"cannot listen on unix:{path} for gRPC")
        self._grpc = server

    def _uvicorn_server(self):  # noqa: ANN202
        import uvicorn

        config = uvicorn.Config(
            self.app,
            log_level=self.options.log_level,
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
        )
        return uvicorn.Server(config)

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop_event = asyncio.Event()
        try:
            self._bind_grpc()  # a gRPC server belongs to the loop that runs it
            await loop.run_in_executor(None, self._start_background)
            if self._grpc is not None:
                await self._grpc.start()
                if self.grpc_port is not None:
                    log.info("Running gRPC ModelServer at %s ...", self.grpc_target)
                if self.options.grpc_socket_path:
                    log.info("Running gRPC ModelServer at unix:%s ...", self.options.grpc_socket_path)
            rest_task = None
            if self._rest_socket is not None:
                self._uvicorn = self._uvicorn_server()
                rest_task = asyncio.ensure_future(self._uvicorn.serve(sockets=[self._rest_socket]))
                while not self._uvicorn.started and not rest_task.done():
                    await asyncio.sleep(0.01)
                if rest_task.done():
                    rest_task.result()
                    raise PortInUseError(f"the HTTP/REST server on {self.url} did not start")
                log.info("Exporting HTTP/REST API at:%s ...", self.url.removeprefix("http://"))
            elif threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, self._stop_event.set)
            self._ready.set()
            waiters = [asyncio.ensure_future(self._stop_event.wait())]
            if rest_task is not None:
                waiters.append(rest_task)
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if self._grpc is not None:
                await self._grpc.stop(grace=1.0)
            if self._uvicorn is not None:
                self._uvicorn.should_exit = True
            if rest_task is not None:
                await rest_task
            for waiter in waiters:
                waiter.cancel()
        finally:
            if self._grpc is not None:
                await self._grpc.stop(grace=1.0)
            self._stop_background()
            if self._rest_socket is not None:
                self._rest_socket.close()
            self.serving.close()

    def serve_forever(self) -> None:
        """Bind, load models, then serve until interrupted (CLI)."""
        self._bind_rest()
        try:
            asyncio.run(self._main())
        except KeyboardInterrupt:
            pass

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._failure = exc
            self._ready.set()

    def start(self, timeout: float = 60.0) -> ModelServer:
        """Bind, load models and serve from a daemon thread; returns once every port accepts
        connections (a bind failure is raised here)."""
        self._bind_rest()
        self._thread = threading.Thread(target=self._thread_main, name="savedmodel-serve", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failure is not None:
            failure = self._failure
            self.stop()
            if isinstance(failure, SavedModelError):
                raise failure
            raise RuntimeError(f"the server did not start on {self.url}: {failure!r}")
        return self

    def stop(self) -> None:
        loop, stop_event = self._loop, self._stop_event
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        if self._rest_socket is not None:
            self._rest_socket.close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a server that is gone is removed; any other file is an error."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise PortInUseError(f"cannot listen on unix:{path} for gRPC: the path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: stale
        return
    finally:
        probe.close()
    raise PortInUseError(f"cannot listen on unix:{path} for gRPC: another server listens there")


def single_model_config(name: str, base_path: str | Path) -> list[ModelConfig]:
    return [ModelConfig(name=name, base_path=Path(base_path))]
