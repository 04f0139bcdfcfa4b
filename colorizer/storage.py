"""Where a batch's outputs go, and its inputs come from when they are not local: a local folder, or a folder that
pyarrow reaches by URI (s3://bucket/prefix, gs://..., abfs://..., hdfs://..., file:///...), for the Ray engine.

Nothing half-written under a final name: a local folder's files are written atomically (colorizer.atomic); an
object store (S3, GCS, Azure) makes an object visible only once its upload is complete; on pyarrow's other
filesystems the bytes go to a temporary name beside the final one and are moved into place.
Credentials and regions come from each filesystem's usual environment (AWS_* variables, ~/.aws, ...) on every node.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from colorizer.atomic import atomic_write, temp_path
from colorizer.imageio import IMAGE_EXTS

OBJECT_STORES = {"s3", "gcs", "abfs"}  # pyarrow's type_name of filesystems whose writes appear whole on close


def is_uri(where: str | Path) -> bool:
    """Whether `where` names a location by URI (scheme://...) rather than a local path."""
    return isinstance(where, str) and "://" in where


def _filesystem(uri: str):
    """(pyarrow FileSystem, the URI's path on it); FileNotFoundError naming the URI if pyarrow cannot reach it."""
    import pyarrow.fs  # a dependency of Ray Data: only the Ray engine reaches here

    try:
        return pyarrow.fs.FileSystem.from_uri(uri)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... depending on the scheme
        raise FileNotFoundError(f"{uri}: cannot be reached: {e}") from None


def list_images(uri: str) -> list[str]:
    """The image files (by extension) that a URI names: the file itself, or a folder's files at its top level,
    sorted; as URIs of the same scheme. FileNotFoundError with the reason if there is nothing there."""
    import pyarrow.fs

    fs, root = _filesystem(uri)
    scheme = urlparse(uri).scheme
    info = fs.get_file_info(root)
    if info.type == pyarrow.fs.FileType.NotFound:
        raise FileNotFoundError(f"{uri}: no such file or folder")
    found = [info] if info.type == pyarrow.fs.FileType.File else fs.get_file_info(pyarrow.fs.FileSelector(root))
    paths = [i.path for i in found if i.type == pyarrow.fs.FileType.File]
    return sorted(f"{scheme}://{p}" for p in paths if PurePosixPath(p).suffix.lower() in IMAGE_EXTS)


def fs_path(uri: str) -> str:
    """The path of a file URI on its filesystem, as Ray Data's include_paths gives it back ('bucket/key' for s3)."""
    return _filesystem(uri)[1]


class Folder:
    """An output folder: local (a path) or reached through pyarrow (a URI). Picklable: a Ray actor opens its
    filesystem itself, with its own node's credentials."""

    def __init__(self, where: str | Path):
        self.where = str(where).rstrip("/") if is_uri(where) else Path(where)
        self._fs = None

    def __str__(self) -> str:
        return str(self.where)

    @property
    def local(self) -> bool:
        """Whether this is a local folder (atomic writes, remove_stale_temps apply)."""
        return isinstance(self.where, Path)

    def absolute(self) -> str:
        """The folder as any process names it, whatever its working directory: an absolute path, or the URI."""
        return str(self.where.resolve()) if self.local else self.where

    def _remote(self):
        """(pyarrow FileSystem, this folder's path on it), opened once per process."""
        if self._fs is None:
            self._fs = _filesystem(self.where)
        return self._fs

    def path(self, name: str) -> str:
        """How the file `name` in this folder is shown to the user and in the results table."""
        return f"{self.where}/{name}" if not self.local else str(self.where / name)

    def key(self, name: str) -> str:
        """The file `name` as compared with the batch's inputs (a resolved local path, or a URI)."""
        return self.path(name) if not self.local else str((self.where / name).resolve())

    def exists(self, name: str) -> bool:
        """Whether the folder holds a file `name`."""
        if self.local:
            return (self.where / name).exists()
        fs, root = self._remote()
        return fs.get_file_info(f"{root}/{name}").is_file

    def write(self, name: str, data: bytes, overwrite: bool = False) -> None:
        """Write `data` as the file `name`, complete or not at all. Without `overwrite` an existing file is never
        replaced (FileExistsError; through pyarrow, checked just before writing)."""
        if self.local:
            return atomic_write(self.where / name, data, overwrite=overwrite)
        if not overwrite and self.exists(name):
            raise FileExistsError(self.path(name))
        fs, root = self._remote()
        final = f"{root}/{name}"
        target = final if fs.type_name in OBJECT_STORES else str(temp_path(PurePosixPath(final)))
        with fs.open_output_stream(target) as f:
            f.write(data)
        if target != final:
            fs.move(target, final)

    def make(self) -> None:
        """Create the folder if it does not exist (object stores have no folders: nothing to do)."""
        if self.local:
            self.where.mkdir(parents=True, exist_ok=True)
        else:
            fs, root = self._remote()
            fs.create_dir(root, recursive=True)
