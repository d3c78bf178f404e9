"""SKU and order meters report their text again and again; only a change is a context event.
Every source asks the same question, so one piece answers it."""

from __future__ import annotations

from ..records import ContextEvent


class TextChanges:
    """The text each context meter last had."""

    def __init__(self) -> None:
        self._last: dict[int, str] = {}

    def event(self, meter: int, moment: int, text: str) -> ContextEvent | None:
        """The context event for ``text`` at ``moment`` (ns), or ``None`` when it repeats the
        meter's last text."""
        if self._last.get(meter) == text:
            return None
        self._last[meter] = text
        return ContextEvent(meter, moment, text)
