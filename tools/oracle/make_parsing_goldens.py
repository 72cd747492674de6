"""TensorFlow's outputs of the tf.Example parsing ops on string features (2.21 oracle venv).

    tools/oracle/.venv/bin/python tools/oracle/make_parsing_goldens.py \
        tests/fixtures/runtime/parsing_goldens.json

Covers what the kernel goldens (make_kernel_goldens.py) do not: dense string features (fixed
shape, with and without defaults, variable length padded with the default), sparse and ragged
string features, missing features, for ParseExampleV2 (batch and scalar input), ParseExample and
ParseSingleExample. Each case: the op, its inputs and attrs as plain JSON, TF's outputs in order.
Strings are stored as hex.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def example(**features: Any) -> bytes:
    feats = {}
    for key, value in features.items():
        if value and isinstance(value[0], bytes):
            feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=value))
        elif value and isinstance(value[0], float):
            feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
        elif value:
            feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
        else:
            feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString(deterministic=True)


def encode(value: Any) -> dict[str, Any]:
    raw = value.numpy() if hasattr(value, "numpy") else value
    # dtype=object keeps bytes whole (a fixed-width "S" array would drop trailing NULs)
    array = np.array(raw, dtype=object) if isinstance(raw, bytes) else np.asarray(raw)
    if array.dtype == object:
        flat = [bytes(v).hex() for v in array.reshape(-1)]
        return {"dtype": "string", "shape": list(array.shape), "value": flat}
    return {"dtype": str(array.dtype), "shape": list(array.shape), "value": array.reshape(-1).tolist()}


EXAMPLES = [
    example(
        kind=[b"cat"],
        pair=[b"p", b"q"],
        n=[7],
        tags=[b"a", b"b"],
        words=[b"w1", b"w2", b"w3"],
        seq=[b"s1", b"s2"],
    ),
    example(n=[8], tags=[b"c"], words=[], seq=[b"s3"]),
    example(kind=[b"dog"], pair=[b"r", b"s"], words=[b"w4"], kind2=[b""]),
]


def strings(values: list[bytes] | bytes) -> tf.Tensor:
    return tf.constant(values, dtype=tf.string)


def v2_case(serialized: tf.Tensor, name: str) -> dict[str, Any]:
    dense_keys = ["kind", "pair", "n", "seq", "kind2"]
    defaults = [
        strings(b"none"),
        strings([b"x", b"y"]),
        tf.constant(-1, tf.int64),
        strings(b"pad"),
        strings(b"k2"),
    ]
    dense_shapes = [[], [2], [], [None], []]
    outputs = tf.raw_ops.ParseExampleV2(
        serialized=serialized,
        names=strings([]),
        sparse_keys=strings(["tags"]),
        dense_keys=strings(dense_keys),
        ragged_keys=strings(["words"]),
        dense_defaults=defaults,
        num_sparse=1,
        sparse_types=[tf.string],
        ragged_value_types=[tf.string],
        ragged_split_types=[tf.int32],
        dense_shapes=dense_shapes,
    )
    flat = [t for group in outputs for t in group]
    return {
        "name": name,
        "op": "ParseExampleV2",
        "serialized": encode(serialized),
        "sparse_keys": ["tags"],
        "sparse_types": ["string"],
        "dense_keys": dense_keys,
        "dense_defaults": [encode(d) for d in defaults],
        "dense_shapes": dense_shapes,
        "ragged_keys": ["words"],
        "ragged_value_types": ["string"],
        "ragged_split_types": ["int32"],
        "outputs": [encode(t) for t in flat],
    }


def v1_case() -> dict[str, Any]:
    defaults = [strings(b"none"), strings([b"x", b"y"])]
    outputs = tf.raw_ops.ParseExample(
        serialized=strings(EXAMPLES),
        names=strings([]),
        sparse_keys=[strings("tags")],
        dense_keys=[strings("kind"), strings("pair")],
        dense_defaults=defaults,
        sparse_types=[tf.string],
        dense_shapes=[[], [2]],
    )
    flat = [t for group in outputs for t in group]
    return {
        "name": "parse_example_v1",
        "op": "ParseExample",
        "serialized": encode(strings(EXAMPLES)),
        "sparse_keys": ["tags"],
        "sparse_types": ["string"],
        "dense_keys": ["kind", "pair"],
        "dense_defaults": [encode(d) for d in defaults],
        "dense_shapes": [[], [2]],
        "outputs": [encode(t) for t in flat],
    }


def single_case(index: int) -> dict[str, Any]:
    defaults = [strings(b"none"), strings([b"x", b"y"])]
    outputs = tf.raw_ops.ParseSingleExample(
        serialized=strings(EXAMPLES[index]),
        dense_defaults=defaults,
        num_sparse=1,
        sparse_keys=["tags"],
        dense_keys=["kind", "pair"],
        sparse_types=[tf.string],
        dense_shapes=[[], [2]],
    )
    flat = [t for group in outputs for t in group]
    return {
        "name": f"parse_single_example_{index}",
        "op": "ParseSingleExample",
        "serialized": encode(strings(EXAMPLES[index])),
        "sparse_keys": ["tags"],
        "sparse_types": ["string"],
        "dense_keys": ["kind", "pair"],
        "dense_defaults": [encode(d) for d in defaults],
        "dense_shapes": [[], [2]],
        "outputs": [encode(t) for t in flat],
    }


def main(out: str) -> None:
    cases = [
        v2_case(strings(EXAMPLES), "parse_example_v2_batch"),
        v2_case(strings(EXAMPLES[0]), "parse_example_v2_scalar"),
        v2_case(strings(EXAMPLES[1]), "parse_example_v2_scalar_missing"),
        v1_case(),
        single_case(0),
        single_case(1),
    ]
    doc = {"tensorflow": tf.__version__, "cases": cases}
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/runtime/parsing_goldens.json")
