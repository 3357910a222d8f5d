"""Creates that run at most once even when an answer is lost.

A create is never blindly re-sent after a failure that may have reached the server: the
caller's ``lookup`` is asked first whether the object already exists, and a name-in-use
error after such a failure is resolved by the same lookup. See docs/tencentcloud-client.md.
Never retries when the outcome cannot be established; it raises the transport error instead.
Any error raised after an attempt that may have run carries ``create_outcome_unknown``: the
caller must then keep what would delete the object (its write-ahead-log entry).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .deadline import DeadlineLike
from .errors import AlreadyExistsError, CallCancelledError, TencentCloudError, TransportError
from .transport import Reply, Service, Transport

log = logging.getLogger(__name__)

T = TypeVar("T")


def create_once(
    transport: Transport,
    service: Service,
    action: str,
    params: Mapping[str, Any],
    *,
    decode: Callable[[Reply], T],
    lookup: Callable[[], T | None] | None,
    region: str | None = None,
    deadline: DeadlineLike = None,
) -> T:
    """Run a create; after a possibly-sent failure, look before sending again.

    ``lookup`` returns the object when it exists (the lost create succeeded) or None.
    Without a lookup the outcome cannot be known, so the failure is raised as is.
    """
    attempt = 0
    uncertain = False
    try:
        while True:
            attempt += 1
            try:
                reply = transport.call(
                    service, action, params, region=region, deadline=deadline, retry_sent=False
                )
                return decode(reply)
            except CallCancelledError:
                raise
            except TransportError as exc:
                # A request that never left cannot have created anything: looking the name
                # up then could adopt somebody else's object (and, for AddUser, drop its keys).
                if lookup is None or not (exc.possibly_sent or uncertain):
                    raise
                uncertain = True
                log.info("%s: answer lost (%s); checking whether it ran", action, exc.code)
                found = lookup()
                if found is not None:
                    log.info("%s: it ran; using the existing object", action)
                    return found
                transport.backoff(attempt, deadline, exc)
            except AlreadyExistsError:
                if not uncertain or lookup is None:
                    raise
                found = lookup()
                if found is None:
                    raise
                log.info("%s: name in use after a lost answer; it was ours", action)
                return found
    except TencentCloudError as exc:
        # Whatever failed after an attempt that may have run (the lookup, a later attempt,
        # the recovery of a lost answer) leaves the object possibly in place.
        if uncertain or (isinstance(exc, TransportError) and exc.possibly_sent):
            exc.create_outcome_unknown = True
        raise
