"""A run's MetaSchedule JSON database, kept readable whatever dies.

TVM's JSONDatabase appends one JSON line per record and never syncs. A power cut or a full disk
mid-append leaves the last line cut short, and TVM then refuses the whole file ("Unexpected end
of string"): the run cannot resume and `compile_tir` cannot apply it. So before a run opens its
database, a torn last line is moved to `<file>.torn` (nothing is deleted) and the rest is used;
and after each committed batch the files are synced, so that a crash loses at most the batch in
flight.
"""

from __future__ import annotations

import json
import os

DATABASE_FILES = ("database_workload.json", "database_tuning_record.json")


def _sync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: str) -> None:
    try:
        _sync(path)
    except OSError:
        pass  # some file systems cannot sync a directory; the files themselves are synced


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def set_aside_torn_lines(work_dir: str) -> list[str]:
    """Repairs a cut-short last line in each database file of work_dir; one line per repair."""
    said = []
    for name in DATABASE_FILES:
        path = os.path.join(work_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        if not data or data.endswith(b"\n"):
            continue
        start = data.rfind(b"\n") + 1
        last = data[start:]
        with open(path, "r+b") as handle:
            if last.strip() == b"" or _parses(last):
                # Whole, but unterminated: the next append must not glue a record onto it.
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
            else:
                torn = f"{path}.torn"
                with open(torn, "ab") as aside:
                    aside.write(last + b"\n")
                    aside.flush()
                    os.fsync(aside.fileno())
                handle.truncate(start)
                kept = data[:start].count(b"\n")
                said.append(
                    f"{path}: its last line was cut short (a crash while it was written): moved to {torn}; "
                    f"the {kept} line(s) before it are used"
                )
            handle.flush()
            os.fsync(handle.fileno())
    if said:
        _sync_dir(work_dir)
    return said


def sync_database(work_dir: str) -> None:
    """Puts what the database files hold on disk (after a committed batch)."""
    for name in DATABASE_FILES:
        path = os.path.join(work_dir, name)
        if os.path.isfile(path):
            _sync(path)
