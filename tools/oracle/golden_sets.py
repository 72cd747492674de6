"""Write a set of kernel golden cases (make_kernel_goldens.CASES) to its own fixture directory.

make_kernel_goldens.py writes tests/fixtures/kernels; sibling scripts (make_random_goldens.py,
make_jpeg_goldens.py) register cases with make_kernel_goldens.case and write them with
write_golden_set into tests/fixtures/kernels_<name>/, in the same format (cases.json.gz and a
<family>.npz per family), so each set regenerates on its own. tests/ops/golden.py reads them all.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import make_kernel_goldens as mk


def write_golden_set(out: Path) -> int:
    """Run every registered case with TensorFlow and write the set to `out`; the number of broken
    case definitions (reported, skipped)."""
    store = mk.Store()
    entries: list[dict] = []
    seen: dict[str, int] = {}
    broken = 0
    for c in mk.CASES:
        base = f"{c.op}.{c.name}" if c.name else c.op
        seen[base] = seen.get(base, 0) + 1
        cid = base if seen[base] == 1 else f"{base}.{seen[base]}"
        try:
            entry = mk.run_case(c)
        except Exception as exc:  # a broken case definition: report it, keep going
            print(f"BROKEN CASE {cid}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            broken += 1
            continue
        entry["id"] = cid
        entry["inputs"] = [store.ref(c.family, f"{cid}/i{k}", x) for k, x in enumerate(entry["inputs"])]
        if "outputs" in entry:
            entry["outputs"] = [store.ref(c.family, f"{cid}/o{k}", x) for k, x in enumerate(entry["outputs"])]
        entries.append(entry)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.npz"):
        old.unlink()
    for family, arrays in store.arrays.items():
        mk._write_npz(out / f"{family}.npz", arrays)
    doc = {"tensorflow": mk.tf.__version__, "cases": entries}
    text = json.dumps(doc, indent=0, separators=(",", ":")) + "\n"
    (out / "cases.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
    errors = sum(1 for e in entries if "error" in e)
    print(f"wrote {len(entries)} cases ({errors} expected errors) to {out}")
    return broken
