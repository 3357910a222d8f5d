"""The CVM instance-metadata service's role-credentials path, so a client's "no keys
configured: use the instance role" chain can run against the emulator end to end.

    GET /latest/meta-data/cam/security-credentials/         the bound role's name (text)
    GET /latest/meta-data/cam/security-credentials/<role>   {TmpSecretId, TmpSecretKey, Token,
                                                             ExpiredTime, Expiration, Code}

The role bound to the "instance" comes from the seed (``instance_role``) or the
``instance_role`` option. The credentials are an ordinary role session of the emulator, so
every API call made with them is authenticated and authorized like AssumeRole's. This is the
one place outside the API that hands out secrets, exactly as the real service does; it never
logs them.
"""

from __future__ import annotations

import json

from .core import Emulator
from .ids import iso_utc

PREFIX = "/latest/meta-data/cam/security-credentials/"
# The emulator's choice (CVM does not document one): sessions of two hours, handed out again
# until less than half an hour is left, so callers that refresh early get fresh ones.
SESSION_SECONDS = 7200
REISSUE_BELOW_SECONDS = 1800


def handles(path: str) -> bool:
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def handle(emulator: Emulator, method: str, path: str) -> tuple[int, str, bytes]:
    """Status, content type and body of one metadata request."""
    if method != "GET":
        return 405, "text/plain", b"method not allowed\n"
    name = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else ""
    with emulator.lock:
        world = emulator.world
        bound = world.instance_role
        if bound is None or (name and name != bound[1]):
            return 404, "text/plain", b"Not Found\n"
        if not name:
            return 200, "text/plain", bound[1].encode()
        session = world.instance_session(SESSION_SECONDS, REISSUE_BELOW_SECONDS)
    emulator.changed()
    document = {
        "TmpSecretId": session.tmp_secret_id,
        "TmpSecretKey": session.tmp_secret_key,
        "Token": session.token,
        "ExpiredTime": int(session.expires_at),
        "Expiration": iso_utc(session.expires_at),
        "Code": "Success",
    }
    return 200, "application/json", json.dumps(document).encode()
