"""A converted TF1 model still answers TF Serving's :classify, :regress and :predict
(`savedmodel serve`, started as a user would, on a free loopback port)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from savedmodel.convert import tf1_to_tf2
from tests.conftest import FIXTURES

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

HALF_PLUS_TWO = FIXTURES / "realworld" / "tfserving__saved_model_half_plus_two_cpu__2018_6fc2949"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    base = tmp_path_factory.mktemp("models")
    tf1_to_tf2(HALF_PLUS_TWO, base / "1")
    port = _free_port()
    command = [sys.executable, "-m", "savedmodel", "serve", "--model_name", "hp"]
    command += ["--model_base_path", str(base), "--rest_api_port", str(port), "--rest_api_host", "127.0.0.1"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1/models/hp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = _request(url)["model_version_status"][0]
                if status["state"] == "AVAILABLE":
                    break
            except (urllib.error.URLError, ConnectionError, KeyError, IndexError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"savedmodel serve did not come up: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_classify_regress_predict(server: str) -> None:
    examples = [{"x": 1.0}, {"x": 4.0}]
    classify = _request(f"{server}:classify", {"signature_name": "classify_x_to_y", "examples": examples})
    scores = [label_score[0][1] for label_score in classify["results"]]
    np.testing.assert_allclose(scores, [2.5, 4.0])
    regress = _request(f"{server}:regress", {"signature_name": "regress_x_to_y", "examples": examples})
    np.testing.assert_allclose(regress["results"], [2.5, 4.0])
    predict = _request(f"{server}:predict", {"instances": [[1.0], [4.0]]})
    np.testing.assert_allclose(predict["predictions"], [[2.5], [4.0]])
