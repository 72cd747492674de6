"""`tensorflow_model_server` (and `savedmodel serve`): TF Serving's flags and configuration files.

Ported from tensorflow_serving/model_servers/tensorflow_model_server_test.py (testBadModelConfig,
testGoodModelConfig, testGoodGrpcChannelArgs, testPrometheusEndpoint, testPredictUDS) with its
testdata files (bad_model_config.txt, good_model_config.txt, batching_config.txt,
monitoring_config.txt), and from server.cc's option checks. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from savedmodel.cli.serve import add_server_flags, build_options
from savedmodel.errors import InvalidInputError
from savedmodel.serving.config import (
    ConfigFileError,
    model_configs_from_proto,
    parse_batching_parameters,
    parse_model_config,
    parse_monitoring_config,
    read_model_config_file,
)
from savedmodel.serving.server import free_port

from .serving_helpers import copy_half_plus_two, httpx, wait_for

ROOT = Path(__file__).resolve().parents[2]
BAD_MODEL_CONFIG = "improperly formatted file\n"
GOOD_MODEL_CONFIG = """model_config_list: {
  config: {
    name: "half_plus_two",
    base_path: "${TEST_HALF_PLUS_TWO_DIR}",
    model_platform: "tensorflow"
  },
  config: {
    name: "half_plus_three",
    base_path: "${TEST_HALF_PLUS_THREE_DIR}",
    model_platform: "tensorflow"
  }
}
"""
BATCHING_CONFIG = """max_batch_size { value: 128 }
batch_timeout_micros { value: 0 }
max_enqueued_batches { value: 1000000 }
num_batch_threads { value: 8 }
"""
MONITORING_CONFIG = """prometheus_config: {
  enable: true,
  path: "/monitoring/prometheus/metrics"
}
"""


def tf_args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    add_server_flags(parser, tf_defaults=True)
    return parser.parse_args(list(flags))


# -- flags and configuration files (in process) ---------------------------------


def test_tf_serving_defaults_and_flag_forms():
    args = tf_args()
    assert (args.port, args.rest_api_port, args.host, args.enable_batching) == (8500, 0, "0.0.0.0", False)
    args = tf_args(
        "--enable_batching", "--enable_model_warmup=false", "--port=9000", "--rest_api_port", "9001"
    )
    assert args.enable_batching is True and args.enable_model_warmup is False
    assert (args.port, args.rest_api_port) == (9000, 9001)
    args = tf_args("--tensorflow_intra_op_parallelism=4", "--flush_filesystem_caches", "--grpc_max_threads=2")
    assert args.tensorflow_intra_op_parallelism == 4 and args.flush_filesystem_caches is True


def test_flags_are_not_abbreviated(capsys):
    from savedmodel.cli.serve import tensorflow_model_server

    with pytest.raises(SystemExit) as info:
        tensorflow_model_server(["--model_config=x.txt"])
    assert info.value.code == 2 and "unrecognized arguments: --model_config=x.txt" in capsys.readouterr().err


def test_build_options_reads_batching_and_monitoring_files(tmp_path: Path):
    batching = tmp_path / "batching_config.txt"
    batching.write_text(BATCHING_CONFIG)
    monitoring = tmp_path / "monitoring_config.txt"
    monitoring.write_text('prometheus_config { enable: true path: "/metrics" }')
    options = build_options(
        tf_args(
            "--enable_batching",
            f"--batching_parameters_file={batching}",
            f"--monitoring_config_file={monitoring}",
            "--grpc_channel_arguments=grpc.max_connection_age_ms=2000,grpc.some_name=x",
            "--grpc_socket_path=/tmp/x.sock",
            "--saved_model_tags=serve,gpu",
            "--rest_api_port=8501",
        )
    )
    assert options.enable_batching and options.max_batch_size == 128 and options.batch_timeout_micros == 0
    assert options.monitoring.prometheus_enabled and options.monitoring.prometheus_path == "/metrics"
    assert options.grpc_channel_arguments == [("grpc.max_connection_age_ms", 2000), ("grpc.some_name", "x")]
    assert (options.grpc_port, options.port, options.grpc_socket_path) == (8500, 8501, "/tmp/x.sock")
    assert options.saved_model_tags == ("serve", "gpu")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batching_parameters_file=x.txt"], "without setting server_options.enable_batching"),
        (["--port=0", "--rest_api_port=0"], "nothing to serve on"),
        (["--port=8500", "--rest_api_port=8500"], "must differ"),
        (["--port=70000"], "not a valid port"),
        (["--grpc_channel_arguments=novalue"], "is not key=value"),
    ],
)
def test_bad_flag_combinations(flags, message):
    with pytest.raises(InvalidInputError, match=message):
        build_options(tf_args(*flags))


def test_tf_serving_testdata_configs_parse():
    half, three = parse_model_config(GOOD_MODEL_CONFIG)
    assert (half.name, str(half.base_path), three.name) == (
        "half_plus_two",
        "${TEST_HALF_PLUS_TWO_DIR}",
        "half_plus_three",
    )
    params = parse_batching_parameters(BATCHING_CONFIG)
    assert (params.max_batch_size, params.batch_timeout_micros) == (128, 0)
    assert params.unused_fields() == ["max_enqueued_batches", "num_batch_threads"]
    monitoring = parse_monitoring_config(MONITORING_CONFIG)
    assert monitoring.prometheus_enabled and monitoring.prometheus_path == "/monitoring/prometheus/metrics"
    assert not parse_monitoring_config("").prometheus_enabled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch_size: 12", "wrapper message"),
        ("max_batch_size { value: 0 }", "must be positive"),
        ("max_batch_size { value: 'x' }", "must be an integer"),
        ("bogus { value: 1 }", "unsupported field(s) bogus"),
    ],
)
def test_bad_batching_parameters(text, message):
    with pytest.raises(InvalidInputError) as info:
        parse_batching_parameters(text)
    assert message in str(info.value)


def test_bad_model_config_file_message(tmp_path: Path):
    bad = tmp_path / "bad_model_config.txt"
    bad.write_text(BAD_MODEL_CONFIG)
    with pytest.raises(
        ConfigFileError, match="^Error parsing text-format tensorflow.serving.ModelServerConfig"
    ):
        read_model_config_file(bad)
    with pytest.raises(
        ConfigFileError, match="^Error parsing text-format tensorflow.serving.ModelServerConfig"
    ):
        read_model_config_file(tmp_path / "missing.txt")


def test_model_server_config_message_to_models():
    from savedmodel.proto import serving_config_pb2 as config_pb2

    config = config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add(name="m", base_path="/models/m", model_platform="tensorflow")
    entry.model_version_policy.specific.versions.extend([1, 3])
    entry.version_labels["stable"] = 1
    (model,) = model_configs_from_proto(config)
    assert model.version_policy.versions == (1, 3) and model.version_labels == {"stable": 1}
    with pytest.raises(InvalidInputError, match="only model_config_list"):
        model_configs_from_proto(config_pb2.ModelServerConfig())


def test_console_script_is_declared():
    scripts = (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1].split("\n[")[0]
    assert 'tensorflow_model_server = "savedmodel.cli.serve:main"' in scripts


# -- the real command (subprocesses) ------------------------------------------------

SERVER = "import sys; from savedmodel.cli.serve import main; sys.argv[0] = 'tensorflow_model_server'; main()"


def model_server(*flags: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", SERVER, "--host=127.0.0.1", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        **popen,
    )


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err.decode()


def test_bad_model_config_fails_startup(tmp_path: Path):
    bad = tmp_path / "bad_model_config.txt"
    bad.write_text(BAD_MODEL_CONFIG)
    code, err = finish(
        model_server(f"--model_config_file={bad}", "--port=0", f"--rest_api_port={free_port()}")
    )
    assert code != 0
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in err
    assert "Exporting HTTP/REST API" not in err


@pytest.mark.parametrize("which", ["rest", "grpc"])
def test_port_in_use_is_a_clear_error_before_startup(tmp_path: Path, which: str):
    copy_half_plus_two(tmp_path / "m")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        other = free_port()
        ports = [f"--rest_api_port={port}", f"--port={other}"]
        if which == "grpc":
            ports = [f"--rest_api_port={other}", f"--port={port}"]
        code, err = finish(model_server("--model_name=m", f"--model_base_path={tmp_path / 'm'}", *ports))
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert (
        "startup complete" not in err and "Exporting HTTP/REST API" not in err and "Running gRPC" not in err
    )


def test_drop_in_flags_end_to_end(tmp_path: Path):
    grpc = pytest.importorskip("grpc")
    import numpy as np

    from savedmodel.format import tensor as tensor_format
    from savedmodel.proto import prediction_service_pb2_grpc as services
    from savedmodel.proto import serving_apis_pb2 as apis

    copy_half_plus_two(tmp_path / "half_plus_two")
    config = tmp_path / "good_model_config.conf"
    config.write_text(
        GOOD_MODEL_CONFIG.replace("${TEST_HALF_PLUS_TWO_DIR}", str(tmp_path / "half_plus_two")).replace(
            "${TEST_HALF_PLUS_THREE_DIR}", str(tmp_path / "half_plus_two")
        )
    )
    (tmp_path / "batching_config.txt").write_text(BATCHING_CONFIG)
    (tmp_path / "monitoring_config.txt").write_text(
        MONITORING_CONFIG.replace("/monitoring/prometheus/metrics", "/m")
    )
    grpc_port, rest_port = free_port(), free_port()
    socket_path = tmp_path / "tf_serving.sock"
    proc = model_server(
        f"--port={grpc_port}",
        f"--grpc_socket_path={socket_path}",
        f"--rest_api_port={rest_port}",
        "--rest_api_timeout_in_ms=5000",
        f"--model_config_file={config}",
        "--model_config_file_poll_wait_seconds=0",
        "--file_system_poll_wait_seconds=0",
        f"--monitoring_config_file={tmp_path / 'monitoring_config.txt'}",
        "--enable_batching",
        f"--batching_parameters_file={tmp_path / 'batching_config.txt'}",
        "--enable_model_warmup=true",
        "--grpc_channel_arguments=grpc.max_connection_age_ms=60000",
        "--tensorflow_session_parallelism=1",
        "--tensorflow_intra_op_parallelism=2",
        "--tensorflow_inter_op_parallelism=2",
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{rest_port}", timeout=10) as client:

            def up() -> bool:
                try:
                    return client.get("/v1/models/half_plus_three").status_code == 200
                except httpx.TransportError:
                    return proc.poll() is not None

            assert wait_for(up, timeout=60) and proc.poll() is None, finish(proc)[1]
            response = client.post("/v1/models/half_plus_two:predict", content='{"instances": [1.0, 2.0]}')
            assert response.json() == {"predictions": [2.5, 3.0]}
            assert ":tensorflow:serving:request_count" in client.get("/m").text
            assert client.get("/monitoring/prometheus/metrics").status_code == 404
        for target in (f"127.0.0.1:{grpc_port}", f"unix:{socket_path}"):
            with grpc.insecure_channel(target) as channel:
                request = apis.PredictRequest()
                request.model_spec.name = "half_plus_three"
                request.inputs["x"].CopyFrom(tensor_format.from_numpy(np.array([4.0], np.float32)))
                result = services.PredictionServiceStub(channel).Predict(request, 10)
                assert list(result.outputs["y"].float_val) == [4.0]
    finally:
        proc.terminate()
        code, err = finish(proc)
    ignored = [line for line in err.splitlines() if "accepted and ignored" in line]
    assert len(ignored) == 1 and "--tensorflow_intra_op_parallelism" in ignored[0]
    assert "batching parameters accepted but not used: max_enqueued_batches, num_batch_threads" in err
    assert f"Running gRPC ModelServer at 127.0.0.1:{grpc_port}" in err
    assert f"Exporting HTTP/REST API at:127.0.0.1:{rest_port}" in err
    assert '"POST /v1/models/half_plus_two:predict" 200' in err  # the access log
    assert "gRPC /tensorflow.serving.PredictionService/Predict OK" in err


def test_rest_socket_is_tcp_so_asyncio_sets_nodelay():
    """A pre-bound socket without proto=IPPROTO_TCP makes asyncio skip TCP_NODELAY on accepted
    connections: every response then waits for a delayed ACK (measured: p50 52 ms instead of ~1 ms)."""
    from savedmodel.serving.server import _bind_tcp

    sock = _bind_tcp("127.0.0.1", 0, "test")
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
