"""Random UUIDs as text, without the ``uuid`` module.

``uuid`` imports ``platform`` and more on load: a third of a megabyte resident in every plugin
process, for the one kind of UUID the plugin makes.
"""

from __future__ import annotations

import os


def random_uuid() -> str:
    """A version 4 (random) UUID in its 8-4-4-4-12 text form, from the system's CSPRNG."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
