"""--enable_model_warmup: assets.extra/tf_serving_warmup_requests (TFRecord of PredictionLog)
replayed before a version is AVAILABLE.

Ported from tensorflow_serving/servables/tensorflow/saved_model_warmup_test.cc and
saved_model_warmup_util_test.cc (all four log types replayed, num_request_iterations,
unsupported log types, too many records, files that are not TFRecord).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from savedmodel.format import tensor as tensor_format
from savedmodel.proto import serving_apis_pb2 as apis
from savedmodel.serving.model import Servable, load_servable
from savedmodel.serving.warmup import WARMUP_FILE, read_tfrecords, run_warmup, write_tfrecord

from .serving_helpers import copy_half_plus_two, model_config, running_server

# tf.io.TFRecordWriter's bytes for the records b"hello" and b"" (written once with TensorFlow 2.21).
TF_WRITTEN = bytes.fromhex("0500000000000000eab2043e68656c6c6fbb1f1c19000000000000000029039807d8ea82a2")


def test_tfrecord_framing_matches_tensorflow():
    assert write_tfrecord([b"hello", b""]) == TF_WRITTEN
    assert list(read_tfrecords(TF_WRITTEN)) == [b"hello", b""]


@pytest.mark.parametrize("cut", [3, 12, len(TF_WRITTEN) - 1])
def test_truncated_or_corrupt_tfrecord_is_data_loss(cut):
    from savedmodel.serving.errors import ServingError

    with pytest.raises(ServingError) as info:
        list(read_tfrecords(TF_WRITTEN[:cut]))
    assert info.value.code == "DATA_LOSS" and "verify your warmup data is in TFRecord format" in str(
        info.value
    )
    corrupt = bytearray(TF_WRITTEN)
    corrupt[14] ^= 1  # a byte of "hello"
    with pytest.raises(ServingError, match="data checksum"):
        list(read_tfrecords(bytes(corrupt)))


def _examples(target, values):
    for value in values:
        target.example_list.examples.add().features.feature["x"].float_list.value.append(value)


def warmup_logs() -> list[apis.PredictionLog]:
    predict = apis.PredictionLog()
    predict.predict_log.request.model_spec.name = "anything"  # ignored, as in TF Serving
    predict.predict_log.request.inputs["x"].CopyFrom(tensor_format.from_numpy(np.array([1.0], np.float32)))
    classify = apis.PredictionLog()
    classify.classify_log.request.model_spec.signature_name = "classify_x_to_y"
    _examples(classify.classify_log.request.input, [1.0])
    regress = apis.PredictionLog()
    regress.regress_log.request.model_spec.signature_name = "regress_x_to_y"
    _examples(regress.regress_log.request.input, [1.0])
    multi = apis.PredictionLog()
    task = multi.multi_inference_log.request.tasks.add(method_name="tensorflow/serving/regress")
    task.model_spec.name = "m"
    task.model_spec.signature_name = "regress_x_to_y"
    _examples(multi.multi_inference_log.request.input, [1.0])
    return [predict, classify, regress, multi]


def write_warmup(version_dir: Path, logs: list[apis.PredictionLog]) -> None:
    path = version_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_tfrecord([log.SerializeToString() for log in logs]))


class Recorder:
    """A loader whose servables count their calls (and can be told when the version is AVAILABLE)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, path: Path) -> Servable:
        real = load_servable(path)

        def run(key, inputs):
            self.calls.append(key)
            return real.run(key, inputs)

        return Servable(Path(path), real.signature_defs, run)


def test_all_log_types_replayed_before_available(tmp_path: Path):
    version_dir = copy_half_plus_two(tmp_path / "m")
    write_warmup(version_dir, warmup_logs())
    recorder = Recorder()
    options = {"enable_model_warmup": True, "warmup_iterations": 2}
    with running_server([model_config("m", tmp_path / "m")], loader=recorder, **options) as (_, client):
        # start() returns after the initial load, which includes the warmup
        assert (
            recorder.calls
            == ["serving_default", "serving_default"] + ["classify_x_to_y"] * 2 + ["regress_x_to_y"] * 4
        )
        status = client.get("/v1/models/m").json()["model_version_status"][0]
        assert status["state"] == "AVAILABLE"


def test_warmup_off_by_default(tmp_path: Path):
    version_dir = copy_half_plus_two(tmp_path / "m")
    write_warmup(version_dir, warmup_logs())
    recorder = Recorder()
    with running_server([model_config("m", tmp_path / "m")], loader=recorder):
        assert recorder.calls == []


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (write_tfrecord([apis.PredictionLog().SerializeToString()]), "UNIMPLEMENTED", "Unsupported log_type"),
        (b"not a tfrecord file", "DATA_LOSS", "TFRecord format"),
        (write_tfrecord([b"\xff\xff"]), "INVALID_ARGUMENT", "Failed to parse warmup record"),
        (
            write_tfrecord([warmup_logs()[0].SerializeToString()] * 1001),
            "INVALID_ARGUMENT",
            "Number of warmup records exceeds the maximum (1000)",
        ),
    ],
)
def test_bad_warmup_data_fails_the_load(tmp_path: Path, content: bytes, code: str, message: str):
    version_dir = copy_half_plus_two(tmp_path / "m")
    (version_dir / WARMUP_FILE).parent.mkdir()
    (version_dir / WARMUP_FILE).write_bytes(content)
    with running_server([model_config("m", tmp_path / "m")], enable_model_warmup=True) as (_, client):
        status = client.get("/v1/models/m").json()["model_version_status"][0]
    assert status["state"] == "END"
    assert status["status"]["error_code"] == code and message in status["status"]["error_message"]


def test_no_warmup_file_is_fine(tmp_path: Path):
    version_dir = copy_half_plus_two(tmp_path / "m")
    assert run_warmup(load_servable(version_dir), version_dir) == 0
