"""The base every dataset module builds on: find on disk, verify, load.

A dataset module subclasses `Source` with its names, its prepare command and
three methods. `grader.data.load_dataset` and `grader data status` only ever
talk to this interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.data.dataset import Dataset, DatasetMissing


@dataclass
class Found:
    """Where a dataset was found and in which of its layouts."""

    path: Path
    layout: str
    files: list[Path] = field(default_factory=list)

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.is_file())


@dataclass
class Verification:
    """``state`` is ``verified`` (digests match the official or the prepared
    manifest), ``mismatch`` (they differ: the data may be altered), or
    ``unchecked`` (no reference digest exists for this layout)."""

    state: str
    detail: str = ""


class Source:
    name: str = ""
    description: str = ""
    #: What makes a missing dataset appear: a command or a system package.
    prepare: str = ""
    #: Where the files are expected under a search root, for messages.
    expected: str = ""

    def find(self, roots: list[Path]) -> Found | None:
        raise NotImplementedError

    def verify(self, found: Found) -> Verification:
        return Verification("unchecked", "no reference digest for this layout")

    def counts(self, found: Found) -> dict[str, int]:
        """Sample counts per split, as cheaply as the format allows."""
        return self.load(found).sizes()

    def load(self, found: Found, **options: object) -> Dataset:
        raise NotImplementedError

    def missing(self, roots: list[Path]) -> DatasetMissing:
        return not_found("dataset", self.name, self.expected, roots, self.prepare)


def not_found(kind: str, name: str, expected: str, roots: list[Path],
              prepare: str) -> DatasetMissing:
    """The error for data (a dataset, a weights file) that is nowhere on disk:
    where it was looked for and what would put it there."""
    where = ", ".join(str(r) for r in roots)
    return DatasetMissing(
        name,
        f"{kind} {name!r} not found: looked for {expected} under {where}. "
        f"To make it available: {prepare}. Nothing is downloaded by the grader.",
        prepare,
    )
