"""Attachment checks by content (magic bytes), not by name, and content-addressed storage."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import filetype

ALLOWED_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
}
_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


@dataclass
class IncomingFile:
    filename: str
    data: bytes


@dataclass
class CheckedFile:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def check_file(item: IncomingFile, max_bytes: int) -> tuple[CheckedFile | None, str | None]:
    """Return the checked file, or an error code: empty, too_large, bad_type."""
    if not item.data:
        return None, "empty"
    if len(item.data) > max_bytes:
        return None, "too_large"
    kind = filetype.guess(item.data[:8192])
    if kind is None or kind.mime not in ALLOWED_TYPES:
        return None, "bad_type"
    name = _SAFE_NAME.sub("_", os.path.basename(item.filename or "")).strip() or "file"
    stem = os.path.splitext(name)[0][:100]
    return (
        CheckedFile(
            filename=f"{stem}.{ALLOWED_TYPES[kind.mime]}",
            content_type=kind.mime,
            data=item.data,
            sha256=hashlib.sha256(item.data).hexdigest(),
        ),
        None,
    )


def store(folder: str, checked: CheckedFile) -> str:
    """Write once under the content hash: a retried request never duplicates a file."""
    path = os.path.join(folder, checked.sha256[:2], checked.sha256)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(checked.data)
        os.replace(tmp, path)
    return path


def stored_path(folder: str, sha256: str) -> str:
    return os.path.join(folder, sha256[:2], sha256)
