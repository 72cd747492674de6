"""Running the REST server with uvicorn, in the foreground (CLI) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from savedmodel.errors import InvalidInputError
from savedmodel.serving.app import DEFAULT_MAX_BODY_BYTES, ServingApp, build_app
from savedmodel.serving.config import ModelConfig, parse_model_config
from savedmodel.serving.manager import Loader, ModelManager
from savedmodel.serving.metrics import Metrics
from savedmodel.serving.model import load_servable

log = logging.getLogger("savedmodel.serving")


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8501
    poll_wait_seconds: float = 1.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    num_threads: int = 4
    enable_batching: bool = False
    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    allow_file_access: bool = False
    log_level: str = "warning"
    timeout_in_ms: int = 30000
    config_file: Path | None = None
    config_poll_seconds: float = 0.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ModelServer:
    """Manager + Starlette app + uvicorn server."""

    def __init__(
        self, configs: list[ModelConfig], options: ServerOptions, loader: Loader | None = None
    ) -> None:
        if not configs:
            raise InvalidInputError("no models to serve")
        self.options = options
        self.metrics = Metrics()
        self._base_paths = base_paths = {c.name: c.base_path for c in configs}
        if loader is None:
            loader = functools.partial(load_servable, allow_file_access=options.allow_file_access)

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
        )
        self.app = build_app(self.serving)
        self._server = None
        self._thread: threading.Thread | None = None
        self._config_stop = threading.Event()
        self._config_thread: threading.Thread | None = None
        self._config_text: str | None = None
        self._rejected_text: str | None = None
        if options.config_file is not None:
            try:
                self._config_text = Path(options.config_file).read_text(encoding="utf-8")
            except OSError:
                self._config_text = None

    # -- model config file reloading ---------------------------------------

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
            log.error("ignoring the changed model config file: %s", exc)
            self._rejected_text = text
            return False
        self._config_text = text
        self._base_paths.clear()
        self._base_paths.update({c.name: c.base_path for c in configs})
        self.manager.update_configs(configs)
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

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def _uvicorn_server(self):  # noqa: ANN202
        import uvicorn

        config = uvicorn.Config(
            self.app,
            host=self.options.host,
            port=self.options.port,
            log_level=self.options.log_level,
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
        )
        return uvicorn.Server(config)

    def serve_forever(self) -> None:
        """Load models, then serve until interrupted (CLI)."""
        self._start_background()
        try:
            self._uvicorn_server().run()
        finally:
            self._stop_background()

    def start(self, timeout: float = 20.0) -> ModelServer:
        """Load models and serve from a daemon thread; returns once the port accepts connections."""
        self._start_background()
        self._server = self._uvicorn_server()
        self._thread = threading.Thread(target=self._server.run, name="savedmodel-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if getattr(self._server, "started", False):
                return self
            if not self._thread.is_alive():
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the server did not start on {self.url}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._stop_background()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def single_model_config(name: str, base_path: str | Path) -> list[ModelConfig]:
    return [ModelConfig(name=name, base_path=Path(base_path))]
