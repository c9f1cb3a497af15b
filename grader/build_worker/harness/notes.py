"""The run's notes: each stand-in or skipped line said once, with where it happened."""

from __future__ import annotations


class Notes:
    """Notes keyed by what they are about, in the order they first happened.

    ``add(key, text, where)`` keeps the first text for a key and collects the places;
    ``render()`` writes each note once: ``text (code cell 1, code cell 4)``.
    """

    MAX_PLACES = 5

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._places: dict[str, list[str]] = {}

    def add(self, key: str, text: str, where: object | None = None) -> None:
        self._texts.setdefault(key, text)
        places = self._places.setdefault(key, [])
        if where is not None and str(where) not in places:
            places.append(str(where))

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def render(self) -> list[str]:
        out = []
        for key, text in self._texts.items():
            places = self._places[key]
            if places:
                shown = ", ".join(places[: self.MAX_PLACES])
                more = len(places) - self.MAX_PLACES
                text += f" ({shown}{f' and {more} more' if more > 0 else ''})"
            out.append(text)
        return out
