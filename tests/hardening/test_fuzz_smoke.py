"""CI-sized fuzzing: every harness over a fixed set of mutated inputs, and briefly under atheris.

The deterministic part always runs (CI does not install the `fuzz` extra): the
fixture seeds plus a few hundred seeded byte flips, truncations and splices per
target (saved_model.pb also gets structural graph edits), each under a per-input
timeout. When atheris is importable, each target also runs for a few seconds
under libFuzzer in a subprocess (libFuzzer exits its process when done).
Long runs: `python fuzz/run.py TARGET --seconds N`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fuzz.targets import TARGETS, Crash, available, deterministic_inputs, run_one  # noqa: E402

# Inputs per target in CI (the seeds come on top).
COUNTS = {"saved_model": 1500, "bundle": 500, "tensor": 1000, "input_exprs": 1000, "json_request": 1000}
PER_INPUT_TIMEOUT_S = 10.0
ATHERIS_SECONDS = 3


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_deterministic_mutations_raise_only_typed_errors(name: str) -> None:
    if not available(name):
        pytest.skip(f"{TARGETS[name].module} does not exist yet")
    target = TARGETS[name]
    inputs = deterministic_inputs(target, COUNTS[name])
    assert len(inputs) > COUNTS[name], "the target has no seeds"
    crashes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings from parsing mutated expressions
        for index, data in enumerate(inputs):
            try:
                run_one(target, data, PER_INPUT_TIMEOUT_S)
            except Crash as crash:
                crashes.append(f"{crash} (input #{index} of deterministic_inputs, {data[:80]!r})")
    assert not crashes, "\n".join(crashes[:5])


@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None, reason="atheris (the fuzz extra) not installed"
)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_atheris_short_run(name: str, tmp_path: Path) -> None:
    if not available(name):
        pytest.skip(f"{TARGETS[name].module} does not exist yet")
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            str(ROOT / "fuzz" / "run.py"),
            name,
            "--seconds",
            str(ATHERIS_SECONDS),
            "--no-instrument",
            "--corpus",
            str(tmp_path / "corpus"),
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=ATHERIS_SECONDS + 60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done " in result.stderr, result.stderr[-2000:]
