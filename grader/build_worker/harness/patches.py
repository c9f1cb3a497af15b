"""Attributes and modules replaced for the length of a run, and put back after.

Every stand-in goes through here, so the run's end restores exactly what was there:
an attribute a class only inherited is deleted again (not pinned to the parent's
value), and a module that was absent from ``sys.modules`` is absent again."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

_ABSENT = object()


class Patches:
    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        """``setattr(owner, name, value)`` until ``restore()``. For a class, what its own
        ``__dict__`` held is kept (a staticmethod stays a staticmethod)."""
        if isinstance(owner, type):
            before = owner.__dict__.get(name, _ABSENT)
        else:
            before = getattr(owner, name, _ABSENT)
        self._undo.append((owner, name, before))
        setattr(owner, name, value)

    def set_module(self, name: str, module: ModuleType) -> None:
        self._undo.append((sys.modules, name, sys.modules.get(name, _ABSENT)))
        sys.modules[name] = module

    def defer(self, undo: Callable[[], None]) -> None:
        """Calls ``undo`` on ``restore()``, in turn with the other changes."""
        self._undo.append((undo, "", None))

    def restore(self) -> None:
        """Undoes every change, last first; one that cannot be undone does not stop the
        others."""
        while self._undo:
            owner, name, before = self._undo.pop()
            try:
                if name == "" and callable(owner):
                    owner()
                elif owner is sys.modules:
                    if before is _ABSENT:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = before
                elif before is _ABSENT:
                    if name in getattr(owner, "__dict__", {}):
                        delattr(owner, name)
                else:
                    setattr(owner, name, before)
            except (AttributeError, TypeError):
                pass
