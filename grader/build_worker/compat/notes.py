"""The notes of one installation of the compatibility layer."""

from __future__ import annotations

from collections.abc import Callable, Hashable


class Compat:
    """What `install()` returns: each use of a Keras 2 spelling, noted once."""

    def __init__(self) -> None:
        # A callable text is read when asked: an alias module's note lists the names
        # taken from it, which are known only after the import statement has run.
        self._notes: dict[Hashable, str | Callable[[], str]] = {}

    def note(self, key: Hashable, text: str | Callable[[], str]) -> None:
        self._notes.setdefault(key, text)

    def notes(self) -> list[str]:
        """The uses seen so far, first use first, each once, with the Keras 3 spelling."""
        texts = (text() if callable(text) else text for text in self._notes.values())
        return [text for text in texts if text]
