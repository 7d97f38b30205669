"""The provider's Files and Batch API as a batch job uses them: upload the input file,
create, retrieve, cancel and find a batch, read and delete its files.

Each call is classified and observed like a response call (`worker.provider`): no call is
retried here, and a create whose answer never came may have made a batch (the Batch API,
like responses, takes no idempotency key), which only its metadata can reveal later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import httpx2
import openai
from openai import OpenAI
from openai.types import Batch

Caller = Callable[[str, Callable[[], Any]], Any]

ENDPOINT: Final = "/v1/responses"
WINDOW: Final = "24h"
# Moving a whole input file (up to 200 MB) or output file takes longer than a create.
FILE_TIMEOUT = httpx2.Timeout(300.0, connect=10.0)
FIND_PAGES = 5  # of 100 batches each: a create of the last minutes is among the newest


class BatchApi:
    """Typed access to batches; errors come back classified (`worker.provider.ProviderError`)."""

    def __init__(self, create: OpenAI, read: OpenAI, call: Caller) -> None:
        self._create = create
        self._read = read
        self._files = read.with_options(timeout=FILE_TIMEOUT)
        self._call = call

    def upload(self, filename: str, data: bytes) -> str:
        """Upload a batch input file; its ID. Repeating it makes another file, no batch."""
        made = self._call(
            "files.create",
            lambda: self._files.files.create(file=(filename, data), purpose="batch"),
        )
        return str(made.id)

    def create(self, file_id: str, metadata: dict[str, str]) -> Batch:
        """Start a batch of `/v1/responses` requests, once; not idempotent."""
        made: Batch = self._call(
            "batches.create",
            lambda: self._create.batches.create(
                input_file_id=file_id,
                endpoint=ENDPOINT,
                completion_window=WINDOW,
                metadata=metadata,
            ),
        )
        return made

    def retrieve(self, batch_id: str) -> Batch:
        found: Batch = self._call("batches.retrieve", lambda: self._read.batches.retrieve(batch_id))
        return found

    def cancel(self, batch_id: str) -> Batch:
        """Ask the provider to stop the batch; rows already done stay in its output."""
        found: Batch = self._call("batches.cancel", lambda: self._create.batches.cancel(batch_id))
        return found

    def content(self, file_id: str) -> bytes:
        """A file's bytes (a batch's output or error file)."""
        read = self._call("files.content", lambda: self._files.files.content(file_id).read())
        return bytes(read)

    def delete(self, file_id: str) -> None:
        """Remove a file from the provider once its contents are ours."""
        self._call("files.delete", lambda: self._read.files.delete(file_id))

    def find(self, metadata: dict[str, str], since: datetime) -> Batch | None:
        """The newest batch created since `since` whose metadata has all of `metadata`: a
        create whose answer never came may have made it."""
        found: Batch | None = self._call(
            "batches.list", lambda: self._find(metadata, since.timestamp())
        )
        return found

    def _find(self, metadata: dict[str, str], since: float) -> Batch | None:
        after: str | openai.Omit = openai.omit
        for _ in range(FIND_PAGES):
            page = self._read.batches.list(limit=100, after=after)
            for batch in page.data:
                if batch.created_at < since:
                    return None  # newest first: older ones cannot be the one
                if metadata.items() <= (batch.metadata or {}).items():
                    return batch
            if not page.has_more or not page.data:
                return None
            after = page.data[-1].id
        return None
