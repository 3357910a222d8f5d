"""A local, stateful Tencent Cloud CAM and STS emulator that verifies TC3-HMAC-SHA256 signatures.

Library first: ``Emulator`` holds the state and answers requests, ``EmulatorServer`` serves it
over HTTP, and ``testing.running_emulator`` does both for a test.
"""

from .core import Emulator, Options
from .server import EmulatorServer

__version__ = "0.1.0"

__all__ = ["Emulator", "EmulatorServer", "Options"]
