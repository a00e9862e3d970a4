"""Stage a file for its person: kept under MEDIA_ROOT/staged/<key>/ until its mapping is confirmed.

The session remembers which keys are this person's, so nobody else can map or read them; it holds the newest
MAX_STAGED, and the files of older ones are removed.
"""

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from transactions.files import UnreadableFile, check_readable, file_columns

SESSION_KEY = "detection_staged_uploads"
STAGED_DIR = "staged"
MAX_STAGED = 5


@dataclass(frozen=True)
class StagedUpload:
    key: str
    name: str
    path: str  # relative to MEDIA_ROOT
    columns: list[str]

    @property
    def absolute(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.path

    @contextmanager
    def file(self) -> Iterator[File]:
        """The staged file, open, under the name it was uploaded with."""
        with self.absolute.open("rb") as handle:
            yield File(handle, name=self.name)


class UploadTooLarge(ValueError):
    """A file past FILE_UPLOAD_MAX_BYTES, the one size limit of every upload: the jobs API, the upload and the
    backtest pages."""

    def __init__(self):
        limit = settings.FILE_UPLOAD_MAX_BYTES
        super().__init__(f"The file is larger than the upload limit of {limit:,} bytes (FILE_UPLOAD_MAX_BYTES).")


def upload_size_check(size: int | None) -> None:
    """Raise UploadTooLarge for a file (or a request body) of more than FILE_UPLOAD_MAX_BYTES."""
    if size is not None and size > settings.FILE_UPLOAD_MAX_BYTES:
        raise UploadTooLarge


def staged_upload_create(*, session, upload) -> StagedUpload:
    """Keep the file and read its header; UploadTooLarge, or UnreadableFile if it is not CSV or Parquet or not
    UTF-8 throughout (nothing kept either way)."""
    upload_size_check(upload.size)
    key = uuid.uuid4().hex
    suffix = Path(upload.name).suffix.lower()
    relative = f"{STAGED_DIR}/{key}/upload{suffix}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    try:
        check_readable(target)
        columns = [str(c) for c in file_columns(target)]
    except UnreadableFile:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure means the file is not what it claims
        shutil.rmtree(target.parent, ignore_errors=True)
        raise UnreadableFile(f"The file could not be read as CSV or Parquet ({type(exc).__name__}).") from exc
    staged = StagedUpload(key=key, name=Path(upload.name).name[:255], path=relative, columns=columns)
    entries = [*session.get(SESSION_KEY, []), asdict(staged)]
    for old in entries[:-MAX_STAGED]:
        _remove_staged_file(old["path"])
    session[SESSION_KEY] = entries[-MAX_STAGED:]
    return staged


def staged_upload_discard(*, session, key: str) -> None:
    """Forget a staged file and remove it, once a job or a run has its own copy."""
    entries = session.get(SESSION_KEY, [])
    for entry in entries:
        if entry["key"] == key:
            _remove_staged_file(entry["path"])
    session[SESSION_KEY] = [e for e in entries if e["key"] != key]


def _remove_staged_file(relative: str) -> None:
    shutil.rmtree((Path(settings.MEDIA_ROOT) / relative).parent, ignore_errors=True)
