"""Write a set of kernel golden cases (make_kernel_goldens.CASES) to its own fixture directory.

make_kernel_goldens.py writes tests/fixtures/kernels; sibling scripts (make_random_goldens.py,
make_jpeg_goldens.py) register cases with make_kernel_goldens.case and write them with
write_golden_set into tests/fixtures/kernels_<name>/, in the same format (cases.json.gz and a
<family>.npz per family), so each set regenerates on its own. tests/ops/golden.py reads them all.
"""

from __future__ import annotations

from pathlib import Path

import make_kernel_goldens as mk


def write_golden_set(out: Path) -> int:
    """Run every registered case with TensorFlow and write the set to `out`; the number of broken
    case definitions (reported, skipped)."""
    return mk.write_cases(out, mk.CASES)
