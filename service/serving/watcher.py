"""The thread that looks at the model store for its registry, so that requests never do."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .registry import Registry

log = logging.getLogger("service.serving.watcher")


class Watcher(threading.Thread):
    """Refresh a registry every `interval` seconds until stopped or the registry is gone.

    It holds the registry weakly: an app that is dropped (tests build hundreds) takes its
    watcher with it at the next look. A failed look is logged and the next one comes on time.
    """

    def __init__(self, registry: Registry, interval: float) -> None:
        super().__init__(name="nns-store-watcher", daemon=True)
        self._registry = weakref.ref(registry)
        self.interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        # Looks start an interval apart, however long each takes (back to back if longer).
        next_look = time.monotonic() + self.interval
        while not self._stopped.wait(max(0.0, next_look - time.monotonic())):
            next_look = time.monotonic() + self.interval
            registry = self._registry()
            if registry is None:
                return
            try:
                registry.refresh()
            except Exception:  # noqa: BLE001 - a bug in one look must not end the watching
                log.exception("model store look failed")
            del registry  # between looks the registry is held only weakly

    def stop(self) -> None:
        """Ask the thread to end; it does at once if waiting, else after the current look."""
        self._stopped.set()
