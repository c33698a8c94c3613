"""uvicorn's HTTP/1.1 protocol with a deadline on each request's head (slowloris).

uvicorn arms no timer while a request's head is arriving: its keep-alive timer is cancelled by
the first byte, so a client that sends half a request line and then nothing holds the connection
(and a file descriptor) for ever. Here a connection must deliver a whole request head within
``header_timeout_s`` of connecting, or of the previous answer being sent; otherwise it is closed.
The body has its own deadline in the app (``backend.api.middleware.BodyReadTimeoutMiddleware``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)


class DeadlineH11Protocol(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose request head is not complete in time."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    @classmethod
    def with_timeout(cls, header_timeout_s: float) -> type[DeadlineH11Protocol]:
        return type(cls.__name__, (cls,), {"header_timeout_s": header_timeout_s})

    def _arm(self, delay: float) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(delay, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a whole request head has arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # The keep-alive timer closes an idle connection; this one, one that started a request
            # and stopped half-way through its head.
            self._arm(self.timeout_keep_alive + self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        logger.info("closed a connection whose request head did not arrive within %g s", self.header_timeout_s)
        self.transport.close()
