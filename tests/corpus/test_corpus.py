"""Real models made by TensorFlow: savedmodel's outputs equal TensorFlow's for every signature.

The corpus is written by tools/corpus/generate.py (oracle venv). A small subset is committed under
tests/fixtures/corpus/ and always runs; the full corpus (Keras applications etc.) lives in the
gitignored cache .cache/corpus/ (or $SAVEDMODEL_CORPUS_CACHE) and runs when present.
Comparison rules and tolerances: tools/corpus/harness.py. Looser tolerances are declared per output
in each case's case.json with the reason; the ones in use:
- float16_compute / bfloat16_compute: results carry float16/bfloat16 precision and TensorFlow's
  CPU kernels accumulate in float32 in an unspecified order, so the last bit may differ.
- image_codecs_decode "jpeg": decode_jpeg's default dct_method is documented as system-specific
  (TensorFlow: "defaults to '' which maps to a system-specific default"); one level of difference.
- the 8 Keras applications (cache only): rtol 2e-3, atol 1e-3 x the largest logit. TensorFlow documents
  that its oneDNN CPU path gives "slightly different numerical results due to floating-point round-off
  errors from different computation orders"; tools/corpus/tf_spread.py measures TensorFlow's own
  oneDNN-on vs -off outputs on these networks differing by up to 1.2e-3 relative.

Known gaps are listed below and marked xfail(strict=True): the suite stays green, and a test
flips to a failure as soon as the gap closes (or changes), so the lists stay true.
`python -m tools.corpus.pass_rate` prints the current state of every case.
"""

from __future__ import annotations

import pytest

from savedmodel.errors import SavedModelError, UnsupportedOpError
from tools.corpus import harness

# Cases whose load fails with UnsupportedOpError: case -> the exact set of missing ops.
EXPECTED_UNSUPPORTED: dict[str, set[str]] = {}

# Cases that load but whose outputs differ from TensorFlow's: case -> what differs.
# (image_codecs_decode matches TensorFlow's default fast-IDCT decode_jpeg through simplejpeg, which
# the test extra installs; with Pillow alone it would differ by up to 7 levels.)
EXPECTED_MISMATCH: dict[str, str] = {}

# Cases that raise another savedmodel error: case -> the error.
EXPECTED_ERROR: dict[str, str] = {}

# Committed cases that are tracked as gaps but expected to pass soon (a kernel is being written).
SOON: set[str] = set()

COMMITTED = harness.discover(harness.COMMITTED_DIR)
CACHED = {k: v for k, v in harness.discover(harness.CACHE_DIR).items() if k not in COMMITTED}


def _params(cases: dict, committed: bool) -> list:
    params = []
    for name, directory in sorted(cases.items()):
        marks = [] if committed else [pytest.mark.slow]
        if name in EXPECTED_UNSUPPORTED:
            reason = "missing kernels: " + ", ".join(sorted(EXPECTED_UNSUPPORTED[name]))
            marks.append(pytest.mark.xfail(strict=True, raises=UnsupportedOpError, reason=reason))
        elif name in EXPECTED_MISMATCH:
            marks.append(
                pytest.mark.xfail(strict=True, raises=AssertionError, reason=EXPECTED_MISMATCH[name])
            )
        elif name in EXPECTED_ERROR:
            marks.append(pytest.mark.xfail(strict=True, raises=SavedModelError, reason=EXPECTED_ERROR[name]))
        params.append(pytest.param(directory, id=name, marks=marks))
    return params


def check(directory) -> None:
    case = harness.load_case(directory)
    try:
        actual = harness.run_case(case)
    except UnsupportedOpError as exc:
        expected = EXPECTED_UNSUPPORTED.get(case.name)
        if expected is not None and set(exc.missing) != expected:
            pytest.fail(
                f"{case.name}: the missing ops changed; update EXPECTED_UNSUPPORTED to "
                f"{sorted(exc.missing)} (was {sorted(expected)})"
            )
        raise
    mismatches = harness.compare(case, actual)
    assert not mismatches, f"{case.name}: " + "; ".join(map(str, mismatches))


@pytest.mark.parametrize("directory", _params(COMMITTED, committed=True))
def test_committed_case_matches_tensorflow(directory) -> None:
    check(directory)


@pytest.mark.parametrize(
    "directory",
    _params(CACHED, committed=False)
    or [
        pytest.param(
            None, marks=pytest.mark.skip(reason="no corpus cache (tools/corpus/generate.py writes it)")
        )
    ],
)
def test_cached_case_matches_tensorflow(directory) -> None:
    check(directory)


def test_committed_subset_is_small_and_expected_to_pass() -> None:
    """CI's subset: under 2 MB, and only cases that pass (or are tracked as expected to pass soon)."""
    total = sum(f.stat().st_size for f in harness.COMMITTED_DIR.rglob("*") if f.is_file())
    assert total < 2_000_000, f"tests/fixtures/corpus is {total} bytes"
    assert len(COMMITTED) >= 5
    tracked = set(EXPECTED_UNSUPPORTED) | set(EXPECTED_MISMATCH) | set(EXPECTED_ERROR)
    assert not tracked & set(COMMITTED) - SOON, sorted(tracked & set(COMMITTED) - SOON)


def test_string_tensors_round_trip_through_npz(tmp_path) -> None:
    import numpy as np

    from tools.corpus import npzio

    values = {
        "sig/s": np.array([[b"a\x00", b""], [b"\xff\x00\x00", b"xyz"]], dtype=object),
        "sig/f": np.arange(3, dtype=np.float16),
    }
    npzio.save(tmp_path / "t.npz", values)
    back = npzio.load(tmp_path / "t.npz")
    assert back["sig/s"].dtype == object and back["sig/s"].tolist() == values["sig/s"].tolist()
    assert back["sig/f"].dtype == np.float16


def test_frozen_graph_def_gives_the_wrapping_saved_models_outputs() -> None:
    """tf1_frozen_cnn/frozen.pb (the GraphDef itself) run through the TF1 façade, fed by tensor name."""
    import numpy as np

    import savedmodel.compat.v1 as tf1
    from savedmodel.proto import graph_pb2

    directory = harness.COMMITTED_DIR / "tf1_frozen_cnn"
    case = harness.load_case(directory)
    graph_def = graph_pb2.GraphDef()
    graph_def.ParseFromString((directory / "frozen.pb").read_bytes())
    graph = tf1.Graph()
    graph.import_graph_def(graph_def)
    with tf1.Session(graph=graph) as sess:
        probabilities, logits = sess.run(
            ["probabilities:0", "logits:0"],
            feed_dict={"images:0": case.inputs["serving_default"]["images"]},
        )
    expected = case.expected["serving_default"]
    for name, value in (("probabilities", probabilities), ("logits", logits)):
        assert harness.compare_output(name, np.asarray(value), expected[name], {}) is None


def test_pass_rate_command_reports_models_and_total(tmp_path, capsys) -> None:
    from tools.corpus import pass_rate

    report = tmp_path / "report.md"
    status = pass_rate.main(
        [str(harness.COMMITTED_DIR), "--only", "tf1_frozen_cnn,string_hash", "--markdown", str(report)]
    )
    printed = capsys.readouterr().out
    assert status == 0
    assert "tf1_frozen_cnn" in printed and "PASS" in printed
    assert "**Pass rate: 2/2 (100%)** PASS 2" in report.read_text()


def test_pass_rate_classifies_missing_kernels_as_unsupported(tmp_path, monkeypatch) -> None:
    """A model whose kernel is missing is UNSUPPORTED, listing the op, not an ERROR."""
    import shutil

    from savedmodel.ops import registry
    from tools.corpus import pass_rate

    shutil.copytree(harness.COMMITTED_DIR / "tf1_frozen_cnn", tmp_path / "tf1_frozen_cnn")
    real_lookup = registry.lookup

    def without_softmax(op: str):  # the runtime asks the registry for each op's kernel
        return None if op == "Softmax" else real_lookup(op)

    monkeypatch.setattr(registry, "lookup", without_softmax)
    result = pass_rate.evaluate_with_timeout(tmp_path / "tf1_frozen_cnn", 60)
    assert result.status == "UNSUPPORTED" and result.missing_ops == ["Softmax"], result
