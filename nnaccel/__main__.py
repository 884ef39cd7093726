"""`python -m nnaccel`: the same as the `nnaccel` command."""

import sys

from nnaccel.entry import main

sys.exit(main())
