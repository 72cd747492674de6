"""Regenerate savedmodel/proto/*_pb2.py from the .proto schemas.

Usage: python tools/gen_protos.py

Needs grpcio-tools (which bundles protoc and the gRPC stub generator). The pinned version decides the
protobuf gencode version, and so the lowest protobuf runtime we support:
grpcio-tools 1.75.1 emits gencode for protobuf 6.31.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "savedmodel" / "proto"
GRPC_TOOLS = "grpcio-tools==1.75.1"


def _has_service(path: Path) -> bool:
    return any(line.startswith("service ") for line in path.read_text().splitlines())


def main() -> int:
    try:
        import grpc_tools  # noqa: F401
        from grpc_tools import protoc
    except ImportError:
        print(f"grpcio-tools is missing: pip install {GRPC_TOOLS}", file=sys.stderr)
        return 1
    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(ROOT)) for p in PROTO_DIR.glob("*.proto"))
    for stale in PROTO_DIR.glob("*_pb2.py*"):
        stale.unlink()
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={ROOT}", f"--pyi_out={ROOT}", *protos]
    rc = protoc.main(args)
    if rc != 0:
        return rc
    # gRPC stubs for the services only (clients and tests; the server registers its methods by hand).
    services = [str(p.relative_to(ROOT)) for p in PROTO_DIR.glob("*.proto") if _has_service(p)]
    for stale in PROTO_DIR.glob("*_pb2_grpc.py"):
        stale.unlink()
    rc = protoc.main(["protoc", f"-I{ROOT}", f"-I{include}", f"--grpc_python_out={ROOT}", *services])
    if rc != 0:
        return rc
    print(f"generated {len(protos)} modules in {PROTO_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
