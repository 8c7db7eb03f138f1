"""Files only the gateway's user may read: the SQLite store (and so its WAL and shared-memory files, which SQLite
creates with the database file's mode) and key files are 0600, the directories the gateway creates for them 0700.

A directory that already exists is the operator's (it may be /srv or a mounted volume) and keeps its mode; a file
of ours that exists is tightened, so a store created by an older version is not left world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """`path` as a directory; every component created here is made 0700."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile: theirs was made by this code too
            continue
        folder.chmod(DIR_MODE)  # mkdir's mode passes through the umask; this does not
    return path


def private_file(path: Path) -> Path:
    """`path` as an existing file of mode 0600 (created empty when missing), in a directory made by `private_dir`."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    path.chmod(FILE_MODE)
    return path
