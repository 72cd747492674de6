"""Helpers for the serving tests: a fake model (Python math on the real fixture's
signature defs), servers on free loopback ports, and the fixture paths."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from savedmodel.proto import example_pb2  # noqa: E402
from savedmodel.serving.config import ModelConfig, VersionPolicy  # noqa: E402
from savedmodel.serving.model import Servable, read_signature_defs  # noqa: E402
from savedmodel.serving.server import ModelServer, ServerOptions  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SERVING = FIXTURES / "serving"
HALF_PLUS_N = SERVING / "half_plus_n"
EXAMPLES_N = SERVING / "examples_n"
SEED = FIXTURES / "seed"
GOLDENS = json.loads((SERVING / "goldens.json").read_text())
N_BY_VERSION = {1: 2.0, 2: 3.0}
# TF Serving's testdata/saved_model_half_plus_two_cpu/00000123: y = 0.5 x + 2, tf.Example signatures.
HALF_PLUS_TWO = FIXTURES / "realworld" / "tfserving__saved_model_half_plus_two_cpu__2018_6fc2949"
HALF_PLUS_TWO_VERSION = 123


def _feature_value(example: example_pb2.Example, name: str) -> float:
    feature = example.features.feature.get(name)
    if feature is None or not feature.float_list.value:
        return 0.0
    return float(feature.float_list.value[0])


def half_plus_n_runner(n: float, delay: Callable[[dict], float] | None = None):
    """What the half_plus_n fixture computes, in NumPy (TF Serving feeds examples serialized)."""

    def run(key: str, inputs: dict) -> dict:
        if delay is not None:
            time.sleep(delay(inputs))
        if key == "serving_default":
            return {"y": (inputs["x"] * np.float32(0.5) + np.float32(n)).astype(np.float32)}
        if key == "multi":
            a = inputs["a"]
            return {"sum": a.sum(axis=1), "doubled": (a * 2).astype(np.int32), "s_bytes": inputs["s"]}
        examples = []
        for data in inputs["inputs"]:
            example = example_pb2.Example()
            example.ParseFromString(data)
            examples.append(example)
        x = np.array([[_feature_value(e, "x")] for e in examples], dtype=np.float32).reshape(-1, 1)
        k = np.array([[_feature_value(e, "k")] for e in examples], dtype=np.float32).reshape(-1, 1)
        if key in ("classify_x_to_y", "regress_x_to_y"):
            name = "scores" if key.startswith("classify") else "outputs"
            return {name: x * np.float32(0.5) + np.float32(n)}
        if key == "classify_labels":
            classes = np.array([[b"pos", b"neg"]] * len(examples), dtype=object).reshape(-1, 2)
            return {"classes": classes, "scores": np.concatenate([x, -x], axis=1)}
        if key == "regress_x_plus_k":
            return {"outputs": (x + k).reshape(-1)}
        raise KeyError(key)

    return run


def fake_loader(delay: Callable[[dict], float] | None = None):
    """Loads half_plus_n / examples_n versions (or copies of them) as fake Servables; n comes from the
    version's saved_model.pb (v1 and v2 differ), so copies keep their behaviour."""
    v1_bytes = {
        (HALF_PLUS_N / "1" / "saved_model.pb").read_bytes(),
        (EXAMPLES_N / "1" / "saved_model.pb").read_bytes(),
    }

    def load(path: Path) -> Servable:
        data = (Path(path) / "saved_model.pb").read_bytes()
        n = 2.0 if data in v1_bytes else 3.0
        signature_defs = read_signature_defs(Path(path))
        runner = half_plus_n_runner(n, delay)

        def run(key: str, inputs: dict) -> dict:
            # Like the server's runtime (and TF Serving's sessions): any feed shape is accepted.
            return runner(key, inputs)

        return Servable(Path(path), signature_defs, run)

    return load


def copy_version(source: Path, base: Path, version: int) -> Path:
    """Copy a SavedModel into base/<version> atomically (copy aside, then rename)."""
    base.mkdir(parents=True, exist_ok=True)
    staging = base / f".staging-{version}"
    shutil.copytree(source, staging)
    target = base / str(version)
    staging.rename(target)
    return target


def copy_half_plus_two(base: Path, version: int = HALF_PLUS_TWO_VERSION) -> Path:
    """TF Serving's half_plus_two as base/<version> (its SavedModel files only)."""
    target = base / str(version)
    target.mkdir(parents=True)
    shutil.copy(HALF_PLUS_TWO / "saved_model.pb", target)
    shutil.copytree(HALF_PLUS_TWO / "variables", target / "variables")
    return target


@contextmanager
def running_server(
    configs: list[ModelConfig], loader=None, **options
) -> Iterator[tuple[ModelServer, httpx.Client]]:
    """A server on loopback, REST on a free port (port=None: no REST; the client is then None;
    grpc_port=0: gRPC on a free port too)."""
    options.setdefault("poll_wait_seconds", 0)
    options.setdefault("port", 0)
    opts = ServerOptions(host="127.0.0.1", **options)
    server = ModelServer(configs, opts, loader=loader)
    server.start()
    try:
        if opts.port is None:
            yield server, None
        else:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                yield server, client
    finally:
        server.stop()


def model_config(name: str, base: Path, policy: VersionPolicy | None = None, labels=None) -> ModelConfig:
    return ModelConfig(
        name=name, base_path=base, version_policy=policy or VersionPolicy(), version_labels=labels or {}
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
