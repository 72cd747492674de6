"""Write a >= 500 MB TensorBundle with BundleWriter, read every tensor back, report peak RSS.

    python benchmarks/bench_bundle_read.py [--size-mb 512] [--tensor-mb 32] [--touch]

The reader returns large tensors as read-only views of a memory map of the
shard, so reading must not allocate a second copy: peak anonymous memory stays
near zero whatever the bundle's size. With --touch every value is summed,
which faults the file's pages in (they count as shared, file-backed RSS that
the kernel can drop, not as a copy). Each phase runs in a fresh process so its
peak RSS is its own. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MB = 1 << 20


def _rss_now() -> dict[str, int]:
    """Current RSS split into anonymous and file-backed parts (Linux), in bytes."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS", "RssAnon", "RssFile", "VmHWM")):
                name, value = line.split(":")
                fields[name] = int(value.split()[0]) * 1024
    return fields


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_phase(prefix: str, size_mb: int, tensor_mb: int) -> dict:
    from savedmodel.format.bundle import BundleWriter

    count = max(1, size_mb // tensor_mb)
    elements = tensor_mb * MB // 4
    started = time.perf_counter()
    with BundleWriter(prefix) as writer:
        for i in range(count):
            writer.add(f"layer_{i:04d}/kernel", np.full(elements, i, dtype=np.float32))
        writer.add("names", np.array([b"a", b"bc"], dtype=object))
    return {"seconds": time.perf_counter() - started, "peak_rss": _peak_rss(), "tensors": count + 1}


def read_phase(prefix: str, touch: bool) -> dict:
    from savedmodel.format.bundle import BundleReader

    baseline = _rss_now()
    started = time.perf_counter()
    checksum = 0.0
    peak_anon = baseline.get("RssAnon", 0)
    with BundleReader(prefix) as reader:
        keys = reader.keys()
        arrays = [reader.read(key) for key in keys]  # keep them all alive at once
        for array in arrays:
            if touch and array.dtype != object:
                checksum += float(array.sum(dtype=np.float64))
            peak_anon = max(peak_anon, _rss_now().get("RssAnon", 0))
        mapped = sum(1 for a in arrays if a.dtype != object and not a.flags.owndata)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss": _peak_rss(),
        "baseline_rss": baseline.get("VmRSS", 0),
        "baseline_anon": baseline.get("RssAnon", 0),
        "peak_anon": peak_anon,
        "end": _rss_now(),
        "tensors": len(keys),
        "memory_mapped": mapped,
        "checksum": checksum,
    }


def _child(phase: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--tensor-mb", type=int, default=32)
    parser.add_argument("--touch", action="store_true", help="sum every tensor after reading it")
    parser.add_argument("--dir", default=None, help="where to write the bundle (default: a temp dir)")
    parser.add_argument("--phase", choices=["write", "read"], help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "write":
        print(json.dumps(write_phase(args.prefix, args.size_mb, args.tensor_mb)))
        return
    if args.phase == "read":
        print(json.dumps(read_phase(args.prefix, args.touch)))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        prefix = os.path.join(tmp, "variables")
        written = _child(
            "write", "--prefix", prefix, "--size-mb", str(args.size_mb), "--tensor-mb", str(args.tensor_mb)
        )
        file_size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        read = _child("read", "--prefix", prefix, *(["--touch"] if args.touch else []))
        print(f"bundle: {written['tensors']} tensors, {file_size / MB:.1f} MiB on disk")
        print(f"write:  {written['seconds']:.2f} s, peak RSS {written['peak_rss'] / MB:.1f} MiB")
        rate = file_size / MB / max(read["seconds"], 1e-9)
        print(
            f"read:   {read['seconds']:.2f} s ({rate:.0f} MiB/s incl. crc32c), "
            f"{read['memory_mapped']}/{read['tensors']} tensors memory-mapped, touch={args.touch}"
        )
        print(
            f"        peak RSS {read['peak_rss'] / MB:.1f} MiB "
            f"(process baseline {read['baseline_rss'] / MB:.1f} MiB); "
            f"anonymous memory {read['baseline_anon'] / MB:.1f} -> peak {read['peak_anon'] / MB:.1f} MiB; "
            f"file-backed at end {read['end'].get('RssFile', 0) / MB:.1f} MiB"
        )
        extra = read["peak_anon"] - read["baseline_anon"]
        verdict = "no second copy" if extra < 0.05 * file_size else "EXTRA COPY"
        share = 100 * extra / file_size
        print(f"        anonymous growth {extra / MB:.1f} MiB = {share:.2f}% of the file: {verdict}")


if __name__ == "__main__":
    main()
