"""Model versions on disk -> loaded Servables, as TF Serving's ServerCore manages them.

Each model has a base path holding numbered version directories (`base/1`,
`base/2`, ...). A version policy picks the versions to serve (default: the
latest one). `poll_once` compares the directories with what is loaded: new
versions are loaded first, then versions no longer wanted are unloaded. A
request resolves its Servable once and keeps that reference, so requests in
flight finish on the version they started on even if it is unloaded meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from savedmodel.serving.config import ModelConfig
from savedmodel.serving.errors import ServingError, invalid_argument, not_found
from savedmodel.serving.model import Servable, error_from_exception

log = logging.getLogger("savedmodel.serving")

Loader = Callable[[Path], Servable]
MAX_LOAD_ATTEMPTS = 5


@dataclass
class VersionState:
    version: int
    state: str = "START"  # START, LOADING, AVAILABLE, UNLOADING, END (TF Serving's ManagerState)
    error_code: str = "OK"
    error_message: str = ""
    servable: Servable | None = None
    failed_attempts: int = 0
    path_mtime: float = 0.0


@dataclass
class ModelState:
    config: ModelConfig
    versions: dict[int, VersionState]


def version_directories(base_path: Path) -> dict[int, Path]:
    """Numbered subdirectories of a model's base path (others are ignored, as in TF Serving)."""
    found: dict[int, Path] = {}
    try:
        entries = list(base_path.iterdir())
    except OSError:
        return found
    for entry in entries:
        name = entry.name
        if name.isdigit() and name.isascii() and entry.is_dir():
            try:
                found[int(name)] = entry
            except ValueError:
                continue
    return found


class ModelManager:
    """Loads, serves and unloads model versions; thread-safe."""

    def __init__(
        self,
        configs: list[ModelConfig],
        loader: Loader,
        poll_wait_seconds: float = 1.0,
        on_load: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self._models = {c.name: ModelState(c, {}) for c in configs}
        self._retired: dict[str, ModelState] = {}  # removed by a config reload; their END states stay visible
        self._loader = loader
        self._poll_wait = poll_wait_seconds
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_load = on_load

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Load what is on disk now, then keep polling in a daemon thread (unless poll wait <= 0)."""
        self.poll_once()
        if self._poll_wait > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._poll_loop, name="savedmodel-serve-poll", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_wait):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - polling must never die
                log.exception("polling model base paths failed")

    # -- polling ---------------------------------------------------------

    def poll_once(self) -> None:
        with self._poll_lock:
            for model in list(self._models.values()):
                self._sync_model(model)

    def update_configs(self, configs: list[ModelConfig]) -> None:
        """Apply a new model list (TF Serving's config reload): new models are added, removed
        models have every version unloaded, policies and labels of kept models change in place.
        Versions are loaded/unloaded right away."""
        with self._poll_lock:
            with self._lock:
                wanted = {c.name: c for c in configs}
                removed = [m for name, m in self._models.items() if name not in wanted]
                for name, config in wanted.items():
                    if name in self._models:
                        self._models[name].config = config
                    else:
                        self._models[name] = ModelState(config, {})
                        self._retired.pop(name, None)
                for model in removed:
                    del self._models[model.config.name]
                    self._retired[model.config.name] = model
            for model in removed:
                for state in list(model.versions.values()):
                    if state.state in ("AVAILABLE", "LOADING"):
                        self._unload(model, state)
            for model in list(self._models.values()):
                self._sync_model(model)

    def _sync_model(self, model: ModelState) -> None:
        on_disk = version_directories(model.config.base_path)
        aspired = model.config.version_policy.select(list(on_disk))
        if not on_disk and not model.versions:
            log.warning("no versions of model %s found under %s", model.config.name, model.config.base_path)
        for version in aspired:
            self._maybe_load(model, version, on_disk[version])
        # Unload only after new versions are loaded (availability preserving).
        for version, state in list(model.versions.items()):
            if version not in aspired and state.state in ("AVAILABLE", "LOADING"):
                self._unload(model, state)

    def _maybe_load(self, model: ModelState, version: int, path: Path) -> None:
        with self._lock:
            state = model.versions.get(version)
            if state is not None and state.state == "AVAILABLE":
                return
            try:
                mtime = path.stat().st_mtime
            except OSError:
                return
            if state is not None and state.state == "END" and state.error_code != "OK":
                # Failed before: retry a few times, or when the directory changed.
                if state.failed_attempts >= MAX_LOAD_ATTEMPTS and mtime == state.path_mtime:
                    return
            state = VersionState(
                version,
                "LOADING",
                failed_attempts=state.failed_attempts if state else 0,
                path_mtime=mtime,
            )
            model.versions[version] = state
        started = time.perf_counter()
        try:
            servable = self._loader(path)
        except Exception as exc:  # noqa: BLE001 - a bad version must not take the server down
            error = error_from_exception(exc)
            log.error(
                "loading %s version %d from %s failed: %s", model.config.name, version, path, error.message
            )
            with self._lock:
                state.state = "END"
                state.error_code = error.code if error.code != "INTERNAL" else "UNKNOWN"
                state.error_message = error.message
                state.failed_attempts += 1
            self._notify(model.config.name, version, "error")
            return
        with self._lock:
            state.servable = servable
            state.state = "AVAILABLE"
            state.error_code = "OK"
            state.error_message = ""
        log.info(
            "loaded %s version %d from %s in %.1f ms",
            model.config.name,
            version,
            path,
            (time.perf_counter() - started) * 1000,
        )
        self._notify(model.config.name, version, "success")

    def _unload(self, model: ModelState, state: VersionState) -> None:
        with self._lock:
            state.state = "UNLOADING"
            servable, state.servable = state.servable, None
        # Requests in flight hold their own reference; dropping ours is enough.
        if servable is not None:
            try:
                servable.close()
            except Exception:  # noqa: BLE001
                log.exception("closing %s version %d failed", model.config.name, state.version)
        with self._lock:
            state.state = "END"
        log.info("unloaded %s version %d", model.config.name, state.version)

    def _notify(self, name: str, version: int, status: str) -> None:
        if self._on_load is not None:
            self._on_load(name, version, status)

    # -- queries ---------------------------------------------------------

    def model_names(self) -> list[str]:
        return sorted(self._models)

    def _model(self, name: str) -> ModelState | None:
        return self._models.get(name)

    def resolve_label(self, name: str, label: str) -> int:
        model = self._model(name)
        if model is None or label not in model.config.version_labels:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return model.config.version_labels[label]

    def servable(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> tuple[int, Servable]:
        """The Servable a request goes to (TF Serving's GetServableHandle)."""
        if label is not None:
            version = self.resolve_label(name, label)
        model = self._model(name)
        request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        with self._lock:
            if model is not None:
                if version is None:
                    available = [
                        v for v, s in model.versions.items() if s.state == "AVAILABLE" and s.servable
                    ]
                    if available:
                        version = max(available)
                state = model.versions.get(version) if version is not None else None
                if state is not None and state.state == "AVAILABLE" and state.servable is not None:
                    return version, state.servable
        raise not_found(f"Servable not found for request: {request}")

    def version_status(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> list[VersionState]:
        """Version states, newest first (TF Serving's GetModelStatus)."""
        if label is not None:
            version = self.resolve_label(name, label)
        model = self._model(name) or self._retired.get(name)
        with self._lock:
            versions = dict(model.versions) if model is not None else {}
            if version is not None:
                if version not in versions:
                    raise not_found(f"Could not find version {version} of model {name}")
                return [_copy(versions[version])]
            if not versions:
                raise not_found(f"Could not find any versions of model {name}")
            return [_copy(versions[v]) for v in sorted(versions, reverse=True)]

    def available(self) -> dict[str, list[int]]:
        with self._lock:
            return {
                name: sorted(v for v, s in model.versions.items() if s.state == "AVAILABLE")
                for name, model in self._models.items()
            }


def _copy(state: VersionState) -> VersionState:
    return VersionState(state.version, state.state, state.error_code, state.error_message)


__all__ = ["ModelManager", "ServingError", "VersionState", "version_directories"]
