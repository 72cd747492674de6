"""`tf.io.gfile` on the local file system: `GFile` (and TF1's `FastGFile`), `exists`, `glob`...

Paths with a URL scheme (gs://, s3://, hdfs://, ram://) are refused with a
FormatError: savedmodel reads local files only. The usual idiom works unchanged:

    with tf.io.gfile.GFile("frozen.pb", "rb") as f:
        graph_def.ParseFromString(f.read())
"""

from __future__ import annotations

import glob as _glob
import os
import re
import shutil
from collections.abc import Iterator
from typing import IO, Any

from savedmodel.errors import FormatError, NotFoundError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _local(path: Any) -> str:
    text = os.fsdecode(os.fspath(path))
    if _SCHEME.match(text) and not text.startswith("file://"):
        raise FormatError(
            f"{text}: only local files are supported (no {text.split('://')[0]}:// file systems)"
        )
    return text[len("file://") :] if text.startswith("file://") else text


class GFile:
    """A file object over a local file; `mode` as for `open` ("r" reads text, "rb" bytes)."""

    def __init__(self, name: Any, mode: str = "r") -> None:
        self.name = _local(name)
        self.mode = mode
        try:
            self._file: IO[Any] = open(self.name, mode if mode else "r")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise NotFoundError(f"{self.name}; No such file or directory") from None
        except IsADirectoryError:
            raise FormatError(f"{self.name} is a directory") from None
        except OSError as exc:
            raise FormatError(f"cannot open {self.name}: {exc.strerror or exc}") from None

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._file)

    def read(self, n: int = -1) -> Any:
        return self._file.read(n)

    def readline(self) -> Any:
        return self._file.readline()

    def readlines(self) -> list[Any]:
        return self._file.readlines()

    def write(self, data: Any) -> None:
        self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def size(self) -> int:
        return os.path.getsize(self.name)

    def close(self) -> None:
        self._file.close()


FastGFile = GFile
Open = GFile


def exists(path: Any) -> bool:
    return os.path.exists(_local(path))


def isdir(path: Any) -> bool:
    return os.path.isdir(_local(path))


def listdir(path: Any) -> list[str]:
    try:
        return os.listdir(_local(path))
    except FileNotFoundError:
        raise NotFoundError(f"Could not find directory {path}") from None


def glob(pattern: Any) -> list[str]:
    return sorted(_glob.glob(_local(pattern)))


def makedirs(path: Any) -> None:
    os.makedirs(_local(path), exist_ok=True)


def mkdir(path: Any) -> None:
    os.mkdir(_local(path))


def remove(path: Any) -> None:
    try:
        os.remove(_local(path))
    except FileNotFoundError:
        raise NotFoundError(f"{path}; No such file or directory") from None


def rmtree(path: Any) -> None:
    shutil.rmtree(_local(path))


def copy(src: Any, dst: Any, overwrite: bool = False) -> None:
    source, target = _local(src), _local(dst)
    if os.path.exists(target) and not overwrite:
        raise FormatError(f"{target} already exists")
    shutil.copyfile(source, target)


def rename(src: Any, dst: Any, overwrite: bool = False) -> None:
    source, target = _local(src), _local(dst)
    if os.path.exists(target) and not overwrite:
        raise FormatError(f"{target} already exists")
    os.replace(source, target)


def walk(top: Any, topdown: bool = True, onerror: Any = None) -> Iterator[tuple[str, list[str], list[str]]]:
    yield from os.walk(_local(top), topdown=topdown, onerror=onerror)
