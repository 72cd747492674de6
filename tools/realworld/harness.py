"""Run the real-world models (tests/fixtures/realworld/) with savedmodel and compare with TensorFlow.

No TensorFlow needed: TensorFlow's answers are in each folder's case.json / inputs.npz / outputs.npz,
written by tools/oracle/make_realworld_goldens.py. Each run is replayed the way the golden was made:
- `saved_model`: `savedmodel.load(dir, tags)` once per MetaGraph, its signatures called in the
  recorded order on that one loaded model (state carries over, as in TensorFlow's session);
- `graph_def`: `tf1.import_graph_def` into a fresh graph, `init` run first where recorded, then
  `Session.run(fetches, feed_dict)` by tensor name;
- `meta_graph` / `session_bundle`: `tf1.train.import_meta_graph` + `Saver.restore` of the model's
  own checkpoint, then the same feeds and fetches.
Runs that TensorFlow itself could not execute (status "tf_error") are reported, not compared.
Comparison rules (dtype, shape, rtol 1e-5 / atol 1e-6 for floats, exact otherwise) are the corpus's:
tools/corpus/harness.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tools.corpus import npzio
from tools.corpus.harness import Mismatch, compare_output

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "realworld"


@dataclass
class Run:
    """One recorded TensorFlow run: a signature call, or feeds and fetches by tensor name."""

    case: str
    meta: dict[str, Any]
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]

    @property
    def id(self) -> str:
        return self.meta["id"]

    @property
    def label(self) -> str:
        what = self.meta.get("signature") or ",".join(self.meta.get("fetches", [])[:2])
        return f"{self.case}[{self.id}:{what}]"

    @property
    def tf_ran(self) -> bool:
        return self.meta["status"] == "ok"


@dataclass
class Case:
    name: str
    directory: Path
    meta: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    @property
    def source(self) -> dict[str, Any]:
        return json.loads((self.directory / "SOURCE.json").read_text())

    @property
    def year(self) -> str:
        if not (self.directory / "SOURCE.json").exists():
            return "?"
        committed = self.source.get("committed") or ""
        return committed[:4] or "?"


def _by_run(tensors: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        run_id, name = key.split("/", 1)
        out.setdefault(run_id, {})[name] = value
    return out


def load_case(directory: Path) -> Case:
    meta = json.loads((directory / "case.json").read_text())
    inputs = _by_run(npzio.load(directory / "inputs.npz"))
    outputs = _by_run(npzio.load(directory / "outputs.npz"))
    case = Case(directory.name, directory, meta)
    for run in meta["runs"]:
        case.runs.append(Run(directory.name, run, inputs.get(run["id"], {}), outputs.get(run["id"], {})))
    return case


def discover(directory: Path = FIXTURES) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in sorted(directory.glob("*/case.json"))}


class Replayer:
    """Replays a case's runs in order, keeping one loaded model (or session) per MetaGraph."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self._models: dict[tuple[str, ...], Any] = {}
        self._session: Any = None

    def outputs(self, run: Run) -> dict[str, np.ndarray]:
        if self.case.meta["kind"] == "saved_model":
            model = self._model(tuple(run.meta["tags"]))
            result = model.signatures[run.meta["signature"]](**run.inputs)
            return {k: _array(v) for k, v in result.items()}
        session = self._session or self._open_session(run)
        fetches = run.meta["fetches"]
        values = session.run(fetches, feed_dict=dict(run.inputs))
        return {name: _array(v) for name, v in zip(fetches, values, strict=True)}

    def _model(self, tags: tuple[str, ...]) -> Any:
        import savedmodel

        if tags not in self._models:
            self._models[tags] = savedmodel.load(self.case.directory, list(tags))
        return self._models[tags]

    def _open_session(self, run: Run) -> Any:
        from savedmodel.compat import v1 as tf1

        meta = self.case.meta
        graph = tf1.Graph()
        with graph.as_default():
            if meta["kind"] == "graph_def":
                tf1.import_graph_def(read_graph_def(self.case.directory / meta["graph"]), name="")
                saver = None
            else:
                saver = tf1.train.import_meta_graph(str(self.case.directory / meta["meta_graph"]))
        session = tf1.Session(graph=graph)
        if saver is not None:
            saver.restore(session, str(self.case.directory / meta["checkpoint"]))
        if run.meta.get("init"):
            session.run(run.meta["init"])
        self._session = session
        return session


def _array(value: Any) -> np.ndarray:
    """A fetched value as an array; a scalar string stays bytes (np.asarray would drop trailing NULs)."""
    return np.array(value, dtype=object) if isinstance(value, bytes) else np.asarray(value)


def read_graph_def(path: Path) -> Any:
    from savedmodel.compat import v1 as tf1

    graph_def = tf1.GraphDef()
    if path.suffix == ".pbtxt":
        from google.protobuf import text_format

        text_format.Parse(path.read_text(), graph_def)
    else:
        graph_def.ParseFromString(path.read_bytes())
    return graph_def


def compare(
    run: Run, actual: dict[str, np.ndarray], nondeterministic: set[str] = frozenset()
) -> list[Mismatch]:
    """Mismatches against TensorFlow; outputs TensorFlow itself does not reproduce (listed in
    case.json "nondeterministic" as `<run id>/<name>`) are held to dtype and shape only."""
    problems: list[Mismatch] = []
    for name, expected in sorted(run.expected.items()):
        if name not in actual:
            problems.append(Mismatch(name, "missing"))
            continue
        if f"{run.id}/{name}" in nondeterministic:
            problem = _dtype_and_shape(name, np.asarray(actual[name]), expected)
        else:
            problem = compare_output(name, actual[name], expected, {})
        if problem is not None:
            problems.append(problem)
    return problems


def _dtype_and_shape(name: str, actual: np.ndarray, expected: np.ndarray) -> Mismatch | None:
    if actual.dtype != expected.dtype:
        return Mismatch(name, "dtype", detail=f"{actual.dtype} != TensorFlow's {expected.dtype}")
    if actual.shape != expected.shape:
        return Mismatch(name, "shape", detail=f"{actual.shape} != TensorFlow's {expected.shape}")
    return None


@dataclass
class Outcome:
    run: Run
    status: str  # PASS, FAIL, ERROR, TF_ERROR
    detail: str = ""
    seconds: float = 0.0


def evaluate(case: Case) -> Iterator[Outcome]:
    """Every run of a case, replayed in order; never raises for savedmodel failures."""
    replayer = Replayer(case)
    for run in case.runs:
        if not run.tf_ran:
            yield Outcome(run, "TF_ERROR", run.meta.get("error", ""))
            continue
        start = time.perf_counter()
        try:
            actual = replayer.outputs(run)
        except Exception as exc:  # reported, typed or not
            yield Outcome(run, "ERROR", f"{type(exc).__name__}: {_short(exc)}", time.perf_counter() - start)
            continue
        problems = compare(run, actual, set(case.meta.get("nondeterministic", ())))
        status = "FAIL" if problems else "PASS"
        detail = "; ".join(str(p) for p in problems[:3])
        yield Outcome(run, status, detail, time.perf_counter() - start)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
