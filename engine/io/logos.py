"""A business's logo (businesses.csv `logo_path`): an image file on the server, found at import and embedded in
its documents (a document fetches nothing)."""

from __future__ import annotations

import base64
from pathlib import Path

LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
LOGO_TYPES[".svg"] = "image/svg+xml"
MAX_LOGO_BYTES = 512 * 1024


def logo_file(name: str, folder: Path) -> Path:
    """The file a logo name means: a full path (or ~/…) as it is, any other name in `folder` (the imported
    folder's, next to businesses.csv)."""
    path = Path(name).expanduser()
    return (path if path.is_absolute() else folder / path).resolve()


def logo_problem(file: Path) -> bool:
    """Whether `file` cannot serve as a logo: not an image file's name, not a readable file, or larger than
    MAX_LOGO_BYTES."""
    try:
        return file.suffix.lower() not in LOGO_TYPES or not file.is_file() or file.stat().st_size > MAX_LOGO_BYTES
    except OSError:
        return True


def logo_data_uri(path: str | None) -> str | None:
    """The logo file as a data URI; None when there is none or it cannot serve (moved or removed since the
    import: the document then shows the business's name)."""
    if not path:
        return None
    file = Path(path).expanduser()
    if logo_problem(file):
        return None
    try:
        data = file.read_bytes()
    except OSError:
        return None
    return f"data:{LOGO_TYPES[file.suffix.lower()]};base64,{base64.b64encode(data).decode('ascii')}"
