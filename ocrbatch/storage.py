"""Object storage addressed by URI: ``s3://bucket/key`` on AWS, a folder on this machine in local mode.

Everything that moves bytes (dataset upload/fetch, checkpoint sync, artifact publish/download) talks to
an :class:`ObjectStore`, never to botocore or the filesystem directly, so the same code serves both
backends. The S3 store takes an injected client (or a factory it calls on first use); nothing here
builds clients.

Writes are atomic in both stores: S3 PUTs are, and the local store writes a temporary file and renames
it. So a reader sees either the old object or the new one, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol
from urllib.parse import unquote, urlparse

from ocrbatch.errors import BadInput, NotFound


Progress = Callable[[int], None]  # told of each number of bytes moved, as they move


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class ObjectStore(Protocol):
    """A flat key space (like one bucket). Keys use ``/`` and never start with it."""

    def uri(self, key: str = "") -> str: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        """Upload ``path``; ``progress(n)`` is told of every ``n`` bytes sent as they go."""

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        """Download to ``path``; ``progress(n)`` is told of every ``n`` bytes received as they come."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def delete(self, key: str) -> None: ...


STORE_MARKER = ".ocrbatch-store"


class LocalStore:
    """A folder that behaves like a bucket: local mode's store, also handy in tests.

    The root holds a marker file so that a ``file://`` URI pointing anywhere inside the store can be
    split back into (store root, key), the way ``s3://bucket/key`` is.
    """

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / STORE_MARKER).touch(exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise BadInput(f"key escapes the store: {key!r}")
        return path

    def uri(self, key: str = "") -> str:
        return self.root.as_uri() + ("/" + key if key else "")

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if progress:
            progress(target.stat().st_size)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no such object: {self.uri(key)}") from None

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        source = self._path(key)
        if not source.is_file():
            raise NotFound(f"no such object: {self.uri(key)}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        if progress:
            progress(source.stat().st_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Walk only the deepest folder the prefix names, as S3 would only list matching keys.
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(".tmp-") or name == STORE_MARKER:
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield ObjectInfo(key=key, size=full.stat().st_size)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store:
    """One S3 bucket through an injected botocore (or boto3) S3 client.

    A missing key usually answers 404, but S3 answers 403 instead when the caller may not list the
    bucket root, which is the case for the training job's role (it may list only under datasets/ and
    runs/). So a 403 is double-checked with a listing of the key itself before it is called missing.
    """

    def __init__(self, client, bucket: str, *, transfer_config=None):
        self._client = client
        self.bucket = bucket
        self._make_client = None
        self._quick_get = None
        self._quick_list = None
        # s3transfer's TransferConfig, or a function making one when the first file moves (so that
        # commands moving none never import s3transfer); None: s3transfer's defaults.
        self._transfer_config = transfer_config
        self._transfer_manager = None
        self._lock = threading.Lock()

    @classmethod
    def deferred(cls, make_client, bucket: str, *, quick_get=None, quick_list=None, transfer_config=None) -> "S3Store":
        """A store that builds its client on first use. Until then, reads of small objects ask
        ``quick_get(bucket, key)`` first and listings ``quick_list(bucket, prefix)`` (see
        ``ocrbatch.quick_s3``), and only their None builds the client: an unchanged re-upload is
        then over without one."""
        store = cls(None, bucket, transfer_config=transfer_config)
        store._make_client = make_client
        store._quick_get = quick_get
        store._quick_list = quick_list
        return store

    @property
    def client(self):
        if self._client is None:
            with self._lock:  # fetch's download threads may all ask at once
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    @property
    def _transfers(self):
        """The store's one s3transfer TransferManager (what boto3's upload_file wraps): multipart
        for large files, parts in parallel, retried on its own; errors surface as ClientErrors.
        Built on first use: its import alone costs a command that moves no file ~30 ms."""
        if self._transfer_manager is None:
            client = self.client
            with self._lock:
                if self._transfer_manager is None:
                    from s3transfer.manager import TransferManager

                    config = self._transfer_config
                    config = config() if callable(config) else config
                    self._transfer_manager = TransferManager(client, config=config)
        return self._transfer_manager

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        _wait(self._transfers.upload(str(path), self.bucket, key, subscribers=_subscribers(progress)))

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        if self._client is None and self._quick_get is not None:
            data = self._quick_get(self.bucket, key)
            if data is not None:
                return data
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise NotFound(f"no such object: {self.uri(key)}") from None
        except ClientError as err:
            if self._missing(key, err):
                raise NotFound(f"no such object: {self.uri(key)}") from None
            raise

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        from botocore.exceptions import ClientError

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            _wait(self._transfers.download(self.bucket, key, str(path), subscribers=_subscribers(progress)))
        except ClientError as err:
            if self._missing(key, err):
                raise NotFound(f"no such object: {self.uri(key)}") from None
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as err:
            if self._missing(key, err):
                return False
            raise

    def _missing(self, key: str, err) -> bool:
        """Does this error mean the key does not exist? A 403 only if a listing of the key proves it."""
        from botocore.exceptions import ClientError

        error = err.response.get("Error", {})
        if error.get("Code") in ("404", "NoSuchKey", "NotFound"):
            return True
        if error.get("Code") not in ("403", "AccessDenied", "Forbidden"):
            return False
        try:
            listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        except ClientError:
            return False  # not allowed to list either: a real denial, reported as such
        return not any(item["Key"] == key for item in listed.get("Contents", []))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        if self._client is None and self._quick_list is not None:
            found = self._quick_list(self.bucket, prefix)
            if found is not None:
                yield from (ObjectInfo(key=key, size=size) for key, size in found)
                return
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(key=item["Key"], size=item["Size"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def _wait(transfer) -> None:
    """The transfer's result; interrupted (Ctrl-C), it is cancelled rather than left running."""
    try:
        transfer.result()
    except BaseException:
        transfer.cancel()
        raise


def _subscribers(progress: Progress | None) -> list:
    if progress is None:
        return []
    from s3transfer.subscribers import BaseSubscriber

    class BytesMoved(BaseSubscriber):
        def on_progress(self, future, bytes_transferred, **kwargs):
            progress(bytes_transferred)

    return [BytesMoved()]


def split_uri(uri: str) -> tuple[str, str, str]:
    """``s3://b/k`` -> ("s3", "b", "k"); a ``file://`` URI or plain path inside a local store ->
    ("file", store root, key); a path outside any store -> ("file", path, "")."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise BadInput(f"S3 URI has no bucket: {uri!r}")
        return "s3", parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme in ("file", ""):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else uri).resolve()
        for root in (path, *path.parents):
            if (root / STORE_MARKER).is_file():
                key = "" if path == root else path.relative_to(root).as_posix()
                return "file", str(root), key
        return "file", str(path), ""
    raise BadInput(f"unsupported storage URI {uri!r}: use s3://bucket/key or a local path")


def store_at(
    uri: str, *, make_s3_client: Callable[[], object] | None = None, transfer_config=None
) -> tuple[ObjectStore, str]:
    """Return the store holding ``uri`` and the key within it; an S3 store calls ``make_s3_client``
    when it first needs its client, and moves files as ``transfer_config`` says.

    For ``file:`` URIs the whole path is the store root and the key is empty: local stores are
    opened at their root folder and addressed by key from there.
    """
    scheme, where, key = split_uri(uri)
    if scheme == "s3":
        if make_s3_client is None:
            raise BadInput(f"{uri} is in S3, and no S3 client was given to reach it")
        return S3Store.deferred(make_s3_client, where, transfer_config=transfer_config), key
    return LocalStore(Path(where)), key
