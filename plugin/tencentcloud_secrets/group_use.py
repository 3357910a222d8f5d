"""Which managed groups this mount is adding users to, and which it is removing, right now.

A role delete (or a change away from cam_user) retires the role's groups and removes each one
that has no members. An issue that read the role just before may be adding its user to that
group at the same moment: counted members first, the join next, the delete last would leave
a lease's user in no group and the delete reporting everything removed. Issues and removals
of one mount run in one process (the active node's), so an in-process gate settles it: a
group with a join in flight is not removed, and a group being removed takes no more joins.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

from tencentcloud_secrets_shim import logical


class GroupUse:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._joining: collections.Counter[int] = collections.Counter()
        self._removing: set[int] = set()

    @contextlib.contextmanager
    def joining(self, group_id: int) -> Iterator[None]:
        """Hold the group open for one AddUserToGroup; refused while it is being removed."""
        with self._lock:
            if group_id in self._removing:
                raise logical.CodedError(
                    409,
                    "the role was changed or deleted while this credential was issued; "
                    "read the credential again",
                )
            self._joining[group_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._joining[group_id] -= 1
                if not self._joining[group_id]:
                    del self._joining[group_id]

    @contextlib.contextmanager
    def removing(self, group_id: int) -> Iterator[bool]:
        """Yields False when a join is in flight (keep the group for later); otherwise True,
        and no join starts until the block ends."""
        with self._lock:
            if self._joining[group_id] or group_id in self._removing:
                free = False
            else:
                self._removing.add(group_id)
                free = True
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self._removing.discard(group_id)
