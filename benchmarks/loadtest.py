"""Load test for `savedmodel serve`: latency percentiles and throughput over loopback, REST and gRPC.

Starts `savedmodel serve` as a subprocess on 127.0.0.1 (free ports; loopback only) with
both the REST API and gRPC (--port), sends the same predict request at concurrency 1, 8
and 32 (each level bounded by --requests and --max-seconds) over REST (JSON, httpx) and
over gRPC (PredictRequest with a TensorProto, grpcio with our generated stubs), and prints
p50/p99 latency and throughput side by side, plus the server overhead: served p50 latency
at concurrency 1 minus the p50 of calling the same signature in-process (no transport).

    python benchmarks/loadtest.py                          # tests/fixtures/serving/half_plus_n version 1
    python benchmarks/loadtest.py --saved_model DIR --body '{"instances": [[1.0, 2.0]]}'
    python benchmarks/loadtest.py --enable_batching --max_batch_size 32 --batch_timeout_micros 2000
    python benchmarks/loadtest.py --protocols rest      # REST only (no grpcio needed)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "tests" / "fixtures" / "serving" / "half_plus_n" / "1"
DEFAULT_BODY = '{"instances": [1.0, 2.0, 5.0]}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def in_process_latency(model_dir: Path, body: str, runs: int) -> float:
    """p50 seconds of Servable.run for the same request, without HTTP or JSON."""
    sys.path.insert(0, str(ROOT))
    from savedmodel.serving import json_tensor
    from savedmodel.serving.model import DEFAULT_SIGNATURE, load_servable

    servable = load_servable(model_dir)
    doc = json_tensor.parse_json_object(body.encode())
    key = json_tensor.signature_name_of(doc) or DEFAULT_SIGNATURE
    inputs, _ = json_tensor.predict_request_tensors(doc, servable.input_dtypes(key), key)
    for _ in range(min(20, runs)):
        servable.run(key, inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        servable.run(key, inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rest_sender(url: str, body: str):  # noqa: ANN201 - a per-worker factory of send() -> ok
    """One keep-alive http.client connection per worker: a light client, so that at concurrency
    32 the client's own CPU (httpx: ~1 ms a request under the GIL) does not dominate."""
    parsed = urllib.parse.urlsplit(url)
    data = body.encode()
    headers = {"content-type": "application/json"}

    def open_worker():  # noqa: ANN202
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

        def send() -> bool:
            connection.request("POST", parsed.path, data, headers)
            response = connection.getresponse()
            response.read()
            return response.status == 200

        return send, connection.close

    return open_worker


def grpc_sender(target: str, model_dir: Path, body: str):  # noqa: ANN201
    import grpc

    sys.path.insert(0, str(ROOT))
    from savedmodel.format import tensor as tensor_format
    from savedmodel.proto import prediction_service_pb2_grpc, serving_apis_pb2
    from savedmodel.serving import json_tensor
    from savedmodel.serving.model import DEFAULT_SIGNATURE, read_signature_defs

    doc = json_tensor.parse_json_object(body.encode())
    key = json_tensor.signature_name_of(doc) or DEFAULT_SIGNATURE
    signature = read_signature_defs(model_dir)[key]
    dtypes = {name: info.dtype for name, info in signature.inputs.items()}
    inputs, _ = json_tensor.predict_request_tensors(doc, dtypes, key)
    request = serving_apis_pb2.PredictRequest()
    request.model_spec.name = "bench"
    request.model_spec.signature_name = key
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tensor_format.from_numpy(array, dtypes[name]))

    def open_worker():  # noqa: ANN202
        channel = grpc.insecure_channel(target)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def send() -> bool:
            try:
                stub.Predict(request, 30)
                return True
            except grpc.RpcError:
                return False

        return send, channel.close

    return open_worker


def run_level(open_worker, concurrency: int, max_requests: int, max_seconds: float) -> dict:  # noqa: ANN001
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    issued = 0
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        nonlocal issued, errors
        send, close = open_worker()
        try:
            while True:
                with lock:
                    if issued >= max_requests or time.perf_counter() > deadline:
                        return
                    issued += 1
                start = time.perf_counter()
                ok = send()
                elapsed = time.perf_counter() - start
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1
        finally:
            close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "throughput_rps": len(latencies) / wall if wall else 0.0,
    }


def start_server(base: Path, port: int, grpc_port: int, args: argparse.Namespace) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "savedmodel", "serve",
        "--model_name", "bench", "--model_base_path", str(base),
        "--host", "127.0.0.1", "--rest_api_port", str(port), "--port", str(grpc_port),
        "--file_system_poll_wait_seconds", "0", "--log_level", "warning",
    ]  # fmt: skip
    if args.enable_batching:
        command += [
            "--enable_batching",
            "--max_batch_size", str(args.max_batch_size),
            "--batch_timeout_micros", str(args.batch_timeout_micros),
        ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            status = httpx.get(url, timeout=2).json()
            states = [v["state"] for v in status.get("model_version_status", [])]
            if "AVAILABLE" in states:
                return
            if states and all(s == "END" for s in states):
                raise SystemExit(f"model failed to load: {status}")
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--saved_model", type=Path, default=DEFAULT_MODEL, help="one SavedModel version directory"
    )
    parser.add_argument("--body", default=DEFAULT_BODY, help="predict request body (JSON)")
    parser.add_argument("--requests", type=int, default=2000, help="max requests per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=15.0, help="max seconds per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--enable_batching", action="store_true")
    parser.add_argument("--max_batch_size", type=int, default=32)
    parser.add_argument("--batch_timeout_micros", type=int, default=1000)
    parser.add_argument("--protocols", default="rest,grpc", help="comma-separated: rest, grpc")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)

    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    in_process = in_process_latency(args.saved_model, args.body, runs=min(args.requests, 1000))
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="savedmodel-loadtest-") as tmp:
        base = Path(tmp) / "bench"
        shutil.copytree(args.saved_model, base / "1")
        port, grpc_port = free_port(), free_port()
        proc = start_server(base, port, grpc_port if "grpc" in protocols else 0, args)
        try:
            wait_ready(f"http://127.0.0.1:{port}/v1/models/bench", proc)
            senders = {
                "rest": lambda: rest_sender(f"http://127.0.0.1:{port}/v1/models/bench:predict", args.body),
                "grpc": lambda: grpc_sender(f"127.0.0.1:{grpc_port}", args.saved_model, args.body),
            }
            for protocol in protocols:
                open_worker = senders[protocol]()
                run_level(open_worker, 1, 50, 5)  # warm-up
                results[protocol] = [
                    run_level(open_worker, c, args.requests, args.max_seconds) for c in levels
                ]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    overhead = {
        protocol: next((r["p50_ms"] for r in rows if r["concurrency"] == 1), float("nan")) - in_process * 1000
        for protocol, rows in results.items()
    }
    summary = {
        "model": str(args.saved_model),
        "batching": args.enable_batching,
        "in_process_p50_ms": in_process * 1000,
        "server_overhead_p50_ms": overhead,
        "levels": results,
    }
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"model: {summary['model']}  batching: {summary['batching']}  cpus: {os.cpu_count()}")
    header = ("protocol", "conc", "requests", "errors", "p50 ms", "p99 ms", "req/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (8, 5, 9, 7, 9, 9, 9), strict=True)))
    for level in range(len(levels)):
        for protocol, rows in results.items():
            r = rows[level]
            print(
                f"{protocol:>8} {r['concurrency']:>5} {r['requests']:>9} {r['errors']:>7} "
                f"{r['p50_ms']:>9.3f} {r['p99_ms']:>9.3f} {r['throughput_rps']:>9.1f}"
            )
    print(f"in-process p50: {summary['in_process_p50_ms']:.3f} ms")
    for protocol, value in overhead.items():
        print(f"{protocol} server overhead (served p50 at concurrency 1 - in-process p50): {value:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
