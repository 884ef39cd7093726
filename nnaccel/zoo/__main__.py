"""``python -m nnaccel.zoo [FOLDER]``: regenerate every network file (default ``networks/``)."""

from __future__ import annotations

import sys

from nnaccel.network import networks_dir
from nnaccel.zoo import write_all


def main(argv: list[str]) -> int:
    folder = argv[0] if argv else networks_dir()
    for path in write_all(folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
