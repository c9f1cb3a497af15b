"""What a run prints, kept within a limit: the head and the tail, never an error.

Student scripts print model summaries and training logs, and some print far more; the
run must neither fail nor hold 50 MB because of it."""

from __future__ import annotations

import io


class BoundedText(io.TextIOBase):
    """A text stream that keeps the first and the last ``limit // 2`` characters of
    everything written to it, and counts the rest."""

    def __init__(self, limit: int, name: str) -> None:
        super().__init__()
        self._half = max(1, limit // 2)
        self._head: list[str] = []
        self._head_len = 0
        self._tail: list[str] = []
        self._tail_len = 0
        self.total = 0
        self.name = name

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        written = len(text)
        self.total += written
        room = self._half - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += min(room, len(text))
            text = text[room:]
        if text:
            if len(text) >= self._half:
                self._tail, self._tail_len = [text[-self._half:]], self._half
            else:
                self._tail.append(text)
                self._tail_len += len(text)
                if self._tail_len > 2 * self._half:  # trim now and then, not every write
                    joined = "".join(self._tail)[-self._half:]
                    self._tail, self._tail_len = [joined], len(joined)
        return written

    @property
    def buffer(self) -> _Bytes:
        """``sys.stdout.buffer``: bytes written there are kept as UTF-8 text."""
        return _Bytes(self)

    def getvalue(self) -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)[-self._half:]
        cut = self.total - len(head) - len(tail)
        if cut <= 0:
            return head + tail
        return f"{head}\n[... {cut:,} characters cut by the grader ...]\n{tail}"

    @property
    def truncated(self) -> bool:
        return self.total > 2 * self._half


class _Bytes(io.RawIOBase):
    def __init__(self, text: BoundedText) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._text.write(bytes(data).decode("utf-8", errors="replace"))
        return len(data)
