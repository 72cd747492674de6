"""Version lifecycle (hot reload, unload with requests in flight, failed loads), batching, and the CLI."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from savedmodel.serving.config import ModelConfig, VersionPolicy
from savedmodel.serving.server import ModelServer, ServerOptions, free_port

from .serving_helpers import (
    GOLDENS,
    HALF_PLUS_N,
    SEED,
    copy_version,
    fake_loader,
    httpx,
    model_config,
    running_server,
    wait_for,
)


def predict(client, path: str, instances) -> tuple[int, dict]:
    response = client.post(path, content=json.dumps({"instances": instances}))
    return response.status_code, response.json()


def statuses(client, name: str) -> list[tuple[str, str]]:
    return [
        (v["version"], v["state"]) for v in client.get(f"/v1/models/{name}").json()["model_version_status"]
    ]


def loader_for(kind: str):
    if kind == "fake":
        return fake_loader()
    import savedmodel

    if not hasattr(savedmodel, "load"):
        pytest.skip("savedmodel.load (the runtime) is not available yet")
    return None  # the server's default: savedmodel's runtime


@pytest.mark.parametrize("kind", ["fake", "runtime"])
def test_hot_reload_of_a_newly_copied_version(tmp_path: Path, kind: str):
    base = tmp_path / "m"
    copy_version(HALF_PLUS_N / "1", base, 1)
    config = [model_config("m", base)]
    with running_server(config, loader=loader_for(kind), poll_wait_seconds=0.1) as (_, client):
        assert predict(client, "/v1/models/m:predict", [1.0]) == (200, {"predictions": [2.5]})
        copy_version(HALF_PLUS_N / "2", base, 2)
        assert wait_for(lambda: statuses(client, "m") == [("2", "AVAILABLE"), ("1", "END")])
        assert predict(client, "/v1/models/m:predict", [1.0]) == (200, {"predictions": [3.5]})
        assert predict(client, "/v1/models/m/versions/1:predict", [1.0])[0] == 404
        # Removing the newest version brings the previous one back.
        shutil.rmtree(base / "2")
        assert wait_for(lambda: statuses(client, "m")[:2] == [("2", "END"), ("1", "AVAILABLE")])
        assert predict(client, "/v1/models/m:predict", [1.0]) == (200, {"predictions": [2.5]})


def test_requests_in_flight_finish_on_the_unloaded_version(tmp_path: Path):
    base = tmp_path / "m"
    copy_version(HALF_PLUS_N / "1", base, 1)
    running = threading.Event()

    def delay(inputs: dict) -> float:
        if "x" in inputs and float(inputs["x"][0]) == 99.0 and not running.is_set():
            running.set()
            return 0.8
        return 0.0

    slow = fake_loader(delay=delay)
    with running_server([model_config("m", base)], loader=slow, poll_wait_seconds=0.05) as (server, client):
        result: dict = {}

        def slow_request() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as other:
                result["response"] = predict(other, "/v1/models/m:predict", [99.0])

        thread = threading.Thread(target=slow_request)
        thread.start()
        assert running.wait(10)  # the request is now running on version 1
        copy_version(HALF_PLUS_N / "2", base, 2)
        assert wait_for(lambda: statuses(client, "m")[0] == ("2", "AVAILABLE"))
        thread.join(timeout=10)
        assert result["response"] == (200, {"predictions": [51.5]})  # 0.5 * 99 + 2: version 1's answer
        assert predict(client, "/v1/models/m:predict", [99.0]) == (200, {"predictions": [52.5]})


def test_failed_version_load_is_reported_and_others_keep_serving(tmp_path: Path):
    base = tmp_path / "m"
    copy_version(HALF_PLUS_N / "1", base, 1)
    (base / "2").mkdir()  # not a SavedModel
    configs = [ModelConfig("m", base, version_policy=VersionPolicy("all"))]
    with running_server(configs, loader=fake_loader()) as (_, client):
        versions = client.get("/v1/models/m").json()["model_version_status"]
        assert versions[0]["version"] == "2" and versions[0]["state"] == "END"
        assert (
            versions[0]["status"]["error_code"] != "OK"
            and "saved_model.pb" in versions[0]["status"]["error_message"]
        )
        assert predict(client, "/v1/models/m:predict", [1.0]) == (200, {"predictions": [2.5]})


def test_batching_merges_concurrent_requests(tmp_path: Path):
    base = tmp_path / "m"
    copy_version(HALF_PLUS_N / "1", base, 1)
    calls: list[int] = []

    def record(inputs: dict) -> float:
        if "x" in inputs:
            calls.append(len(inputs["x"]))
        return 0.0

    options = {"enable_batching": True, "max_batch_size": 8, "batch_timeout_micros": 200_000}
    with running_server([model_config("m", base)], loader=fake_loader(delay=record), **options) as (
        server,
        _,
    ):
        results: dict[int, tuple] = {}

        def one(i: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                results[i] = predict(client, "/v1/models/m:predict", [float(i), float(i) + 0.5])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        for i in range(8):
            assert results[i] == (200, {"predictions": [0.5 * i + 2, 0.5 * (i + 0.5) + 2]})
        assert sum(calls) == 16 and len(calls) < 8  # some requests were run together
        assert max(calls) <= 8
        with httpx.Client(base_url=server.url) as client:
            metrics = client.get("/monitoring/prometheus/metrics").text
        assert ":tensorflow:serving:batching_session:processed_batch_size_count" in metrics


def test_serve_without_http_dependencies_prints_hint(monkeypatch, capsys):
    from savedmodel.cli import serve

    monkeypatch.setattr(serve, "serve_dependencies_missing", lambda grpc=False: "uvicorn")
    assert serve.run(argparse.Namespace(version=False, port=0, grpc_socket_path="")) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "savedmodel[serve]"' in err


def test_cli_config_errors_are_one_line(tmp_path: Path):
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'm' } }")
    proc = subprocess.run(
        [sys.executable, "-m", "savedmodel", "serve", "--model_config_file", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "needs a base_path" in proc.stderr


def test_cli_serves_a_model_config_file(tmp_path: Path):
    """`savedmodel serve` as a subprocess: config file, labels, status, predict (with the runtime)."""
    base = tmp_path / "half"
    copy_version(HALF_PLUS_N / "1", base, 1)
    copy_version(HALF_PLUS_N / "2", base, 2)
    config = tmp_path / "models.config"
    config.write_text(
        f"""model_config_list {{
          config {{
            name: "half"
            base_path: "{base}"
            model_platform: "tensorflow"
            model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}
            version_labels {{ key: "stable" value: 1 }}
          }}
        }}"""
    )
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "savedmodel",
            "serve",
            "--model_config_file",
            str(config),
            "--rest_api_port",
            str(port),
            "--file_system_poll_wait_seconds",
            "0",
            "--log_level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            def up() -> bool:
                try:
                    return client.get("/v1/models/half").status_code in (200, 404)
                except httpx.TransportError:
                    return proc.poll() is not None

            assert wait_for(up, timeout=30), "server did not come up"
            assert proc.poll() is None, proc.stderr.read().decode()
            versions = client.get("/v1/models/half").json()["model_version_status"]
            assert [v["version"] for v in versions] == ["2", "1"]
            import savedmodel

            if hasattr(savedmodel, "load") and versions[0]["state"] == "AVAILABLE":
                golden = GOLDENS["1"]["predict"]
                status, body = predict(
                    client, "/v1/models/half/labels/stable:predict", golden["body"]["instances"]
                )
                assert status == 200 and body["predictions"] == pytest.approx(golden["predictions"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_seed_models_as_versions_with_the_runtime(tmp_path: Path):
    """Seed SavedModels (TF1 and TF2 exports of x + 2) served as base/1 and base/2."""
    import savedmodel

    if not hasattr(savedmodel, "load"):
        pytest.skip("savedmodel.load (the runtime) is not available yet")
    base = tmp_path / "seed"
    copy_version(SEED / "simple-save", base, 1)
    copy_version(SEED / "tf2-save", base, 2)
    options = ServerOptions(host="127.0.0.1", port=free_port(), poll_wait_seconds=0)
    with ModelServer([model_config("seed", base, VersionPolicy("all"))], options) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            versions = client.get("/v1/models/seed").json()["model_version_status"]
            assert [(v["version"], v["state"]) for v in versions] == [
                ("2", "AVAILABLE"),
                ("1", "AVAILABLE"),
            ], versions
            for version in ("1", "2"):
                response = client.post(
                    f"/v1/models/seed/versions/{version}:predict", content='{"inputs": 5.0}'
                )
                assert response.status_code == 200, response.text
                assert response.json() == {"outputs": 7.0}
            metadata = client.get("/v1/models/seed/metadata").json()
            sig = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
            assert sig["inputs"]["input"]["dtype"] == "DT_FLOAT"
            assert np.isclose(
                7.0,
                client.post("/v1/models/seed:predict", content='{"inputs": {"input": 5}}').json()["outputs"],
            )


def test_concurrent_requests_with_the_runtime_get_their_own_answers(tmp_path: Path):
    import savedmodel

    if not hasattr(savedmodel, "load"):
        pytest.skip("savedmodel.load (the runtime) is not available yet")
    base = tmp_path / "m"
    copy_version(HALF_PLUS_N / "1", base, 1)
    with running_server([model_config("m", base)], num_threads=4) as (server, _):
        failures: list = []

        def worker(offset: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for i in range(25):
                    x = float(offset * 100 + i)
                    result = predict(client, "/v1/models/m:predict", [x, x + 1])
                    if result != (200, {"predictions": [0.5 * x + 2, 0.5 * (x + 1) + 2]}):
                        failures.append((x, result))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []


def test_models_that_touch_files_are_refused_unless_allowed(tmp_path: Path):
    base = tmp_path / "fileops"
    copy_version(SEED.parent / "cli" / "scan-fileops", base, 1)
    with running_server([model_config("fileops", base)]) as (_, client):
        (version,) = client.get("/v1/models/fileops").json()["model_version_status"]
        assert version["state"] == "END"
        assert version["status"]["error_code"] == "PERMISSION_DENIED"
        assert "--allow_file_access" in version["status"]["error_message"]
        assert client.post("/v1/models/fileops:predict", content='{"inputs": "x"}').status_code == 404


def test_config_file_reload_moves_labels_and_adds_models(tmp_path: Path):
    base = tmp_path / "half"
    copy_version(HALF_PLUS_N / "1", base, 1)
    copy_version(HALF_PLUS_N / "2", base, 2)
    config_file = tmp_path / "models.config"

    def write_config(stable: int, extra_model: bool) -> None:
        extra = f'config {{ name: "other" base_path: "{base}" }}' if extra_model else ""
        config_file.write_text(
            f"""model_config_list {{
              config {{ name: "half" base_path: "{base}"
                        model_version_policy {{ all {{}} }}
                        version_labels {{ key: "stable" value: {stable} }} }}
              {extra}
            }}"""
        )

    write_config(stable=1, extra_model=False)
    from savedmodel.serving.config import read_model_config_file

    options = ServerOptions(
        host="127.0.0.1",
        port=free_port(),
        poll_wait_seconds=0,
        config_file=config_file,
        config_poll_seconds=0.1,
    )
    with ModelServer(read_model_config_file(config_file), options, loader=fake_loader()) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert predict(client, "/v1/models/half/labels/stable:predict", [1.0]) == (
                200,
                {"predictions": [2.5]},
            )
            assert client.get("/v1/models/other").status_code == 404
            write_config(stable=2, extra_model=True)
            assert wait_for(lambda: client.get("/v1/models/other").status_code == 200)
            assert predict(client, "/v1/models/half/labels/stable:predict", [1.0]) == (
                200,
                {"predictions": [3.5]},
            )
            config_file.write_text("model_config_list { config { name: broken")  # ignored, old config stays
            time.sleep(0.3)
            assert predict(client, "/v1/models/other:predict", [1.0]) == (200, {"predictions": [3.5]})
            write_config(stable=2, extra_model=False)
            assert wait_for(
                lambda: (
                    client.get("/v1/models/other/versions/2").json()["model_version_status"][0]["state"]
                    == "END"
                )
            )
            assert predict(client, "/v1/models/other:predict", [1.0])[0] == 404


def test_slow_model_call_times_out_with_504(tmp_path: Path):
    base = tmp_path / "m"
    copy_version(HALF_PLUS_N / "1", base, 1)
    slow = fake_loader(delay=lambda inputs: 0.5 if "x" in inputs and float(inputs["x"][0]) == 99.0 else 0.0)
    with running_server([model_config("m", base)], loader=slow, timeout_in_ms=100) as (_, client):
        status, body = predict(client, "/v1/models/m:predict", [99.0])
        assert status == 504 and "Deadline Exceeded" in body["error"]
        assert predict(client, "/v1/models/m:predict", [1.0]) == (200, {"predictions": [2.5]})
