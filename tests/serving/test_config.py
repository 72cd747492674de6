"""The ModelServerConfig text-format subset and version policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from savedmodel.errors import InvalidInputError
from savedmodel.serving.config import VersionPolicy, parse_model_config, parse_text_proto
from savedmodel.serving.manager import version_directories

CONFIG = """
# two models
model_config_list {
  config {
    name: 'half'
    base_path: "/models/half"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 2 }
  }
  config: {
    name: "all"
    base_path: "/models/all"
    model_version_policy: { all: {} }
  }
  config < name: "latest3" base_path: "/m" model_version_policy { latest { num_versions: 3 } } >
}
"""


def test_parse_model_config():
    half, every, latest = parse_model_config(CONFIG)
    assert half.name == "half" and half.base_path == Path("/models/half")
    assert half.version_policy == VersionPolicy(kind="specific", versions=(1, 2))
    assert half.version_labels == {"stable": 1, "canary": 2}
    assert every.version_policy.kind == "all"
    assert latest.version_policy == VersionPolicy(kind="latest", num_versions=3)


def test_default_policy_is_latest_one():
    (model,) = parse_model_config('model_config_list { config { name: "m" base_path: "/b" } }')
    assert model.version_policy.select([3, 1, 10, 2]) == [10]
    assert VersionPolicy("latest", 2).select([3, 1, 10]) == [3, 10]
    assert VersionPolicy("all").select([3, 1]) == [1, 3]
    assert VersionPolicy("specific", versions=(1, 7)).select([1, 2, 3]) == [1]


def test_text_proto_lists_and_escapes():
    parsed = parse_text_proto('a: [1, 2, 3] b: "x\\"y\\n" c { d: -4.5 e: IDENT }')
    assert parsed["a"] == [1, 2, 3]
    assert parsed["b"] == ['x"y\n']
    assert parsed["c"][0] == {"d": [-4.5], "e": ["IDENT"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model_config_list { config { name: 'm' } }", "needs a base_path"),
        ("model_config_list { config { base_path: '/x' } }", "needs a name"),
        (
            "model_config_list { config { name: 'm' base_path: '/x' model_platform: 'onnx' } }",
            "not supported",
        ),
        ("model_config_list { config { name: 'm' base_path: '/x' bogus: 1 } }", "unsupported field(s) bogus"),
        ("model_config_list { config { name: 'm' base_path: '/x'", "missing '}'"),
        (
            "model_config_list { config { name: 'm' base_path: '/x' "
            "model_version_policy { latest {} all {} } } }",
            "exactly one",
        ),
        (
            "model_config_list { config { name: 'm' base_path: '/x' "
            "version_labels { key: 'a' value: 'b' } } }",
            "must be an integer",
        ),
        ("model_config_list { }", "no models configured"),
        (
            "model_config_list { config { name: 'm' base_path: '/x' } config { name: 'm' base_path: '/y' } }",
            "appears twice",
        ),
        ("__import__('os')", "unexpected character"),
    ],
)
def test_config_errors(text: str, message: str):
    with pytest.raises(InvalidInputError, match=None) as info:
        parse_model_config(text, "models.config")
    assert message in str(info.value)


def test_version_directories_ignore_non_numeric(tmp_path: Path):
    for name in ("1", "12", "abc", "3x", ".staging-4"):
        (tmp_path / name).mkdir()
    (tmp_path / "5").write_text("a file, not a version")
    assert sorted(version_directories(tmp_path)) == [1, 12]
    assert version_directories(tmp_path / "missing") == {}
