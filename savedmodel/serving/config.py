"""The model server's configuration: TF Serving's text-format ModelServerConfig (a subset).

Supported (everything else is an error naming the field):

    model_config_list {
      config {
        name: "half_plus_two"
        base_path: "/models/half_plus_two"
        model_platform: "tensorflow"
        model_version_policy { latest { num_versions: 2 } }  # or all {} / specific { versions: 3 }
        version_labels { key: "stable" value: 1 }
      }
    }

The parser is a small tokenizer + recursive reader of protobuf text format
(fields `name: value` or `name { ... }`, `#` comments, `[a, b]` lists); it never
evaluates anything. The same reader parses the other text-format files of
tensorflow_model_server: MonitoringConfig (--monitoring_config_file) and
BatchingParameters (--batching_parameters_file). A file that does not parse
raises ConfigFileError, whose message starts as TF Serving's does:
"Error parsing text-format tensorflow.serving.<Message>: ...".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel.errors import InvalidInputError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<punct>[{}<>:\[\],;])
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
MAX_DEPTH = 32


@dataclass
class VersionPolicy:
    """Which version numbers of a model to serve."""

    kind: str = "latest"  # "latest" | "all" | "specific"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def select(self, available: list[int]) -> list[int]:
        ordered = sorted(set(available))
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.num_versions :] if self.num_versions > 0 else []


@dataclass
class ModelConfig:
    name: str
    base_path: Path
    platform: str = "tensorflow"
    version_policy: VersionPolicy = field(default_factory=VersionPolicy)
    version_labels: dict[str, int] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        line = 1
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise self._error(f"unexpected character {text[pos:].lstrip()[:1]!r}", line)
            kind = match.lastgroup or ""
            line += text.count("\n", pos, match.end())
            pos = match.end()
            if kind != "comment":
                self.tokens.append((kind, match.group(kind), line))
        self.index = 0

    def _error(self, message: str, line: int | None = None) -> InvalidInputError:
        if line is None:
            line = self.tokens[min(self.index, len(self.tokens) - 1)][2] if self.tokens else 1
        return InvalidInputError(f"{self.source}:{line}: {message}")

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self) -> tuple[str, str, int]:
        token = self._peek()
        if token is None:
            raise self._error("unexpected end of file")
        self.index += 1
        return token

    def _expect(self, text: str) -> None:
        token = self._next()
        if token[1] != text:
            raise self._error(f"expected {text!r}, found {token[1]!r}", token[2])

    def parse_message(self, closing: str | None = None, depth: int = 0) -> dict[str, list]:
        """Fields of one message: name -> list of values (scalars or nested dicts)."""
        if depth > MAX_DEPTH:
            raise self._error("messages nested too deeply")
        fields: dict[str, list] = {}
        while True:
            token = self._peek()
            if token is None:
                if closing is not None:
                    raise self._error(f"missing {closing!r}")
                return fields
            if closing is not None and token[1] == closing:
                self.index += 1
                return fields
            if token[1] in ",;":
                self.index += 1
                continue
            kind, name, line = self._next()
            if kind != "ident":
                raise self._error(f"expected a field name, found {name!r}", line)
            following = self._peek()
            if following is not None and following[1] == ":":
                self.index += 1
                following = self._peek()
            if following is not None and following[1] in "{<":
                self.index += 1
                value = self.parse_message("}" if following[1] == "{" else ">", depth + 1)
                fields.setdefault(name, []).append(value)
            elif following is not None and following[1] == "[":
                self.index += 1
                while True:
                    token = self._peek()
                    if token is not None and token[1] == "]":
                        self.index += 1
                        break
                    if token is not None and token[1] == ",":
                        self.index += 1
                        continue
                    fields.setdefault(name, []).append(self._scalar())
            else:
                fields.setdefault(name, []).append(self._scalar())

    def _scalar(self) -> str | int | float:
        kind, text, line = self._next()
        if kind == "string":
            return _unquote(text)
        if kind == "number":
            try:
                return int(text, 0) if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", text) else float(text)
            except ValueError:
                raise self._error(f"bad number {text!r}", line) from None
        if kind == "ident":
            return text
        raise self._error(f"expected a value, found {text!r}", line)


def _unquote(token: str) -> str:
    body = token[1:-1]
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def parse_text_proto(text: str, source: str = "<config>") -> dict[str, list]:
    """Protobuf text format -> nested dict of field name -> list of values."""
    return _Parser(text, source).parse_message()


def _only(fields: dict[str, list], name: str, where: str, default=None):  # noqa: ANN001, ANN202
    values = fields.get(name, [])
    if len(values) > 1:
        raise InvalidInputError(f"{where}: field {name!r} given {len(values)} times")
    return values[0] if values else default


def _check_known(fields: dict[str, list], known: set[str], where: str) -> None:
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidInputError(f"{where}: unsupported field(s) {', '.join(unknown)}")


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} must be an integer, got {value!r}")
    return value


def _version_policy(fields: dict, where: str) -> VersionPolicy:
    _check_known(fields, {"latest", "all", "specific"}, where)
    if len(fields) > 1 or sum(len(v) for v in fields.values()) > 1:
        raise InvalidInputError(f"{where}: give exactly one of latest, all, specific")
    if "all" in fields:
        return VersionPolicy(kind="all")
    if "specific" in fields:
        spec = fields["specific"][0]
        _check_known(spec, {"versions"}, f"{where}.specific")
        versions = tuple(_as_int(v, f"{where}.specific.versions") for v in spec.get("versions", []))
        if not versions:
            raise InvalidInputError(f"{where}.specific: no versions given")
        return VersionPolicy(kind="specific", versions=versions)
    latest = fields.get("latest", [{}])[0]
    _check_known(latest, {"num_versions"}, f"{where}.latest")
    num = _as_int(_only(latest, "num_versions", where, 1), f"{where}.latest.num_versions")
    if num < 1:
        raise InvalidInputError(f"{where}.latest.num_versions must be at least 1")
    return VersionPolicy(kind="latest", num_versions=num)


def parse_model_config(
    text: str, source: str = "<config>", base_dir: Path | None = None
) -> list[ModelConfig]:
    """Models of a ModelServerConfig text proto (only `model_config_list` is supported)."""
    root = parse_text_proto(text, source)
    _check_known(root, {"model_config_list"}, source)
    config_list = _only(root, "model_config_list", source, {})
    _check_known(config_list, {"config"}, f"{source}: model_config_list")
    models: list[ModelConfig] = []
    for index, entry in enumerate(config_list.get("config", [])):
        where = f"{source}: config #{index + 1}"
        _check_known(
            entry,
            {
                "name",
                "base_path",
                "model_platform",
                "model_version_policy",
                "version_labels",
                "model_type",
                "logging_config",
            },
            where,
        )
        name = _only(entry, "name", where)
        base_path = _only(entry, "base_path", where)
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{where}: a model needs a name")
        if not isinstance(base_path, str) or not base_path:
            raise InvalidInputError(f"{where}: model {name!r} needs a base_path")
        platform = _only(entry, "model_platform", where, "tensorflow")
        if platform != "tensorflow":
            raise InvalidInputError(
                f"{where}: model_platform {platform!r} is not supported (only 'tensorflow')"
            )
        policy = _version_policy(
            _only(entry, "model_version_policy", where, {}), f"{where}.model_version_policy"
        )
        labels: dict[str, int] = {}
        for label in entry.get("version_labels", []):
            _check_known(label, {"key", "value"}, f"{where}.version_labels")
            key = _only(label, "key", where)
            if not isinstance(key, str) or not key:
                raise InvalidInputError(f"{where}: version label without a key")
            labels[key] = _as_int(_only(label, "value", where), f"{where}: version label {key!r}")
        path = Path(base_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if any(m.name == name for m in models):
            raise InvalidInputError(f"{where}: model name {name!r} appears twice")
        models.append(ModelConfig(name, path, platform, policy, labels))
    if not models:
        raise InvalidInputError(f"{source}: no models configured")
    return models


class ConfigFileError(InvalidInputError):
    """A text-format configuration file could not be read or parsed."""


def _read_config_text(path: str | Path, message: str) -> str:
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"Error parsing text-format tensorflow.serving.{message}: {exc}") from None


def _parsed(message: str, parse, text: str, source: str):  # noqa: ANN001, ANN202
    try:
        return parse(text, source)
    except ConfigFileError:
        raise
    except InvalidInputError as exc:
        raise ConfigFileError(f"Error parsing text-format tensorflow.serving.{message}: {exc}") from None


def read_model_config_file(path: str | Path) -> list[ModelConfig]:
    text = _read_config_text(path, "ModelServerConfig")
    return _parsed("ModelServerConfig", parse_model_config, text, str(path))


def model_configs_from_proto(config: object, source: str = "ReloadConfigRequest") -> list[ModelConfig]:
    """The models of a ModelServerConfig message (ModelService.HandleReloadConfigRequest)."""
    from google.protobuf import text_format

    if not config.HasField("model_config_list"):  # type: ignore[attr-defined]
        raise InvalidInputError(f"{source}: only model_config_list is supported (no custom_model_config)")
    return parse_model_config(text_format.MessageToString(config), source)  # type: ignore[arg-type]


# -- MonitoringConfig --------------------------------------------------------

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"


@dataclass
class MonitoringConfig:
    """TF Serving's MonitoringConfig: whether and where Prometheus metrics are exported."""

    prometheus_enabled: bool = False
    prometheus_path: str = DEFAULT_PROMETHEUS_PATH


def _as_bool(value: object, what: str) -> bool:
    if value in (True, "true", "True", "t", 1):
        return True
    if value in (False, "false", "False", "f", 0):
        return False
    raise InvalidInputError(f"{what} must be true or false, got {value!r}")


def parse_monitoring_config(text: str, source: str = "<monitoring config>") -> MonitoringConfig:
    root = parse_text_proto(text, source)
    _check_known(root, {"prometheus_config"}, source)
    prometheus = _only(root, "prometheus_config", source, {})
    where = f"{source}: prometheus_config"
    if not isinstance(prometheus, dict):
        raise InvalidInputError(f"{where} must be a message")
    _check_known(prometheus, {"enable", "path"}, where)
    enabled = _as_bool(_only(prometheus, "enable", where, False), f"{where}.enable")
    path = _only(prometheus, "path", where, "") or DEFAULT_PROMETHEUS_PATH
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInputError(f"{where}.path must start with '/', got {path!r}")
    return MonitoringConfig(enabled, path)


def read_monitoring_config_file(path: str | Path) -> MonitoringConfig:
    text = _read_config_text(path, "MonitoringConfig")
    return _parsed("MonitoringConfig", parse_monitoring_config, text, str(path))


# -- BatchingParameters ------------------------------------------------------

_WRAPPED_INT_FIELDS = (
    "max_batch_size",
    "batch_timeout_micros",
    "max_enqueued_batches",
    "num_batch_threads",
    "max_execution_batch_size",
)


@dataclass
class BatchingParameters:
    """TF Serving's BatchingParameters; None means "not set" (the server's default applies).

    Used: max_batch_size, batch_timeout_micros. Accepted and reported as unused: the rest
    (savedmodel's batcher has one queue per model version and signature, no thread pool of
    its own, no padding and no splitting)."""

    max_batch_size: int | None = None
    batch_timeout_micros: int | None = None
    max_enqueued_batches: int | None = None
    num_batch_threads: int | None = None
    max_execution_batch_size: int | None = None
    thread_pool_name: str | None = None
    enable_large_batch_splitting: bool | None = None
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def unused_fields(self) -> list[str]:
        unused = [
            name
            for name in (
                "max_enqueued_batches",
                "num_batch_threads",
                "max_execution_batch_size",
                "thread_pool_name",
                "enable_large_batch_splitting",
            )
            if getattr(self, name) is not None
        ]
        if self.allowed_batch_sizes:
            unused.append("allowed_batch_sizes")
        if self.pad_variable_length_inputs:
            unused.append("pad_variable_length_inputs")
        return unused


def _wrapped(fields: dict[str, list], name: str, where: str) -> object:
    """A google.protobuf wrapper field: `name { value: X }` (None when absent)."""
    wrapper = _only(fields, name, where)
    if wrapper is None:
        return None
    if not isinstance(wrapper, dict):
        raise InvalidInputError(f"{where}: {name} is a wrapper message: write {name} {{ value: ... }}")
    _check_known(wrapper, {"value"}, f"{where}.{name}")
    return _only(wrapper, "value", f"{where}.{name}")


def parse_batching_parameters(text: str, source: str = "<batching parameters>") -> BatchingParameters:
    root = parse_text_proto(text, source)
    known = {
        *_WRAPPED_INT_FIELDS,
        "thread_pool_name",
        "enable_large_batch_splitting",
        "allowed_batch_sizes",
        "pad_variable_length_inputs",
    }
    _check_known(root, known, source)
    params = BatchingParameters()
    for name in _WRAPPED_INT_FIELDS:
        value = _wrapped(root, name, source)
        if value is not None:
            number = _as_int(value, f"{source}: {name}")
            if number < 0 or (name == "max_batch_size" and number < 1):
                raise InvalidInputError(f"{source}: {name} must be positive, got {number}")
            setattr(params, name, number)
    pool = _wrapped(root, "thread_pool_name", source)
    if pool is not None:
        params.thread_pool_name = str(pool)
    splitting = _wrapped(root, "enable_large_batch_splitting", source)
    if splitting is not None:
        params.enable_large_batch_splitting = _as_bool(splitting, f"{source}: enable_large_batch_splitting")
    params.allowed_batch_sizes = tuple(
        _as_int(v, f"{source}: allowed_batch_sizes") for v in root.get("allowed_batch_sizes", [])
    )
    params.pad_variable_length_inputs = _as_bool(
        _only(root, "pad_variable_length_inputs", source, False), f"{source}: pad_variable_length_inputs"
    )
    return params


def read_batching_parameters_file(path: str | Path) -> BatchingParameters:
    text = _read_config_text(path, "BatchingParameters")
    return _parsed("BatchingParameters", parse_batching_parameters, text, str(path))


# -- --grpc_channel_arguments ---------------------------------------------------


def parse_channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """--grpc_channel_arguments: comma-separated key=value pairs; integer values become ints
    (TF Serving's parseGrpcChannelArgs)."""
    options: list[tuple[str, int | str]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--grpc_channel_arguments: {item!r} is not key=value")
        value = value.strip()
        try:
            options.append((key.strip(), int(value)))
        except ValueError:
            options.append((key.strip(), value))
    return options
