"""Attributes the compatibility layer sets on public classes and modules, and their undo."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

_MISSING = object()


class Patches:
    """Sets attributes and remembers what was there, so `undo()` restores it exactly: an
    attribute that was inherited (``keras.Model.fit``) is deleted again, not copied down."""

    def __init__(self) -> None:
        self._done: list[tuple[Any, str, Any, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._done.append((owner, name, vars(owner).get(name, _MISSING), value))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, old, value in reversed(self._done):
            # Someone patched over us since: restoring would drop their patch too.
            if vars(owner).get(name, _MISSING) is not value:
                continue
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
        self._done.clear()


def wraps(original: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """functools.wraps, plus the original's signature for every reader: Keras reads layer
    constructors with inspect.getfullargspec, which ignores __wrapped__ but honours
    __signature__ (a wrapper's own *args would otherwise break its auto-config)."""

    def decorate(wrapper: Callable[..., Any]) -> Callable[..., Any]:
        wrapper = functools.wraps(original)(wrapper)
        wrapper.__signature__ = inspect.signature(original)  # type: ignore[attr-defined]
        return wrapper

    return decorate
