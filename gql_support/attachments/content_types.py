"""What a file is, told by the server from its first bytes, and what name it is kept under.

The client's Content-Type is never used: a browser would trust it. A type is recognised by its
signature; a ZIP container whose name says it is an office document is that document; bytes that
decode as UTF-8 text are text (CSV, JSON, logs by name); anything else is
``application/octet-stream``. No type a browser would run (HTML, SVG, JavaScript) is ever given.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

OCTET_STREAM = "application/octet-stream"
MAX_FILENAME = 255

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
]

_ZIP_DOCUMENTS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}

_OLE_DOCUMENTS = {
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".msg": "application/vnd.ms-outlook",
}

_TEXTS = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".md": "text/markdown",
}


def _is_text(head: bytes, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character may be cut at the end of the head.
        return not complete and error.start >= len(head) - 3
    return True


def content_type_of(head: bytes, *, filename: str, size: int) -> str:
    """The type the server gives a file, from its first bytes (and its name, to refine them)."""
    suffix = PurePosixPath(filename).suffix.lower()
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            if content_type == "application/zip":
                return _ZIP_DOCUMENTS.get(suffix, content_type)
            if content_type == "application/x-ole-storage":
                return _OLE_DOCUMENTS.get(suffix, OCTET_STREAM)
            return content_type
    if size == 0:
        return OCTET_STREAM
    if _is_text(head, complete=len(head) >= size):
        return _TEXTS.get(suffix, "text/plain") + "; charset=utf-8"
    return OCTET_STREAM


def clean_filename(name: str | None) -> str:
    """The name a file is kept and served under: the last part of any path, without control or
    formatting characters, NFC-normalised, at most 255 characters (keeping the extension)."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in {"C"})
    name = name.strip().strip(".").strip()
    if not name:
        return "attachment"
    if len(name) > MAX_FILENAME:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        name = name[: MAX_FILENAME - len(suffix)] + suffix
    return name
