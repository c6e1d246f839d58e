"""Files with personal data or secrets, readable by their owner only (mode 0600).

A file's mode is set when it is created (``os.open``'s mode, under the umask), so there is
no moment at which another local user could open it; an existing file being overwritten
is narrowed too, since ``os.open`` keeps an existing file's mode.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600


def open_private(path: Path) -> BinaryIO:
    """``path`` opened for writing (created or emptied) with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    with open_private(path) as out:
        out.write(data)


def create_once(path: Path, data: bytes) -> bool:
    """Create ``path`` (mode 0600) holding ``data`` unless it exists; True if created.

    The content is written to a temporary file (created 0600) in the same directory
    first and then linked into place, which fails if ``path`` exists meanwhile: a reader
    never sees a half-written file, and of two processes creating it at once, one wins
    and the other reads the winner's (a rename would let the second overwrite a key the
    first is already encrypting with).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: create it in place, exclusively
            return _create_in_place(path, data)
        return True
    finally:
        os.unlink(tmp)


def _create_in_place(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return True
