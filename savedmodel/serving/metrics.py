"""Prometheus metrics in the text exposition format (written by hand; no dependency).

Metric names follow TF Serving's exporter (`/tensorflow/serving/request_count`
becomes `:tensorflow:serving:request_count`); latencies are in microseconds with
TF Serving's buckets (exponential: 10us * 1.8^k, 33 buckets).
"""

from __future__ import annotations

import threading
from collections import defaultdict

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
LOAD_ATTEMPTS = ":tensorflow:cc:saved_model:load_attempt_count"
BATCH_SIZE = ":tensorflow:serving:batching_session:processed_batch_size"
LATENCY_BUCKETS = tuple(10 * 1.8**k for k in range(33))
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    items = list(labels) + ([extra] if extra else [])
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += 1
        self.sum += value


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._histograms: dict[str, dict[Labels, _Histogram]] = defaultdict(dict)
        self._help = {
            REQUEST_COUNT: "The total number of requests.",
            REQUEST_LATENCY: "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            LOAD_ATTEMPTS: "The number of times a SavedModel was attempted to be loaded.",
            BATCH_SIZE: "Tracks the batch size distribution on processing.",
        }

    def inc(self, name: str, labels: dict[str, str], amount: float = 1) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0) + amount

    def observe(self, name: str, labels: dict[str, str], value: float, buckets: tuple[float, ...]) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._histograms[name]
            if key not in series:
                series[key] = _Histogram(buckets)
            series[key].observe(value)

    def record_request(
        self, model_name: str, api: str, status: str, latency_us: float | None, entrypoint: str = "REST"
    ) -> None:
        self.inc(REQUEST_COUNT, {"entrypoint": entrypoint, "model_name": model_name, "status": status})
        if latency_us is not None and status == "OK":
            self.observe(
                REQUEST_LATENCY,
                {"API": api, "entrypoint": entrypoint, "model_name": model_name},
                latency_us,
                LATENCY_BUCKETS,
            )

    def record_load(self, model_path: str, status: str) -> None:
        self.inc(LOAD_ATTEMPTS, {"model_path": model_path, "status": status})

    def record_batch(self, size: int) -> None:
        self.observe(BATCH_SIZE, {}, size, BATCH_BUCKETS)

    def exposition(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._counters):
                lines.append(f"# HELP {name} {self._help.get(name, name)}")
                lines.append(f"# TYPE {name} counter")
                for labels, value in sorted(self._counters[name].items()):
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
            for name in sorted(self._histograms):
                lines.append(f"# HELP {name} {self._help.get(name, name)}")
                lines.append(f"# TYPE {name} histogram")
                for labels, hist in sorted(self._histograms[name].items()):
                    for bound, count in zip(hist.buckets, hist.counts, strict=True):
                        lines.append(f"{name}_bucket{_labels(labels, ('le', _number(bound)))} {count}")
                    lines.append(f"{name}_bucket{_labels(labels, ('le', '+Inf'))} {hist.total}")
                    lines.append(f"{name}_sum{_labels(labels)} {_number(hist.sum)}")
                    lines.append(f"{name}_count{_labels(labels)} {hist.total}")
        return "\n".join(lines) + "\n"
