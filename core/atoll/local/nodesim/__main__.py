"""`python -m atoll.local.nodesim`: run the node simulator (see `atoll.local.nodesim.main`)."""

from __future__ import annotations

import sys

from atoll.local.nodesim import main

sys.exit(main.main())
