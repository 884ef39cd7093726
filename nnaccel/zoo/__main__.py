"""``python -m nnaccel.zoo [FOLDER]``: regenerate every network file (default ``networks/``)
and, with the default folder, the package's network.schema.json."""

from __future__ import annotations

import sys

from nnaccel.loader import networks_dir
from nnaccel.zoo import write_all, write_schema


def main(argv: list[str]) -> int:
    folder = argv[0] if argv else networks_dir()
    written = write_all(folder) if argv else [write_schema(), *write_all(folder)]
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
