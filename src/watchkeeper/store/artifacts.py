"""Content-addressed artifact storage: every artifact is named by the sha256 of its bytes.

An artifact (a serialized model, a baseline file, a data snapshot) is stored once under its
sha256 and checked against it on every read, so a file changed on disk after it was stored is
refused rather than loaded. :class:`ArtifactStore` is the small interface the registry needs;
:class:`LocalArtifactStore` implements it over a folder::

    <root>/sha256/<first 2 hex digits>/<all 64 hex digits>

Writes go to a temporary file that is fsync-ed and then renamed (:func:`os.replace`) to its
final name, so a crash never leaves a half-written artifact under a valid name. Stored files
are read-only (mode ``0o444``). Only validated hexadecimal digests ever become part of a path,
so no argument can reach outside the store.

Object storage (``s3://``, ``gs://``, through fsspec) can be added later as another
:class:`ArtifactStore`; :func:`open_artifact_store` accepts local folders only in this release.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from watchkeeper.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    InvalidParameterError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "BLOCK_SIZE",
    "ArtifactRef",
    "ArtifactStore",
    "LocalArtifactStore",
    "open_artifact_store",
    "sha256_bytes",
    "sha256_file",
]

BLOCK_SIZE = 1 << 20
"""Files are hashed and copied in blocks of this many bytes (1 MiB)."""

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_LOWER_HEX64 = re.compile(r"[0-9a-f]{64}")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_TMP_PREFIX = ".tmp-"
_READ_ONLY = 0o444


@dataclass(frozen=True)
class ArtifactRef:
    """Where an artifact is stored and what it is.

    Parameters
    ----------
    sha256
        The sha256 of the artifact's bytes: 64 lowercase hexadecimal digits.
    uri
        Where the store keeps it (``file:///...`` for a local store).
    size
        Its length in bytes.

    Raises
    ------
    InvalidParameterError
        If ``sha256`` is not 64 lowercase hexadecimal digits or ``size`` is negative.
    """

    sha256: str
    uri: str
    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, str) or not _LOWER_HEX64.fullmatch(self.sha256):
            raise InvalidParameterError(
                "The 'sha256' of an ArtifactRef must be 64 lowercase hexadecimal digits. "
                f"Got {self.sha256!r} instead."
            )
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise InvalidParameterError(
                "The 'size' of an ArtifactRef must be a non-negative integer (bytes). "
                f"Got {self.size!r} instead."
            )


@runtime_checkable
class ArtifactStore(Protocol):
    """The interface of an artifact store: bytes in, sha256-verified bytes out.

    Every method that takes a ``sha256`` raises :class:`InvalidParameterError` when it is not
    64 hexadecimal digits.
    """

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store ``data``; storing content that is already there returns the same ref."""
        ...

    def put_file(self, path: str | os.PathLike[str]) -> ArtifactRef:
        """Store the file at ``path``, streaming it in blocks while hashing."""
        ...

    def get_bytes(self, sha256: str) -> bytes:
        """Return the artifact's bytes after checking they still hash to ``sha256``."""
        ...

    def local_path(self, sha256: str) -> contextlib.AbstractContextManager[Path]:
        """Yield a local file holding the artifact, verified against ``sha256``."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the store holds an artifact with this sha256."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the artifact; removing one that is not there is not an error."""
        ...

    def uri_for(self, sha256: str) -> str:
        """The URI the artifact has (or would have) in this store."""
        ...


def sha256_bytes(data: bytes) -> str:
    """The sha256 of ``data`` as 64 lowercase hexadecimal digits.

    Examples
    --------
    >>> sha256_bytes(b"")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of the file at ``path``, read in blocks of :data:`BLOCK_SIZE` bytes.

    Raises
    ------
    OSError
        If the file cannot be opened or read (the builtin error, unchanged).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in _blocks(fh):
            digest.update(block)
    return digest.hexdigest()


def _blocks(fh: BinaryIO) -> Iterator[bytes]:
    while block := fh.read(BLOCK_SIZE):
        yield block


def _checked_sha256(sha256: object) -> str:
    """``sha256`` lower-cased, after checking it is 64 hexadecimal digits."""
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
        raise InvalidParameterError(
            "An artifact's 'sha256' must be 64 hexadecimal digits "
            f"(as in an ArtifactRef). Got {sha256!r} instead."
        )
    return sha256.lower()


class LocalArtifactStore:
    """An :class:`ArtifactStore` over a local folder.

    Parameters
    ----------
    root
        The store's folder. It (and its ``sha256/xx`` subfolders) is created on the first
        write; it may not be an existing file.

    Raises
    ------
    InvalidParameterError
        If ``root`` exists and is not a folder.

    Notes
    -----
    A ``sha256`` argument may be given in upper or lower case; it is lower-cased, and every
    :class:`ArtifactRef` carries the lowercase form.

    Examples
    --------
    >>> import tempfile
    >>> store = LocalArtifactStore(tempfile.mkdtemp())
    >>> ref = store.put_bytes(b"hello")
    >>> ref.sha256[:12], ref.size
    ('2cf24dba5fb0', 5)
    >>> store.get_bytes(ref.sha256)
    b'hello'
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise InvalidParameterError(
                f"The artifact store root must be a folder, but {str(path)!r} is a file. "
                "Give a folder (it is created if it does not exist)."
            )
        self.root = path

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    # -- paths -----------------------------------------------------------------------------

    def _path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def uri_for(self, sha256: str) -> str:
        """The ``file://`` URI of the artifact's absolute path (whether stored or not)."""
        return self._path(_checked_sha256(sha256)).as_uri()

    def _ref(self, sha256: str, size: int) -> ArtifactRef:
        return ArtifactRef(sha256=sha256, uri=self._path(sha256).as_uri(), size=size)

    # -- writing ---------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store ``data`` under its sha256.

        Content that is already stored is left untouched (not rewritten) and the same ref is
        returned.

        Raises
        ------
        ArtifactError
            If the artifact cannot be written (no space, no permission...).
        """
        sha256 = sha256_bytes(data)
        final = self._path(sha256)
        if not final.exists():
            self._write(final, (data,), final.parent)
        return self._ref(sha256, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> ArtifactRef:
        """Store the file at ``path`` under its sha256, copying and hashing it block by block.

        The file is read once, in blocks of :data:`BLOCK_SIZE` bytes, never whole. Content
        that is already stored is left untouched and the same ref is returned.

        Raises
        ------
        ArtifactError
            If ``path`` cannot be read or the artifact cannot be written.
        """
        source = Path(path)
        digest = hashlib.sha256()
        size = 0

        def hashed(fh: BinaryIO) -> Iterator[bytes]:
            nonlocal size
            for block in _blocks(fh):
                digest.update(block)
                size += len(block)
                yield block

        try:
            fh = open(source, "rb")  # noqa: SIM115 - closed below, after the copy
        except OSError as exc:
            raise ArtifactError(
                f"Cannot store file {str(source)!r} as an artifact: it cannot be read ({exc}). "
                "Check the path and its permissions."
            ) from exc
        staging = self.root / "sha256"
        with fh:
            # The digest (and so the final folder) is known only at the end: stage the copy in
            # the store's own sha256/ folder, which is on the same filesystem as every final name.
            tmp = self._write_temp(staging, hashed(fh), source_name=str(source))
        sha256 = digest.hexdigest()
        final = self._path(sha256)
        if final.exists():
            _remove(tmp)
        else:
            self._commit(tmp, final)
        return self._ref(sha256, size)

    def _write(self, final: Path, chunks: Iterable[bytes], folder: Path) -> None:
        tmp = self._write_temp(folder, chunks, source_name=None)
        self._commit(tmp, final)

    def _write_temp(self, folder: Path, chunks: Iterable[bytes], source_name: str | None) -> Path:
        """Write ``chunks`` to a new temporary file in ``folder``, fsync it, make it read-only."""
        tmp: Path | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
            tmp = Path(name)
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, _READ_ONLY)
        except BaseException as exc:
            if tmp is not None:
                _remove(tmp)
            if isinstance(exc, OSError):
                what = f"file {source_name!r}" if source_name else "an artifact"
                raise ArtifactError(
                    f"Cannot store {what} in the artifact store at {str(self.root)!r}: "
                    f"copying it to a temporary file in {str(folder)!r} failed ({exc}). "
                    "Check the free space and the permissions of the files and folders."
                ) from exc
            raise
        return tmp

    def _commit(self, tmp: Path, final: Path) -> None:
        """Rename ``tmp`` to ``final`` atomically; on failure, leave neither behind."""
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        except BaseException as exc:
            _remove(tmp)
            if isinstance(exc, OSError):
                if final.exists():
                    # A concurrent writer stored the same content first (on Windows the
                    # rename onto its read-only file fails); the artifact is there.
                    return
                raise ArtifactError(
                    f"Cannot store artifact {final.name} in the artifact store at "
                    f"{str(self.root)!r}: renaming the temporary file to {str(final)!r} failed "
                    f"({exc}). Check the folder's permissions and try again."
                ) from exc
            raise
        _fsync_folder(final.parent)

    # -- reading ---------------------------------------------------------------------------

    def _stored(self, sha256: str) -> Path:
        sha256 = _checked_sha256(sha256)
        path = self._path(sha256)
        if not path.is_file():
            raise ArtifactNotFoundError(
                f"No artifact with sha256 {sha256} in the artifact store at {str(self.root)!r}. "
                "Check the sha256, and that this is the store the artifact was put in."
            )
        return path

    def _verify(self, expected: str, found: str, path: Path) -> None:
        if found != expected:
            raise ArtifactIntegrityError(
                f"Artifact {str(path)!r} is corrupt: its bytes hash to sha256 {found}, but it "
                f"was stored as sha256 {expected}. It was changed after it was stored and will "
                "not be loaded; restore it from a backup or store it again."
            )

    def get_bytes(self, sha256: str) -> bytes:
        """The artifact's bytes, after checking that they still hash to ``sha256``.

        Raises
        ------
        InvalidParameterError
            If ``sha256`` is not 64 hexadecimal digits.
        ArtifactNotFoundError
            If the store holds no such artifact.
        ArtifactIntegrityError
            If the stored bytes no longer hash to ``sha256``.
        ArtifactError
            If the stored file cannot be read.
        """
        path = self._stored(sha256)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(
                f"Cannot read artifact {str(path)!r} ({exc}). Check its permissions."
            ) from exc
        self._verify(path.name, sha256_bytes(data), path)
        return data

    @contextlib.contextmanager
    def local_path(self, sha256: str) -> Iterator[Path]:
        """Yield the stored (read-only) file itself, after checking its sha256.

        Raises
        ------
        InvalidParameterError, ArtifactNotFoundError, ArtifactIntegrityError, ArtifactError
            As :meth:`get_bytes`.
        """
        path = self._stored(sha256)
        try:
            found = sha256_file(path)
        except OSError as exc:
            raise ArtifactError(
                f"Cannot read artifact {str(path)!r} ({exc}). Check its permissions."
            ) from exc
        self._verify(path.name, found, path)
        yield path

    def exists(self, sha256: str) -> bool:
        """Whether the store holds an artifact with this sha256 (its content is not checked)."""
        return self._path(_checked_sha256(sha256)).is_file()

    def delete(self, sha256: str) -> None:
        """Remove the artifact, if it is there (used to clean up after a failed registration).

        Raises
        ------
        ArtifactError
            If the file exists but cannot be removed.
        """
        path = self._path(_checked_sha256(sha256))
        try:
            _remove(path, strict=True)
        except OSError as exc:
            raise ArtifactError(
                f"Cannot delete artifact {str(path)!r} ({exc}). Check the folder's permissions."
            ) from exc


def _remove(path: Path, *, strict: bool = False) -> None:
    """Unlink ``path`` (read-only or not); missing is fine. Errors propagate only if ``strict``."""
    try:
        try:
            path.unlink(missing_ok=True)
        except PermissionError:
            # Windows refuses to unlink a read-only file; POSIX only looks at the folder.
            os.chmod(path, 0o644)
            path.unlink(missing_ok=True)
    except OSError:
        if strict:
            raise


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the platform allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def open_artifact_store(location: str | os.PathLike[str]) -> ArtifactStore:
    """The artifact store at ``location``: a local folder, given as a path or ``file://`` URL.

    Parameters
    ----------
    location
        A path (``artifacts``, ``/srv/wk/artifacts``) or a ``file://`` URL
        (``file:///srv/wk/artifacts``).

    Returns
    -------
    ArtifactStore
        A :class:`LocalArtifactStore`.

    Raises
    ------
    InvalidParameterError
        If ``location`` is a URL with another scheme (``s3://``, ``gs://``...), or a
        ``file://`` URL naming a remote host.
    """
    if isinstance(location, os.PathLike):
        return LocalArtifactStore(location)
    if not isinstance(location, str):
        raise InvalidParameterError(
            "The artifact store location must be a path or a file:// URL. "
            f"Got {location!r} instead."
        )
    match = _URL_SCHEME.match(location)
    # A one-letter "scheme" is a Windows drive letter (C://data), not a URL.
    if match is None or len(match.group(1)) == 1:
        return LocalArtifactStore(location)
    scheme = match.group(1).lower()
    if scheme != "file":
        raise InvalidParameterError(
            f"The artifact store location {location!r} uses the {scheme!r} scheme, but only "
            "local folders (a path or a file:// URL) are supported in this release. "
            "Give a local folder instead."
        )
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    parts = urlsplit(location)
    if parts.netloc not in ("", "localhost"):
        raise InvalidParameterError(
            f"The artifact store location {location!r} names the host {parts.netloc!r}, but "
            "only local folders are supported in this release. "
            "Use file:///absolute/path (three slashes) or a plain path."
        )
    return LocalArtifactStore(url2pathname(parts.path))
