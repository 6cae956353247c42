"""Documents on a case: PDFs and images, checked by content and stored outside the web root by content hash.

The type is read from the file's first bytes, never from its name or the browser's claim; a file larger than
the limit or of another type is refused with a clear message and nothing is stored. The bytes go to
`<document_dir>/<aa>/<sha256>` (written once, then only read): the same scan uploaded twice is stored once.
Every upload is audited. Downloads are always attachments, with the stored type.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
import uuid
from pathlib import Path

import sqlalchemy as sa

from workflows import audit, schema
from workflows.context import Ctx
from workflows.errors import InvalidInputError

SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
MAX_NAME = 200


def sniff(content: bytes) -> tuple[str, str] | None:
    """(media type, extension) by the file's magic bytes, or None for anything but PDF, PNG and JPEG."""
    for magic, media_type, extension in SIGNATURES:
        if content.startswith(magic):
            return media_type, extension
    return None


def safe_filename(name: str, extension: str) -> str:
    """The user's file name without paths or control characters, with the extension its content has."""
    base = Path(name.replace("\\", "/")).name
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable() and ch not in '<>:"/|?*')
    stem = Path(base).stem.strip(" .") or "dokument"
    return f"{stem[:MAX_NAME]}{extension}"


def store(ctx: Ctx, *, instance_id: str, filename: str, content: bytes) -> schema.Document:
    """Check and keep an uploaded file; raises InvalidInputError with the reason when it is refused."""
    limit = ctx.settings.max_document_bytes
    if not content:
        raise InvalidInputError("The file is empty.")
    if len(content) > limit:
        raise InvalidInputError(f"The file is larger than {limit // 1_000_000} MB.")
    kind = sniff(content)
    if kind is None:
        raise InvalidInputError("Only PDF, PNG and JPEG files can be uploaded (checked by the file's content).")
    media_type, extension = kind
    digest = hashlib.sha256(content).hexdigest()
    _write_once(path_of(ctx.settings.document_dir, digest), content)
    document = schema.Document(
        id=str(uuid.uuid4()), instance_id=instance_id, filename=safe_filename(filename, extension),
        media_type=media_type, size=len(content), sha256=digest, uploaded_by=ctx.actor.id, uploaded_at=ctx.now())
    ctx.session.add(document)
    ctx.session.flush()
    audit.record(ctx, "document_uploaded", instance_id=instance_id, details={
        "document_id": document.id, "filename": document.filename, "media_type": media_type, "size": len(content),
        "sha256": digest})
    return document


def path_of(document_dir: str, digest: str) -> Path:
    return Path(document_dir) / digest[:2] / digest


def _write_once(path: Path, content: bytes) -> None:
    """Write atomically; an existing file with this hash already holds exactly these bytes."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as target:
            target.write(content)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def for_instance(ctx: Ctx, instance_id: str) -> list[schema.Document]:
    query = sa.select(schema.Document).where(schema.Document.instance_id == instance_id)
    return list(ctx.session.scalars(query.order_by(schema.Document.uploaded_at)))


def get(ctx: Ctx, document_id: str) -> schema.Document | None:
    return ctx.session.get(schema.Document, document_id)


def read(ctx: Ctx, document: schema.Document) -> bytes:
    """The stored bytes; audited, since reading a case's documents is access to personal data."""
    content = path_of(ctx.settings.document_dir, document.sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise InvalidInputError(f"The stored file of document {document.id} is damaged.")
    audit.record(ctx, "document_downloaded", instance_id=document.instance_id,
                 details={"document_id": document.id, "filename": document.filename})
    return content
