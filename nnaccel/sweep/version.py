"""The model version of a sweep row: nnaccel's version and a hash of every module it depends on.

A row depends on the code that computes it, so the hash covers every `nnaccel` module that a
sweep point's module imports, directly or through others, found by reading the sources'
import statements (module level or inside a function: a dependency all the same). No list is
kept by hand: a new model file is covered as soon as something on the path imports it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: The module whose imports, followed to the end, are the model: it runs `simulate`, the area
#: and the energy for one sweep point.
ROOT_MODULE = "nnaccel.sweep.point"


def _module_name(path: Path, package_dir: Path) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n]*)", re.M)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports; a name imported from a package counts as its
    submodule when there is one, and the package itself runs too. (Read with two patterns, not
    a parser: ten times faster, and a line in a docstring that looks like an import only adds
    a file to the hash, never removes one.)"""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    text = path.read_text(encoding="utf-8")
    found: set[str] = set()
    for m in _IMPORT.finditer(text):
        for item in m.group(1).split("#")[0].split(","):
            parts = item.split()[0].split(".") if item.split() else []
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    for m in _FROM.finditer(text):
        module, names = m.group(1), m.group(2)
        level = len(module) - len(module.lstrip("."))
        if level:
            base = package.split(".")
            base = base[: len(base) - level + 1]
            rest = module.lstrip(".")
            target = ".".join(base + ([rest] if rest else []))
        else:
            target = module
        found.add(target)
        for item in re.sub(r"#[^\n]*", "", names).strip("()").split(","):
            if item.split():
                found.add(f"{target}.{item.split()[0]}")
    return {m for m in found if m in modules} - {name}


def model_files(package_dir: Path | None = None) -> list[Path]:
    """Every source file of the package that ROOT_MODULE depends on, itself included, and the
    `__init__.py` of every package on the way (importing a module runs them), sorted."""
    package_dir = package_dir or Path(__file__).resolve().parent.parent
    paths = {_module_name(p, package_dir): p for p in package_dir.rglob("*.py")}
    modules = set(paths)
    seen: set[str] = set()
    todo = [ROOT_MODULE]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules)
        todo.extend(_imports(paths[name], name, modules))
    return sorted(paths[m] for m in seen)


def model_version(package_dir: Path | None = None) -> str:
    """nnaccel's version and a hash of every file of `model_files` (path and content)."""
    from nnaccel import __version__

    package_dir = package_dir or Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in model_files(package_dir):
        h.update(path.relative_to(package_dir.parent).as_posix().encode())
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:16]}"
