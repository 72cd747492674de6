"""A > 1 MB tf-keras model, generated on demand by the oracle into .cache/ (not committed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from savedmodel.format import bundle, checkpoint, fingerprint
from savedmodel.format.bundle import BundleReader, BundleWriter

from .helpers import CACHE, big_keras_model, matches_golden

pytestmark = [pytest.mark.oracle, pytest.mark.slow]


def test_big_keras_model(oracle_python, tmp_path) -> None:
    model = big_keras_model(oracle_python)
    expected = json.loads((CACHE / "keras-big.golden.json").read_text())["bundles"][
        "keras-big/variables/variables"
    ]
    prefix = model / "variables" / "variables"
    assert bundle.data_path(prefix, 0, 1).stat().st_size > 1_000_000
    with checkpoint.CheckpointReader(model) as reader:
        assert reader.list_variables() == [(n, s) for n, s in expected["list_variables"]]
        for name, want in expected["tensors"].items():
            assert matches_golden(reader.get_tensor(name), want), name
        kernel = reader.get_object_variable("layer_with_weights-0/kernel")
        assert kernel.shape == (256, 1024) and not kernel.flags.owndata  # memory-mapped
    with BundleReader(prefix) as reader, BundleWriter(tmp_path / "copy") as writer:
        for name, entry in sorted(reader.entries().items(), key=lambda kv: kv[1].offset):
            writer.add(name, reader.read(name), dtype=entry.dtype)
    assert (tmp_path / "copy.index").read_bytes() == bundle.index_path(prefix).read_bytes()
    assert np.array_equal(
        np.fromfile(bundle.data_path(tmp_path / "copy", 0, 1), np.uint8),
        np.fromfile(bundle.data_path(prefix, 0, 1), np.uint8),
    )
    stored = fingerprint.read_fingerprint(model)
    assert fingerprint.compute_fingerprint(model).singleprint() == stored.singleprint()
