"""Uploaded files (``POST /v1/files``) and the files batches write, kept in memory.

Only what the Batch API needs: upload with a purpose, metadata, content, delete. Batch input
and output files expire after 30 days, as upstream's do by default; an expired or deleted
file answers 404 like one that never existed.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass

from sandbox.openai_responses import JSON

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_EXPIRING = frozenset({"batch", "batch_output"})
_FILE_TTL = 30 * 86_400
_ALPHABET = string.ascii_letters + string.digits


def new_file_id() -> str:
    """Ids shaped like upstream's: ``file-`` and 22 letters or digits."""
    return "file-" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


@dataclass(frozen=True)
class StoredFile:
    """One file and its bytes."""

    id: str
    created_at: float
    filename: str
    purpose: str
    content: bytes

    @property
    def expires_at(self) -> float | None:
        """Batch files expire; others are kept until deleted."""
        return self.created_at + _FILE_TTL if self.purpose in _EXPIRING else None

    def render(self) -> JSON:
        """The ``OpenAIFile`` object."""
        body: JSON = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": int(self.created_at),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }
        if self.expires_at is not None:
            body["expires_at"] = int(self.expires_at)
        return body


class FileStore:
    """Files by id, behind a short-held lock."""

    def __init__(self) -> None:
        """An empty store."""
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}

    def add(self, file: StoredFile) -> StoredFile:
        """Store ``file`` unless one with its id exists; return the stored one."""
        with self._lock:
            return self._files.setdefault(file.id, file)

    def get(self, file_id: str, now: float) -> StoredFile | None:
        """The file, unless unknown, deleted or expired."""
        with self._lock:
            found = self._files.get(file_id)
        if found is None or (found.expires_at is not None and now >= found.expires_at):
            return None
        return found

    def delete(self, file_id: str) -> bool:
        """Forget a file; ``False`` if there was none."""
        with self._lock:
            return self._files.pop(file_id, None) is not None

    def clear(self) -> None:
        """Forget every file (sandbox reset)."""
        with self._lock:
            self._files.clear()

    def __len__(self) -> int:
        """How many files are stored."""
        return len(self._files)
