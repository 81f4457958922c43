"""Reading a request file a person hands the CLI (an invoice or batch body, a scenario): one rule.

A file is UTF-8 text, as JSON requires; a byte-order mark (how Notepad and Excel often save UTF-8) is taken and
dropped. Anything else is refused by name, with how to fix it, never a traceback. A file is read up to the
bound of an HTTP request body (engine/limits.REQUEST_BODY_MAX): the same request is refused the same way
whichever front end it came through.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BillsimError, ValidationError
from .limits import REQUEST_BODY_MAX


def read_request_text(path: Path, what: str, error: type[BillsimError] = ValidationError) -> str:
    """The text of the request file `path`, named `what` in a refusal (`error`: validation_error unless the
    caller names its own)."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(REQUEST_BODY_MAX + 1)
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}") from None
    if len(data) > REQUEST_BODY_MAX:
        raise error(f"{what} is larger than {REQUEST_BODY_MAX // (1024 * 1024)} MiB, the bound of one request")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} is not UTF-8 text (byte {exc.start + 1} cannot be read): save it as UTF-8 and try again"
        ) from None
