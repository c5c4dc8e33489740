"""The worker's side of certificate storage: read an object to scan it, delete one whose row
is gone. The same two places the edge writes to: a local directory, or a private Supabase
Storage bucket (storage3) when SUPABASE_URL and a service key are set."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Protocol

import httpx


class StorageError(Exception):
    """Storage could not be reached or refused: the job is retried."""


class MissingObjectError(StorageError):
    """Storage answered that there is no such object."""


class Store(Protocol):
    async def read(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


def _checked(key: str) -> str:
    if "/" in key or key.startswith(".") or not key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def read(self, key: str) -> bytes:
        path = self.root / _checked(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise MissingObjectError(f"no object {key}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror}") from exc

    async def delete(self, key: str) -> None:
        path = self.root / _checked(key)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)

    async def close(self) -> None:
        return None


class SupabaseStore:
    """storage3 is imported only when Supabase Storage is configured: it is most of the
    worker's start-up time otherwise."""

    def __init__(self, url: str, service_key: str, bucket: str, timeout_s: float = 30.0) -> None:
        from storage3 import AsyncStorageClient

        headers = {"apikey": service_key, "Authorization": f"Bearer {service_key}"}
        client = httpx.AsyncClient(headers=headers, timeout=timeout_s)
        self._client = AsyncStorageClient(f"{url.rstrip('/')}/storage/v1/", headers, http_client=client)
        self._bucket = bucket

    async def read(self, key: str) -> bytes:
        from storage3.exceptions import StorageApiError

        try:
            return await self._client.from_(self._bucket).download(_checked(key))
        except StorageApiError as exc:
            if str(exc.status) == "404" or exc.code == "not_found":
                raise MissingObjectError(f"no object {key}") from exc
            raise StorageError(f"Supabase Storage could not give {key}: {exc.message}") from exc
        except httpx.HTTPError as exc:
            raise StorageError(f"Supabase Storage could not give {key}: {exc!r}") from exc

    async def delete(self, key: str) -> None:
        from storage3.exceptions import StorageApiError

        try:
            await self._client.from_(self._bucket).remove([_checked(key)])
        except (httpx.HTTPError, StorageApiError) as exc:
            raise StorageError(f"Supabase Storage could not delete {key}: {exc}") from exc

    async def close(self) -> None:
        await self._client.session.aclose()
