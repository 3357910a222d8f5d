"""``python -m tencentcloud_emulator``: the same as the ``tencentcloud-emulator`` command."""

import sys

from .cli import main

sys.exit(main())
