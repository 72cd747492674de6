"""Model warmup (--enable_model_warmup): replay `assets.extra/tf_serving_warmup_requests`.

The file is a TFRecord file of PredictionLog records. Each record is framed as
    uint64 length (little-endian) | uint32 masked crc32c of those 8 bytes |
    data | uint32 masked crc32c of data
Each predict, classify, regress or multi-inference log's request is run against the
version being loaded (the request's model name and version are ignored, as in TF
Serving), `iterations` times, before the version becomes AVAILABLE. Any failure fails
the load; at most 1000 records are allowed (TF Serving's limits and messages, from
saved_model_warmup_util.cc and saved_model_warmup.cc).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from savedmodel.format.crc32c import masked_crc32c
from savedmodel.proto import serving_apis_pb2 as apis
from savedmodel.serving import inference
from savedmodel.serving.errors import ServingError, invalid_argument, not_found, unimplemented
from savedmodel.serving.model import Servable

log = logging.getLogger("savedmodel.serving")

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_RECORDS = 1000
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


class DataLossError(ServingError):
    def __init__(self, message: str) -> None:
        super().__init__("DATA_LOSS", f"{message}. Please verify your warmup data is in TFRecord format.")


def read_tfrecords(data: bytes, source: str = "<tfrecord>") -> Iterator[bytes]:
    """The records of a TFRecord file, checksums verified."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise DataLossError(f"{source}: truncated record header at offset {offset}")
        length, length_crc = _HEADER.unpack_from(data, offset)
        if masked_crc32c(data[offset : offset + 8]) != length_crc:
            raise DataLossError(f"{source}: corrupted record at offset {offset} (length checksum)")
        start = offset + _HEADER.size
        end = start + length
        if end + _FOOTER.size > len(data):
            raise DataLossError(f"{source}: truncated record at offset {offset}")
        record = data[start:end]
        (data_crc,) = _FOOTER.unpack_from(data, end)
        if masked_crc32c(record) != data_crc:
            raise DataLossError(f"{source}: corrupted record at offset {offset} (data checksum)")
        yield record
        offset = end + _FOOTER.size


def write_tfrecord(records: list[bytes]) -> bytes:
    """TFRecord framing of `records` (tests and tools write warmup files with it)."""
    out = bytearray()
    for record in records:
        header = struct.pack("<Q", len(record))
        out += header + struct.pack("<I", masked_crc32c(header))
        out += record + struct.pack("<I", masked_crc32c(record))
    return bytes(out)


def _direct_runner(servable: Servable):  # noqa: ANN202 - an async runner over one Servable
    async def run(target: Servable, key: str, inputs: Mapping[str, np.ndarray], batchable: bool) -> dict:
        return target.run(key, inputs)

    return run


async def _replay_one(log_record: apis.PredictionLog, resolve, run, check: bool) -> None:  # noqa: ANN001
    kind = log_record.WhichOneof("log_type")
    if kind == "predict_log":
        await inference.predict(log_record.predict_log.request, resolve, run, check)
    elif kind == "classify_log":
        await inference.classify(log_record.classify_log.request, resolve, run, check)
    elif kind == "regress_log":
        await inference.regress(log_record.regress_log.request, resolve, run, check)
    elif kind == "multi_inference_log":
        await inference.multi_inference(log_record.multi_inference_log.request, resolve, run, check)
    else:
        raise unimplemented(f"Unsupported log_type for warmup: {kind or 'LOG_TYPE_NOT_SET'}")


def run_warmup(
    servable: Servable, version_dir: Path, iterations: int = 1, check_method_name: bool = False
) -> int:
    """Replay the version's warmup requests; returns how many records were read."""
    path = Path(version_dir) / WARMUP_FILE
    if not path.is_file():
        log.info("No warmup data file found at %s", path)
        return 0
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise not_found(f"cannot read warmup data {path}: {exc}") from None
    try:
        version = int(Path(version_dir).name)
    except ValueError:
        version = 0

    def resolve(name: str, wanted: int | None, label: str | None) -> tuple[int, Servable]:
        return version, servable

    run = _direct_runner(servable)
    started = time.perf_counter()
    count = 0
    for record in read_tfrecords(data, str(path)):
        count += 1
        if count > MAX_RECORDS:
            raise invalid_argument(f"Number of warmup records exceeds the maximum ({MAX_RECORDS}) at {path}")
        message = apis.PredictionLog()
        try:
            message.ParseFromString(record)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError
            raise invalid_argument(f"Failed to parse warmup record from {path}") from None
        for _ in range(max(iterations, 1)):
            asyncio.run(_replay_one(message, resolve, run, check_method_name))
    log.info(
        "Finished reading warmup data for model at %s. Number of warmup records read: %d. "
        "Elapsed time (microseconds): %d.",
        path,
        count,
        (time.perf_counter() - started) * 1e6,
    )
    return count
