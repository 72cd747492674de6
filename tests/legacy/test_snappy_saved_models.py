"""Real SavedModels whose variables.index has Snappy-compressed blocks load and match TensorFlow."""

from __future__ import annotations

import pytest

import savedmodel

from .helpers import REALWORLD, assert_equal_golden, decode, goldens

CASES = [
    (model, key)
    for model, signatures in sorted(goldens()["saved_models"].items())
    for key in sorted(signatures)
]


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: savedmodel.load(REALWORLD / name) for name in goldens()["saved_models"]}


def test_every_snappy_model_is_covered() -> None:
    assert len(goldens()["saved_models"]) == 7


@pytest.mark.parametrize(("model", "key"), CASES)
def test_signature_matches_tensorflow(models: dict, model: str, key: str) -> None:
    case = goldens()["saved_models"][model][key]
    inputs = {k: decode(v) for k, v in case["inputs"].items()}
    result = models[model].signatures[key](**inputs)
    assert set(result) == set(case["outputs"])
    for name, entry in case["outputs"].items():
        assert_equal_golden(result[name], entry, f"{model} {key} {name}")
