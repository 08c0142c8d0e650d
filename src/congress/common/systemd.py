"""systemd's readiness protocol (``sd_notify``) without libsystemd.

Under ``Type=notify`` systemd passes a datagram socket in ``NOTIFY_SOCKET`` (a path, or an
abstract name starting with ``@``); a service sends newline-separated ``KEY=value`` lines to
it: ``READY=1`` once it serves, ``RELOADING=1`` (with ``MONOTONIC_USEC``) when it starts
reloading its configuration and ``READY=1`` when done, ``STOPPING=1`` when it begins to stop,
``STATUS=...`` free text shown by ``systemctl status``. Without ``NOTIFY_SOCKET`` (not run by
systemd, or ``Type=simple``) ``notify`` does nothing.

Imports: the standard library only.
"""

from __future__ import annotations

import logging
import os
import socket
import time

LOG = logging.getLogger(__name__)


def notify(*states: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``states`` (e.g. ``"READY=1"``) to systemd; False when there is no socket or the
    message could not be sent (logged at debug level: never an error for the service)."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address or not states:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        LOG.debug("NOTIFY_SOCKET %r is not a unix socket path: not notifying", address)
        return False
    message = "\n".join(states).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        LOG.debug("could not notify systemd (%s): %s", address, exc)
        return False
    return True


def reloading(status: str = "Reloading configuration") -> bool:
    """``RELOADING=1`` with the monotonic clock, as ``Type=notify-reload`` asks."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}", f"STATUS={status}")
