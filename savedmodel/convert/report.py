"""What a conversion did or would do: changes, warnings, and blockers (why it cannot be done)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from savedmodel.errors import SavedModelError


@dataclass
class Report:
    """The outcome of planning (or running) a conversion.

    `changes` are human-readable lines saying what the output differs in; `warnings` what
    still works but deserves a look; `blockers` what prevents the conversion (a non-empty
    list means nothing is written).
    """

    source: str
    output: str | None = None
    kind: str = "tf1_to_tf2"
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)  # key -> method name
    variables: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.blockers

    def block(self, message: str) -> None:
        if message not in self.blockers:
            self.blockers.append(message)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "kind": self.kind,
            "ok": self.ok,
            "written": self.written,
            "signatures": dict(sorted(self.signatures.items())),
            "variables": list(self.variables),
            "changes": list(self.changes),
            "warnings": list(self.warnings),
            "blockers": list(self.blockers),
        }

    def render(self) -> str:
        verb = "converted" if self.written else ("can convert" if self.ok else "cannot convert")
        lines = [f"{self.source}: {verb}" + (f" -> {self.output}" if self.output else "")]
        for title, items in (
            ("changes", self.changes),
            ("warnings", self.warnings),
            ("blockers", self.blockers),
        ):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  - {item}" for item in items)
        return "\n".join(lines) + "\n"


class ConversionError(SavedModelError):
    """The model cannot be converted; `report.blockers` lists why."""

    def __init__(self, report: Report) -> None:
        self.report = report
        shown = "; ".join(report.blockers[:3])
        more = f" (and {len(report.blockers) - 3} more)" if len(report.blockers) > 3 else ""
        super().__init__(f"{report.source}: cannot convert: {shown}{more}")
