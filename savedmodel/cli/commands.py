"""The `savedmodel` subcommands: name, the module that implements it, and its one-line help.

`savedmodel --help` is printed from this table alone, and a command imports only its own module,
so listing the commands costs no NumPy or protobuf import. Each module's `add_parser(subparsers)`
registers the commands this table assigns to it, taking their help from `help_of`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # under savedmodel.cli
    help: str


# In the order `savedmodel --help` lists them.
COMMANDS: tuple[Command, ...] = (
    Command(
        "show",
        "show",
        "show tag sets, signatures, ops and functions of a SavedModel (like saved_model_cli show)",
    ),
    Command(
        "run",
        "run",
        "run a SignatureDef on inputs from files, expressions or tf.Examples (saved_model_cli run)",
    ),
    Command(
        "scan",
        "scan",
        "report denylisted ops (default ReadFile, WriteFile, PrintV2) (saved_model_cli scan)",
    ),
    Command("ops", "ops", "list the ops a model uses, with counts and whether savedmodel supports them"),
    Command(
        "variables",
        "variables",
        "list the variables (name, dtype, shape, bytes) of a SavedModel or checkpoint",
    ),
    Command(
        "diff",
        "diff",
        "compare two SavedModels: tag sets, signatures, ops, variables (exit 1 when different)",
    ),
    Command(
        "convert",
        "convert",
        "migrate a TF1 SavedModel to a TF2-style one, edit its signatures, or (--to keras3) "
        "turn a tf-keras SavedModel into a Keras 3 .keras file",
    ),
    Command(
        "export-weights",
        "convert",
        "write every variable of a SavedModel or checkpoint to a NumPy .npz",
    ),
    Command(
        "import-weights",
        "convert",
        "write a copy of a SavedModel (or checkpoint) whose variables hold an .npz/.safetensors file",
    ),
    Command("serve", "serve", "serve SavedModels over TF Serving's REST and gRPC APIs"),
)

_BY_NAME = {command.name: command for command in COMMANDS}


def help_of(name: str) -> str:
    """The one-line help of command NAME."""
    return _BY_NAME[name].help


def find(name: str | None) -> Command | None:
    """The command called NAME, or None."""
    return _BY_NAME.get(name) if name else None
