"""Models other projects checked into public repositories: savedmodel answers as TensorFlow 2.21 does.

The models, their sources and TensorFlow's recorded answers are under tests/fixtures/realworld/
(see its README; goldens by tools/oracle/make_realworld_goldens.py). Each test replays one case's
runs in the recorded order (tools/realworld/harness.py) and compares every run TensorFlow executed.
Runs TensorFlow itself fails (a GPU-pinned graph, a TensorRT op) are not compared; the report
`python -m tools.realworld.report` lists them.

Known gaps are strict xfails: a case listed here must still fail, so the list stays true.
"""

from __future__ import annotations

import pytest

from tools.realworld import harness

# case -> why it still differs from TensorFlow.
EXPECTED_FAIL: dict[str, str] = {}

CASES = harness.discover()


def _params() -> list:
    params = []
    for name, directory in CASES.items():
        marks = []
        if name in EXPECTED_FAIL:
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=EXPECTED_FAIL[name]))
        params.append(pytest.param(directory, id=name, marks=marks))
    return params


def test_fixtures_have_goldens() -> None:
    folders = {p.name for p in harness.FIXTURES.iterdir() if p.is_dir()}
    assert folders == set(CASES), f"folders without case.json: {sorted(folders - set(CASES))}"
    assert len(CASES) >= 60


@pytest.mark.parametrize("directory", _params())
def test_matches_tensorflow(directory) -> None:
    case = harness.load_case(directory)
    failures = [
        f"{o.status} {o.run.label}: {o.detail}"
        for o in harness.evaluate(case)
        if o.status not in ("PASS", "TF_ERROR")
    ]
    assert not failures, "\n".join(failures)
