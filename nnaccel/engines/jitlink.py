"""A cold numba compile of the engines in about two thirds of the time numba takes by itself.

numba compiles each kernel into a code library of its own, then links the libraries of every
kernel it calls into it. For each library it runs LLVM's whole module optimisation and emits
machine code, although a kernel compiled without a Python or C entry (the engines' internal
kernels: `no_cpython_wrapper`, `no_cfunc_wrapper`) is never run on its own: its callers copy
its IR, optimise it again with their own and emit their own machine code. `install` makes
such a library stop at its IR (function passes only, as numba runs them on every new module):
the one optimisation and code generation happen once, in the library of the kernel called
from Python, over all it calls, inlined. The code that runs is the same in kind (the same
optimisation pipeline over the same functions, no fast-math), so results are bit-identical;
measured on the 2-core machine, a sequential cold compile of `search_grid` and
`_evaluate_many` took about 25% less CPU, and a warm search ran as fast.

A library kept as IR is cached as bitcode (numba reads that kind of entry natively) and is
made into machine code the first time anything asks for the address of one of its functions.

A few large internal kernels are the exception (`separate`: those LLVM leaves out of line in
their callers anyway): each is optimised and emitted once, in its own library, when it is
compiled; its callers only declare it, and their machine code calls its. A cold compile then
does that work where the kernel is compiled (`engines.warm`: on either core) instead of again
in every kernel called from Python (measured alone: the search kernel's own compile from 5.6
to 4.3 s of CPU, the evaluation kernel's from 2.3 to 0.8 s; a warm search as fast). A caller's
library lists how to load each such kernel (numba's `reload_init`, run before a library is
loaded from the cache), so that the symbols its machine code calls are there first.

An @overload's implementation (`np.empty`, `max`, ...) is compiled by numba with a C entry,
which would make its library an entry's, optimised and emitted in every process though only
kernels call it: `install` compiles those without it, so they are kept as IR too.

numba's type inference also looks every overloaded operation up in a cache keyed by the
compile flags, whose hash and equality build a dict of all ~40 options per call (tens of
thousands of calls per kernel); `install` computes the same values without the per-option
property lookups (about 7% of a cold compile's CPU).

Both are changes to numba's internals: where they differ from what is expected (another numba
version), `install` changes nothing and numba compiles as it does by itself.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

_ENTRY_PREFIXES = ("cpython.", "cfunc.")  # numba's wrappers: what Python and C call
#: numba versions whose internals these changes were read against and tested on (the suite,
#: step == fast, byte-identical `run` output); any other compiles as numba does by itself
TESTED_NUMBA = ("0.68.",)


#: Internal kernels compiled into machine code of their own (`separate`), by qualified name.
_SEPARATE: dict[str, list[Any]] = {}


def separate(dispatcher: Any) -> Any:
    """Mark an internal kernel to be optimised and emitted in its own library, once, when it
    is compiled, instead of inside every kernel that calls it: its callers only declare it and
    their machine code calls its. For a large kernel that LLVM does not inline anyway (it is
    called from many places, or is too big): the code is the same, and a cold compile does its
    optimisation where the kernel is compiled (`engines.warm` compiles such kernels beside
    each other on two cores) instead of in the library of the kernel called from Python."""
    _SEPARATE.setdefault(dispatcher.py_func.__qualname__, []).append(dispatcher)
    return dispatcher


def _mangled_prefix(dispatcher: Any) -> str:
    """The start of the mangled names of a kernel's compiled functions (numba's Itanium-style
    mangling: every part of the qualified name prefixed by its length)."""
    parts = f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}".split(".")
    return "_ZN" + "".join(f"{len(p)}{p}" for p in parts)


def _is_separate(library: Any) -> bool:
    """Whether a library being finalized is a `separate` kernel's own (not a caller's)."""
    candidates = _SEPARATE.get(library.name, ())
    if not candidates:
        return False
    prefixes = tuple(_mangled_prefix(d) for d in candidates)
    return any(not fn.is_declaration and fn.name.startswith(prefixes)
               for fn in library._final_module.functions)


@dataclasses.dataclass(frozen=True)
class _Load:
    """Compile or load a `separate` kernel: run (numba's `reload_init`) before a library that
    calls it is loaded from the cache, so that the symbols its machine code calls are there."""

    module: str
    qualname: str
    args: tuple

    def __call__(self) -> None:
        kernel = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            kernel = getattr(kernel, part)
        kernel.compile(self.args)


def _loader(library: Any) -> _Load | None:
    """How to load a linked library that is a `separate` kernel's own (None: it is not)."""
    for d in _SEPARATE.get(library.name, ()):
        for args, cres in list(d.overloads.items()):
            if cres.library is library:
                return _Load(d.py_func.__module__, d.py_func.__qualname__, tuple(args))
    return None


def _has_entry(module: Any) -> bool:
    return any(not fn.is_declaration and fn.name.startswith(_ENTRY_PREFIXES)
               for fn in module.functions)


def _patch_libraries(cg: Any) -> None:
    lib_cls = cg.JITCodeLibrary
    finalize = lib_cls.finalize
    finalize_final = lib_cls._finalize_final_module
    get_pointer = lib_cls.get_pointer_to_function
    serialize = lib_cls.serialize_using_object_code
    unserialize = lib_cls._unserialize.__func__
    set_env = cg.JITCPUCodegen.set_env

    def keep_ir(self: Any) -> None:
        """Finalized as IR only: linkable, not optimised as a module, no machine code."""
        self._final_module.verify()
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        self._nnaccel_ir_only = True
        self._finalized = True

    def materialize(self: Any) -> None:
        """What numba's finalize would have done: optimise, add to the engine, emit code."""
        self._nnaccel_ir_only = False
        self._optimize_final_module()
        self._shared_module = None  # later callers link the optimised module
        finalize_final(self)

    def patched_finalize(self: Any) -> None:
        if type(self) is not lib_cls:
            return finalize(self)
        cg.require_global_compiler_lock()
        self._codegen._check_llvm_bugs()
        self._raise_if_finalized()
        own_code = _is_separate(self)
        seen = set()
        for library in self._linking_libraries:  # as numba's finalize
            if library not in seen:
                self._reload_init.update(library._reload_init)
                seen.add(library)
                load = _loader(library)
                if load is not None:  # its functions stay declared: its own code is called
                    library._ensure_finalized()
                    self._reload_init.add(load)
                    continue
                self._final_module.link_in(library._get_module_for_linking(), preserve=True)
        if own_code or _has_entry(self._final_module):
            self._optimize_final_module()
            self._final_module.verify()
            self._finalize_final_module()
        else:
            keep_ir(self)

    def patched_get_pointer(self: Any, name: str) -> int:
        if getattr(self, "_nnaccel_ir_only", False):
            try:
                fn = self._final_module.get_function(name)
            except NameError:
                return 0  # not defined here: numba asks for a wrapper it did not make
            if fn.is_declaration:
                return 0
            materialize(self)
        return get_pointer(self, name)

    def patched_serialize(self: Any) -> Any:
        if getattr(self, "_nnaccel_ir_only", False):
            return (self.name, "bitcode", self._final_module.as_bitcode())
        return serialize(self)

    def patched_unserialize(cls: Any, codegen: Any, state: Any) -> Any:
        name, kind, data = state
        if kind != "bitcode" or cls is not lib_cls:
            return unserialize(cls, codegen, state)
        import llvmlite.binding as ll

        module = ll.parse_bitcode(data)
        if _has_entry(module):
            return unserialize(cls, codegen, state)
        self = codegen.create_library(name)
        self._final_module = module
        keep_ir(self)
        return self

    def patched_set_env(self: Any, env_name: str, env: Any) -> None:
        # A library kept as IR is not in the engine: its environment global has no address
        # (its callers hold their own copy of it).
        if self._engine.get_global_value_address(env_name):
            set_env(self, env_name, env)

    lib_cls.finalize = patched_finalize
    lib_cls.get_pointer_to_function = patched_get_pointer
    lib_cls.serialize_using_object_code = patched_serialize
    lib_cls._unserialize = classmethod(patched_unserialize)
    cg.JITCPUCodegen.set_env = patched_set_env


def _patch_flags(tc: Any) -> None:
    base = tc.TargetConfig
    defaults: dict[type, dict[str, Any]] = {}

    def values(self: Any) -> dict[str, Any]:
        cls = type(self)
        d = defaults.get(cls)
        if d is None:
            d = defaults[cls] = {k: opt.default for k, opt in cls.options.items()}
        out = d.copy()
        out.update(self._values)  # only options are ever set
        return out

    def eq(self: Any, other: Any) -> Any:
        if self is other:
            return True
        if isinstance(other, base):
            # the same options set to the same values: equal without the defaults
            return self._values == other._values or values(self) == values(other)
        return NotImplemented

    def hash_(self: Any) -> int:
        return hash(tuple(sorted(type(self).options)))  # numba's: the sorted option names

    base.values = values
    base.__eq__ = eq
    base.__hash__ = hash_


def _patch_overloads(templates: Any) -> None:
    cls = templates._OverloadFunctionTemplate
    build = cls._build_impl

    def build_impl(self: Any, cache_key: Any, args: Any, kws: Any) -> Any:
        # numba compiles an @overload's implementation (np.empty, max, ...) with no Python
        # entry but with a C one, which makes its library an entry's: optimised as a module and
        # emitted, in every process, though only kernels call it (they link its IR). Without
        # the C entry it is kept as IR like the engines' own internal kernels.
        opts = self._jit_options
        if opts.get("no_cpython_wrapper") and "no_cfunc_wrapper" not in opts:
            self._jit_options = {**opts, "no_cfunc_wrapper": True}
        return build(self, cache_key, args, kws)

    cls._build_impl = build_impl


def install() -> bool:
    """Apply the changes (once); False when numba's internals are not as expected, or its
    version is not one they were checked on (TESTED_NUMBA)."""
    try:
        import numba

        if not numba.__version__.startswith(TESTED_NUMBA):
            return False
        from numba.core import codegen as cg
        from numba.core import targetconfig as tc
        from numba.core.typing import templates

        lib_cls = cg.JITCodeLibrary
        needed = (lib_cls.finalize, lib_cls._finalize_final_module, lib_cls._optimize_final_module,
                  lib_cls.get_pointer_to_function, lib_cls.serialize_using_object_code,
                  lib_cls._unserialize, lib_cls._get_module_for_linking,
                  lib_cls._finalize_dynamic_globals, lib_cls._verify_declare_only_symbols,
                  cg.JITCPUCodegen.set_env, cg.require_global_compiler_lock,
                  tc.TargetConfig.values, tc.TargetConfig.options,
                  templates._OverloadFunctionTemplate._build_impl)
        del needed
    except (ImportError, AttributeError):
        return False
    if getattr(cg, "_nnaccel_jitlink", False):
        return True
    _patch_libraries(cg)
    _patch_flags(tc)
    _patch_overloads(templates)
    cg._nnaccel_jitlink = True
    return True
