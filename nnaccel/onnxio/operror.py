"""The error of a node the importer cannot map (the importer adds the file and the node)."""

from __future__ import annotations


class OpError(Exception):
    """A node the importer cannot map; `list_supported` adds the supported operators."""

    def __init__(self, message: str, list_supported: bool = False):
        super().__init__(message)
        self.list_supported = list_supported
