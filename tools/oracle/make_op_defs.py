"""Write savedmodel/graph/tf_op_defs.pb.gz: the OpDef of every op TensorFlow registers.

Run with the oracle venv (TensorFlow 2.21):

    tools/oracle/.venv/bin/python tools/oracle/make_op_defs.py

The file is a gzip-compressed, serialized OpList with the docs (summary,
description, arg and attr descriptions) cleared, sorted by op name, written with
mtime 0 so the same TensorFlow gives the same bytes. savedmodel reads it for the
output layout of ops (how many outputs, which dtypes) and the default values of
attrs when a GraphDef carries no OpDefs of its own (frozen graphs).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api

OUT = Path(__file__).resolve().parents[2] / "savedmodel" / "graph" / "tf_op_defs.pb.gz"


def all_op_defs() -> op_def_pb2.OpList:
    buffer = c_api.TF_GetAllOpList()
    try:
        registered = op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(buffer))
    finally:
        c_api.TF_DeleteBuffer(buffer)
    out = op_def_pb2.OpList()
    for op in sorted(registered.op, key=lambda o: o.name):
        copy = out.op.add()
        copy.CopyFrom(op)
        copy.ClearField("summary")
        copy.ClearField("description")
        for arg in list(copy.input_arg) + list(copy.output_arg):
            arg.ClearField("description")
        for attr in copy.attr:
            attr.ClearField("description")
    return out


def main() -> None:
    data = all_op_defs().SerializeToString(deterministic=True)
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as stream:
        stream.write(data)
    OUT.write_bytes(raw.getvalue())
    print(f"wrote {OUT} ({len(data)} bytes uncompressed, {len(raw.getvalue())} compressed)")


if __name__ == "__main__":
    main()
