"""Where certificate files live, behind one small interface: a local directory by default, or
Supabase Storage (storage3) when SUPABASE_URL and a service key are set. Every call goes through
a circuit breaker: while storage is failing, uploads answer 503 with Retry-After at once, and
reads that need no storage (lists, metadata) go on working.

Objects are written under a name the edge generated. A write is all or nothing: the local
backend writes aside, syncs and renames; Supabase's is one request from a spooled file, so a
client's slow body never holds a storage request open.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Protocol

import httpx
from storage3 import AsyncStorageClient
from storage3._async.file_api import AsyncBucketProxy
from storage3.exceptions import StorageApiError

from edge.breaker import CircuitBreaker
from edge.errors import ServiceUnavailableError

READ_CHUNK = 64 * 1024


class StorageError(Exception):
    """Storage failed (unreachable, full, refused): the request may be retried later."""


class Writer(Protocol):
    async def write(self, chunk: bytes) -> None: ...

    async def commit(self) -> None:
        """Make the object visible under its name, whole."""

    async def abort(self) -> None:
        """Forget what was written; nothing is left under the name."""


class Backend(Protocol):
    name: str

    async def writer(self, key: str, content_type: str) -> Writer: ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class LocalWriter:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._aside = path.with_name(path.name + ".partial")
        # O_EXCL: a generated name is never reused; 0600: only the service's user reads it.
        self._fd = os.open(self._aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    async def write(self, chunk: bytes) -> None:
        # On the event loop: a chunk lands in the page cache, and a thread hop per chunk cost
        # more than the copy (bench/README.md). A disk that pushes back blocks the loop meanwhile.
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    async def commit(self) -> None:
        def finish() -> None:
            try:
                os.fsync(self._fd)
            finally:
                # Closed once: a number closed twice may by then be another file's or socket's.
                os.close(self._fd)
                self._fd = -1
            os.rename(self._aside, self._path)
            # The rename is durable once the directory is synced.
            directory = os.open(self._path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

        await asyncio.to_thread(finish)

    async def abort(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._aside)


class LocalBackend:
    """Files under a directory (mode 0700) that nothing serves statically."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if "/" in key or key.startswith(".") or not key:
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    async def writer(self, key: str, content_type: str) -> Writer:
        path = self._path(key)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            return LocalWriter(path)
        except OSError as exc:
            raise StorageError(f"cannot write {key}: {exc.strerror}") from exc

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 - closed below, across yields
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror}") from exc
        with handle:
            while chunk := handle.read(READ_CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    async def close(self) -> None:
        return None


class SpooledWriter:
    """Supabase Storage takes an object in one request: the body is spooled to a temporary file
    (bounded memory), then uploaded from it."""

    def __init__(self, backend: SupabaseBackend, key: str, content_type: str, spool: IO[bytes]) -> None:
        self._backend = backend
        self._key = key
        self._content_type = content_type
        self._spool = spool

    async def write(self, chunk: bytes) -> None:
        self._spool.write(chunk)

    async def commit(self) -> None:
        self._spool.flush()
        self._spool.seek(0)
        try:
            await self._backend.bucket().upload(
                self._key,
                self._spool.name,
                {"content-type": self._content_type, "upsert": "false", "cache-control": "no-store"},
            )
        except (httpx.HTTPError, StorageApiError) as exc:
            raise StorageError(f"Supabase Storage refused {self._key}: {exc}") from exc
        finally:
            self._spool.close()

    async def abort(self) -> None:
        self._spool.close()


class SupabaseBackend:
    """A private bucket of Supabase Storage, reached with the service key (storage3)."""

    name = "supabase"

    def __init__(
        self, url: str, service_key: str, bucket: str, spool_dir: Path, timeout_s: float = 30.0
    ) -> None:
        self._client = AsyncStorageClient(
            f"{url.rstrip('/')}/storage/v1/",
            {"apikey": service_key, "Authorization": f"Bearer {service_key}"},
            http_client=httpx.AsyncClient(
                headers={"apikey": service_key, "Authorization": f"Bearer {service_key}"},
                timeout=timeout_s,
            ),
        )
        self._bucket = bucket
        self._spool_dir = spool_dir

    def bucket(self) -> AsyncBucketProxy:
        return self._client.from_(self._bucket)

    async def writer(self, key: str, content_type: str) -> Writer:
        try:
            self._spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            spool = tempfile.NamedTemporaryFile(dir=self._spool_dir, prefix="upload-")  # noqa: SIM115
        except OSError as exc:
            raise StorageError(f"cannot spool {key}: {exc.strerror}") from exc
        return SpooledWriter(self, key, content_type, spool)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            data = await self.bucket().download(key)
        except (httpx.HTTPError, StorageApiError) as exc:
            raise StorageError(f"Supabase Storage could not give {key}: {exc}") from exc
        for start in range(0, len(data), READ_CHUNK):
            yield data[start : start + READ_CHUNK]

    async def delete(self, key: str) -> None:
        try:
            await self.bucket().remove([key])
        except (httpx.HTTPError, StorageApiError) as exc:
            raise StorageError(f"Supabase Storage could not delete {key}: {exc}") from exc

    async def close(self) -> None:
        await self._client.session.aclose()


class Storage:
    """A backend behind the storage circuit breaker."""

    def __init__(self, backend: Backend, breaker: CircuitBreaker) -> None:
        self.backend = backend
        self.breaker = breaker

    def unavailable(self, cause: str) -> ServiceUnavailableError:
        retry = max(1, math.ceil(self.breaker.retry_after_s()))
        return ServiceUnavailableError(
            f"File storage is unavailable ({cause}); try again later.",
            retry_after=retry,
            headers={"Retry-After": str(retry)},
        )

    def check(self) -> None:
        """503 at once while the breaker is open."""
        if not self.breaker.allow():
            raise self.unavailable("circuit open")

    def failed(self, exc: Exception) -> ServiceUnavailableError:
        self.breaker.record_failure()
        return self.unavailable(str(exc) if isinstance(exc, StorageError) else type(exc).__name__)

    def succeeded(self) -> None:
        self.breaker.record_success()

    async def writer(self, key: str, content_type: str) -> Writer:
        """A writer whose failures count against the breaker and answer 503."""
        self.check()
        try:
            return GuardedWriter(await self.backend.writer(key, content_type), self)
        except (StorageError, OSError) as exc:
            raise self.failed(exc) from exc

    async def commit(self, writer: Writer) -> None:
        try:
            await writer.commit()
        except (StorageError, OSError) as exc:
            await writer.abort()
            raise self.failed(exc) from exc
        self.succeeded()

    async def discard(self, key: str) -> None:
        """Remove an object no row refers to (a registration failed); a failure leaves an
        orphan, never a row without its file."""
        try:
            await self.backend.delete(key)
        except (StorageError, OSError):
            self.breaker.record_failure()

    async def open_read(self, key: str) -> AsyncIterator[bytes]:
        """The object's chunks, with the first one already read: a storage failure is a 503
        before any header is sent, not a broken download."""
        self.check()
        chunks = aiter(self.backend.read(key))
        try:
            first = await anext(chunks, b"")
        except (StorageError, OSError) as exc:
            raise self.failed(exc) from exc
        self.succeeded()

        async def rest() -> AsyncIterator[bytes]:
            if first:
                yield first
            async for chunk in chunks:
                yield chunk

        return rest()


class GuardedWriter:
    def __init__(self, inner: Writer, storage: Storage) -> None:
        self._inner = inner
        self._storage = storage

    async def write(self, chunk: bytes) -> None:
        try:
            await self._inner.write(chunk)
        except (StorageError, OSError) as exc:
            raise self._storage.failed(exc) from exc

    async def commit(self) -> None:
        await self._inner.commit()

    async def abort(self) -> None:
        await self._inner.abort()
