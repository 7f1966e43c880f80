"""Checksums of the files a component saves, verified when it loads.

A component's ``to_disk`` writes ``checksums.json`` next to its files: the
SHA-256 of each file it wrote (paths relative to the component's directory).
``from_disk`` verifies them before reading anything, so a damaged, truncated
or replaced file fails at load with an error naming it, instead of loading
different weights or tables. Directories saved before checksums existed have
no ``checksums.json`` and load without this check (their contents are still
validated as they are read).
"""

import hashlib
import json
from pathlib import Path
from typing import Dict, Iterable

CHECKSUMS = "checksums.json"
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file_:
        for chunk in iter(lambda: file_.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksums(path: Path, names: Iterable[str]) -> None:
    """Write ``checksums.json`` into `path` for the files (or every file of
    the directories) among `names` that exist there."""
    sums: Dict[str, str] = {}
    for name in names:
        target = path / name
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        for file_ in files:
            if file_.is_file():
                sums[file_.relative_to(path).as_posix()] = file_digest(file_)
    (path / CHECKSUMS).write_text(
        json.dumps(sums, indent=0, sort_keys=True) + "\n", encoding="utf8"
    )


def verify_checksums(path: Path, component: str, exclude: Iterable[str] = ()) -> None:
    """Check the files listed in `path`/checksums.json (if there is one),
    except those under the names in `exclude`.

    RAISES (ValueError): Naming the first file that is missing or differs.
    """
    listing = path / CHECKSUMS
    if not listing.exists():
        return
    fix = f"Re-save the pipeline from a working copy, or re-train {component}."
    try:
        sums = json.loads(listing.read_text(encoding="utf8"))
        if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
            raise ValueError("not a mapping of file names to checksums")
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"[{component}] {listing} is damaged ({err}). {fix}") from None
    skip = tuple(exclude)
    for name, expected in sums.items():
        if name.split("/", 1)[0] in skip:
            continue
        file_ = path / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise ValueError(
                f"[{component}] {listing} names a file outside {path}: {name!r}. {fix}"
            )
        if not file_.is_file():
            raise ValueError(f"[{component}] {file_} is missing. {fix}")
        if file_digest(file_) != expected:
            raise ValueError(
                f"[{component}] {file_} was damaged or changed after saving (its checksum differs "
                f"from {listing}). {fix}"
            )
