"""The UnicodeScript table (savedmodel/ops/_unicode_script.py, derived from TensorFlow) is well formed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from savedmodel.ops import _unicode_script
from savedmodel.ops.strings import _unicode_script as unicode_script


def test_table_is_sorted_ranges_covering_all_code_points() -> None:
    starts, codes = _unicode_script.STARTS, _unicode_script.CODES
    assert len(starts) == len(codes) and starts[0] == 0
    assert all(a < b for a, b in zip(starts, starts[1:], strict=False))
    assert starts[-1] <= 0x10FFFF
    assert all(a != b for a, b in zip(codes, codes[1:], strict=False))  # runs are maximal


def test_table_stays_small() -> None:
    assert Path(_unicode_script.__file__).stat().st_size < 60_000


def test_lookup_keeps_shape_and_marks_invalid_points() -> None:
    points = np.array([[0x41, 0x3B1, 0x4E00], [-1, 0x110000, 0x10FFFF]], dtype=np.int32)
    out = unicode_script(None, points)
    assert out.dtype == np.int32 and out.shape == (2, 3)
    assert out[0].tolist() == [25, 14, 17]  # Latin, Greek, Han (ICU UScriptCode)
    assert out[1, :2].tolist() == [-1, -1]
