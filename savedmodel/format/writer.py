"""Assembling a SavedModel directory atomically: saved_model.pb(txt), variables/,
assets/, assets.extra/, fingerprint.pb, keras_metadata.pb.

Everything is written into a temporary sibling directory that is renamed into
place at the end (see savedmodel.format.atomic), so a reader never sees a
half-written SavedModel and a failed save leaves the target untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from savedmodel.errors import PolicyError
from savedmodel.format.atomic import atomic_directory
from savedmodel.format.saved_model import (
    ASSETS_DIR,
    EXTRA_ASSETS_DIR,
    FINGERPRINT_NAME,
    KERAS_METADATA_NAME,
    VARIABLES_DIR,
    VARIABLES_PREFIX,
    write_saved_model_proto,
)
from savedmodel.proto import saved_model_pb2

PathLike = str | os.PathLike[str]

# Called with the variables prefix inside the temporary directory ("<tmp>/variables/variables").
VariablesWriter = Callable[[str], None]


@dataclass
class SavedModelContents:
    """What goes into a SavedModel directory."""

    proto: saved_model_pb2.SavedModel
    write_variables: VariablesWriter | None = None
    # asset file name inside assets/ -> source path on disk (copied) or bytes
    assets: Mapping[str, PathLike | bytes] = field(default_factory=dict)
    extra_assets: Mapping[str, PathLike | bytes] = field(default_factory=dict)
    fingerprint: bytes | Callable[[Path], bytes] | None = None
    keras_metadata: bytes | None = None
    as_text: bool = False
    # TF1's Builder creates variables/ only when there are variables; tf.saved_model.save always does.
    always_create_variables_dir: bool = False
    # tf.saved_model.save (TF 2.x) also always creates assets/, empty when there are none.
    always_create_assets_dir: bool = False


def refuse_existing(export_dir: PathLike) -> None:
    """TF1 Builder's rule: an existing, non-empty export directory is an error."""
    path = Path(export_dir)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise PolicyError(
            "Export directory already exists, and isn't empty. Please choose a different export directory, "
            f"or delete all the contents of the specified directory: {path}"
        )


def _place(target_dir: Path, files: Mapping[str, PathLike | bytes]) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        dest = target_dir / name
        if (
            dest.resolve().parent != target_dir.resolve()
            and target_dir.resolve() not in dest.resolve().parents
        ):
            raise PolicyError(f"asset name {name!r} escapes the assets directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            dest.write_bytes(source)
        else:
            shutil.copyfile(source, dest)


def write_contents(contents: SavedModelContents, directory: Path) -> None:
    """Write everything into `directory` (already existing, normally a temporary one)."""
    if contents.write_variables is not None or contents.always_create_variables_dir:
        (directory / VARIABLES_DIR).mkdir(exist_ok=True)
    if contents.write_variables is not None:
        contents.write_variables(str(directory / VARIABLES_DIR / VARIABLES_PREFIX))
    if contents.assets:
        _place(directory / ASSETS_DIR, contents.assets)
    elif contents.always_create_assets_dir:
        (directory / ASSETS_DIR).mkdir()
    if contents.extra_assets:
        _place(directory / EXTRA_ASSETS_DIR, contents.extra_assets)
    if contents.keras_metadata is not None:
        (directory / KERAS_METADATA_NAME).write_bytes(contents.keras_metadata)
    write_saved_model_proto(contents.proto, directory, contents.as_text)
    if contents.fingerprint is not None:
        data = contents.fingerprint(directory) if callable(contents.fingerprint) else contents.fingerprint
        (directory / FINGERPRINT_NAME).write_bytes(data)


def write_saved_model_dir(
    export_dir: PathLike, contents: SavedModelContents, overwrite: bool = False
) -> Path:
    """Write a complete SavedModel directory atomically.

    An existing non-empty `export_dir` is refused unless `overwrite` is set (then
    it is replaced as a whole, never merged).
    """
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        write_contents(contents, tmp)
    return Path(export_dir)
