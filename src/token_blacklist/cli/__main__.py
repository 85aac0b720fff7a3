"""``python -m token_blacklist.cli``: the same as the ``token-blacklist`` command."""

import sys

from . import main

sys.exit(main())
