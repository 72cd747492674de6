"""Programs run both with savedmodel.tf and with TensorFlow (tests/fixtures/api/programs/*.txt), and
how their outputs are compared: `show --all` text and SavedObjectGraph/keras_metadata normalised
only where TF's own output is arbitrary (function-name suffixes and what follows from them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from savedmodel.proto import saved_metadata_pb2, saved_object_graph_pb2
from tests.conftest import FIXTURES

API_FIXTURES = FIXTURES / "api"
PROGRAM_DIR = API_FIXTURES / "programs"
PROGRAMS = {path.stem: path.read_text() for path in sorted(PROGRAM_DIR.glob("*.txt"))}
KERAS = [name for name in PROGRAMS if name.startswith("keras-")]
KERAS_INPUT = [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]
KERAS_INPUTS: dict[str, Any] = {
    "keras-sequential": KERAS_INPUT,
    "keras-functional": KERAS_INPUT,
    "keras-two-inputs": {"inputs": [[[1.0, 2.0], [-1.0, 0.5]], [[0.5, 0.5], [2.0, -1.0]]]},
}

SUFFIX = re.compile(r"\b(__inference_\w*?)_\d+\b")
OPS_LINE = re.compile(r"^(The MetaGraph with tag set .* contains the following ops: )(\{.*\})$", re.M)
_OPTION = re.compile(r"^    Option #\d+$")


def keras_batch(name: str) -> Any:
    given = KERAS_INPUTS[name]
    if isinstance(given, dict):
        return [np.array(x, np.float32) for x in given["inputs"]]
    return np.array(given, np.float32)


def run_program(tf: Any, name: str, out: Path) -> dict[str, Any]:
    """Run a program with `tf` (savedmodel.tf) writing to OUT; returns its namespace."""
    namespace: dict[str, Any] = {"tf": tf, "OUT": str(out), "__name__": "__program__"}
    exec(compile(PROGRAMS[name], str(PROGRAM_DIR / f"{name}.txt"), "exec"), namespace)
    return namespace


def op_names(text: str) -> list[str]:
    """The op names of a printed Python set of strings (parsed, never evaluated)."""
    return sorted(set(re.findall(r"'([^']*)'", text)))


def ops_as_set(text: str) -> str:
    return OPS_LINE.sub(lambda m: m.group(1) + repr(op_names(m.group(2))), text.rstrip("\n"))


def normalise_show(text: str) -> str:
    """Suffixes, the op set, and the order of a function's Options (saved_model_cli sorts them by
    the names TF's loader gives the functions: by their numeric suffixes, as strings)."""
    return _sort_options(SUFFIX.sub(r"\1_N", ops_as_set(text)))


def _sort_options(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _OPTION.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        options: list[list[str]] = []
        while i < len(lines) and _OPTION.match(lines[i]):
            block: list[str] = []
            i += 1
            while i < len(lines) and lines[i].startswith("      "):
                block.append(lines[i])
                i += 1
            options.append(block)
        for n, block in enumerate(sorted(options), 1):
            out.append(f"    Option #{n}")
            out.extend(block)
    return "\n".join(out)


def object_graph_text(graph: saved_object_graph_pb2.SavedObjectGraph) -> list[str]:
    """Every node, then every concrete function by (normalised) name, as text lines."""
    from google.protobuf import text_format

    text = "".join(text_format.MessageToString(node) for node in graph.nodes)
    functions = sorted(
        SUFFIX.sub(r"\1_N", f"{name}\n{text_format.MessageToString(saved)}")
        for name, saved in graph.concrete_functions.items()
    )
    return SUFFIX.sub(r"\1_N", text + "".join(functions)).splitlines()


def keras_metadata(data: bytes) -> dict[int, tuple]:
    """keras_metadata.pb's nodes; metadata JSON without tf-keras's shared_object_id bookkeeping."""
    meta = saved_metadata_pb2.SavedMetadata.FromString(data)

    def without_ids(value: object) -> object:
        if isinstance(value, dict):
            return {k: without_ids(v) for k, v in value.items() if k != "shared_object_id"}
        if isinstance(value, list):
            return [without_ids(v) for v in value]
        return value

    return {
        node.node_id: (
            node.node_path,
            node.identifier,
            node.version.producer,
            node.version.min_consumer,
            without_ids(json.loads(node.metadata)),
        )
        for node in meta.nodes
    }
