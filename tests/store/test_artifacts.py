"""The local artifact store: content addressing, atomic writes, read-only files, verification."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from watchkeeper.errors import (
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    InvalidParameterError,
)
from watchkeeper.store.artifacts import (
    BLOCK_SIZE,
    ArtifactRef,
    ArtifactStore,
    LocalArtifactStore,
    open_artifact_store,
    sha256_bytes,
    sha256_file,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _tamper(path: Path) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_local_store_satisfies_the_protocol(store: LocalArtifactStore) -> None:
    assert isinstance(store, ArtifactStore)


def test_root_is_created_on_first_write_only(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "later")
    assert not (tmp_path / "later").exists()
    store.put_bytes(b"x")
    assert (tmp_path / "later").is_dir()


def test_put_bytes_round_trip_layout_and_mode(store: LocalArtifactStore) -> None:
    data = b"a model, more or less"
    ref = store.put_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert ref == ArtifactRef(sha256=digest, uri=ref.uri, size=len(data))
    path = store.root / "sha256" / digest[:2] / digest
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert ref.uri == path.as_uri()
    assert ref.uri.startswith("file:///")
    assert store.uri_for(digest) == ref.uri
    assert store.get_bytes(digest) == data
    assert _files(store.root) == [path]  # no temporary file left behind


def test_put_file_streams_across_blocks(store: LocalArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(3 * BLOCK_SIZE + 123)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    ref = store.put_file(source)
    assert ref.sha256 == hashlib.sha256(data).hexdigest() == sha256_file(source)
    assert ref.size == len(data)
    assert store.get_bytes(ref.sha256) == data
    with store.local_path(ref.sha256) as path:
        assert path == store.root / "sha256" / ref.sha256[:2] / ref.sha256
        assert path.read_bytes() == data
    # The same content through put_bytes is the same artifact.
    assert store.put_bytes(data) == ref
    assert len(_files(store.root)) == 1


def test_put_is_idempotent_and_does_not_rewrite(store: LocalArtifactStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"same content")
    path = store.root / "sha256" / ref.sha256[:2] / ref.sha256
    old = path.stat().st_mtime_ns - 10_000_000_000
    os.utime(path, ns=(old, old))
    assert store.put_bytes(b"same content") == ref
    source = tmp_path / "same.bin"
    source.write_bytes(b"same content")
    assert store.put_file(source) == ref
    assert path.stat().st_mtime_ns == old
    assert _files(store.root) == [path]


def test_exists_and_delete(store: LocalArtifactStore) -> None:
    ref = store.put_bytes(b"to be removed")
    other = store.put_bytes(b"to be kept")
    assert store.exists(ref.sha256)
    store.delete(ref.sha256)
    assert not store.exists(ref.sha256)
    store.delete(ref.sha256)  # missing is fine
    assert store.exists(other.sha256)
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes(ref.sha256)


def test_tampered_artifact_is_refused_and_others_still_served(
    store: LocalArtifactStore,
) -> None:
    ref = store.put_bytes(b"the original bytes of a model")
    other = store.put_bytes(b"an untouched artifact")
    path = store.root / "sha256" / ref.sha256[:2] / ref.sha256
    _tamper(path)
    found = sha256_file(path)
    with pytest.raises(ArtifactIntegrityError) as info:
        store.get_bytes(ref.sha256)
    message = str(info.value)
    for part in (ref.sha256, found, str(path), "changed after it was stored", "will not be loaded"):
        assert part in message
    with pytest.raises(ArtifactIntegrityError, match=found), store.local_path(ref.sha256):
        pytest.fail("the body must not run for a tampered artifact")
    assert store.get_bytes(other.sha256) == b"an untouched artifact"
    with store.local_path(other.sha256) as ok:
        assert ok.read_bytes() == b"an untouched artifact"


def test_missing_artifact_names_sha256_and_root(store: LocalArtifactStore) -> None:
    digest = sha256_bytes(b"never stored")
    with pytest.raises(ArtifactNotFoundError) as info:
        store.get_bytes(digest)
    assert digest in str(info.value)
    assert str(store.root) in str(info.value)
    with pytest.raises(ArtifactNotFoundError), store.local_path(digest):
        pytest.fail("unreachable")
    assert not store.exists(digest)
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "../" + "a" * 61,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 64 + "\n",
        "",
        None,
        b"a" * 64,
    ],
)
def test_malformed_sha256_is_rejected(store: LocalArtifactStore, bad: object) -> None:
    for method in (store.get_bytes, store.exists, store.delete, store.uri_for):
        with pytest.raises(InvalidParameterError, match="64 hexadecimal digits"):
            method(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError), store.local_path(bad):  # type: ignore[arg-type]
        pytest.fail("unreachable")


def test_uppercase_sha256_is_accepted_as_lowercase(store: LocalArtifactStore) -> None:
    ref = store.put_bytes(b"case")
    assert store.exists(ref.sha256.upper())
    assert store.get_bytes(ref.sha256.upper()) == b"case"
    assert store.uri_for(ref.sha256.upper()) == ref.uri


def test_artifact_ref_validates_its_fields() -> None:
    with pytest.raises(InvalidParameterError, match="lowercase"):
        ArtifactRef(sha256="A" * 64, uri="file:///x", size=1)
    with pytest.raises(InvalidParameterError, match="size"):
        ArtifactRef(sha256="a" * 64, uri="file:///x", size=-1)


def test_failed_write_leaves_nothing_behind(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ArtifactError, match="No space left on device"):
        store.put_bytes(b"never lands")
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(BLOCK_SIZE + 1))
    with pytest.raises(ArtifactError, match="renaming the temporary file"):
        store.put_file(source)
    assert _files(store.root) == []
    assert not store.exists(sha256_bytes(b"never lands"))


def test_put_file_of_missing_source(store: LocalArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"missing\.bin"):
        store.put_file(tmp_path / "missing.bin")
    assert _files(store.root) == []


def test_root_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidParameterError, match="must be a folder"):
        LocalArtifactStore(tmp_path / "file")


def test_open_artifact_store_accepts_paths_and_file_urls(tmp_path: Path) -> None:
    for location in (tmp_path, str(tmp_path), tmp_path.as_uri()):
        store = open_artifact_store(location)
        assert isinstance(store, LocalArtifactStore)
        assert store.root == tmp_path.resolve()
    spaced = tmp_path / "with space"
    store = open_artifact_store(spaced.as_uri())
    assert isinstance(store, LocalArtifactStore)
    assert store.root == spaced.resolve()


@pytest.mark.parametrize("location", ["s3://bucket/models", "gs://bucket", "https://x/y"])
def test_open_artifact_store_rejects_remote_schemes(location: str) -> None:
    with pytest.raises(InvalidParameterError, match="only local folders") as info:
        open_artifact_store(location)
    assert location in str(info.value)


def test_open_artifact_store_rejects_remote_file_host() -> None:
    with pytest.raises(InvalidParameterError, match="only local folders"):
        open_artifact_store("file://fileserver/share/artifacts")
