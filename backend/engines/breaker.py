"""A circuit breaker per remote server, so a dead server costs one timeout, not one per request."""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed; open after ``threshold`` consecutive failures; half-open after ``cooldown_s``, when one
    caller may try; its success closes the circuit, its failure opens it for another cool-down."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.cooldown_s else "open"

    def available(self) -> bool:
        state = self.state
        return state == "closed" or (state == "half-open" and not self._probing)

    def acquire(self) -> bool:
        """Take the right to send now; while half-open only the first caller gets it."""
        if not self.available():
            return False
        if self.state == "half-open":
            self._probing = True
        return True

    def success(self) -> None:
        self.failures, self.opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            self.opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """The try ended without a verdict (its caller went away)."""
        self._probing = False

    def retry_in_s(self) -> float:
        return 0.0 if self.opened_at is None else max(0.0, self.opened_at + self.cooldown_s - self._clock())
