"""Background work off the request path: fire-and-forget coroutines, at most `limit` at once.
A failure is logged and reported as the event `failed`; it never reaches whoever started it."""

import asyncio
import logging
from typing import Any, Callable, Coroutine

logger = logging.getLogger(__name__)


class BoundedTasks:
    def __init__(self, limit: int, on_event: Callable[[str], None], what: str):
        self.limit = limit
        self.on_event = on_event
        self.what = what
        self.in_flight = 0
        self._tasks: set[asyncio.Task] = set()

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limit

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background (the caller checks `full` first); reports `started`."""
        self.in_flight += 1
        self.on_event("started")
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # background work must never affect anything else
            logger.warning("%s failed: %s", self.what, type(exc).__name__)  # never the message: it may echo the prompt
            self.on_event("failed")
        finally:
            self.in_flight -= 1
