"""DecodeJpeg/DecodeImage with TensorFlow's default dct_method (libjpeg's fast integer IDCT) are
pixel-exact with TensorFlow when simplejpeg (libjpeg-turbo) is installed; without it they fall
back to Pillow's accurate IDCT, within the goldens' stated tolerance."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.ops import golden

pytest.importorskip("PIL")

_FAST = [
    c
    for c in golden.cases()
    if c["op"] in ("DecodeJpeg", "DecodeImage")
    and "outputs" in c
    and c.get("atol") == 8  # the default-dct JPEG cases (lossy note)
]


def test_there_are_default_dct_cases() -> None:
    assert {c["op"] for c in _FAST} == {"DecodeJpeg", "DecodeImage"}


@pytest.mark.parametrize("entry", _FAST, ids=[c["id"] for c in _FAST])
def test_default_dct_is_pixel_exact_with_simplejpeg(entry: dict) -> None:
    pytest.importorskip("simplejpeg")
    (got,) = golden.run(entry)
    (expected,) = [golden.array(ref, entry["family"]) for ref in entry["outputs"]]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("entry", _FAST, ids=[c["id"] for c in _FAST])
def test_without_simplejpeg_pillow_stays_within_tolerance(
    entry: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "simplejpeg", None)  # import fails -> Pillow path
    (got,) = golden.run(entry)
    (expected,) = [golden.array(ref, entry["family"]) for ref in entry["outputs"]]
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 8
