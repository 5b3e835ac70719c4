"""ONNX op converters, one module per op family, each registering with ``@register``.

Every ``.py`` file of this folder is an op module, except the infrastructure the op
modules share (``SUPPORT_MODULES``): ``load_all`` imports them all (importing a module
registers its converters) and raises ``RegistrationError`` for an op module that
registers nothing. To add an op family, add a file: there is no list to edit.

Example:
    >>> from edgelite.converter.ops import op_modules
    >>> "conv" in op_modules() and "emit" not in op_modules()
    True
"""

from __future__ import annotations

import importlib
from pathlib import Path

from edgelite.errors import RegistrationError

_HERE = Path(__file__).resolve().parent

# Infrastructure shared by the op modules (they register nothing themselves).
SUPPORT_MODULES: frozenset[str] = frozenset({"registry", "layout_rules", "common", "emit", "dtype_rules", "infinities"})

_loaded = False


def op_modules() -> tuple[str, ...]:
    """The op modules: every file of this folder but ``__init__`` and ``SUPPORT_MODULES``, sorted.

    The order carries no meaning: a strategy registered ``after=`` another imports the
    module that defines it.
    """
    names = (p.stem for p in _HERE.glob("*.py"))
    return tuple(sorted(n for n in names if n != "__init__" and n not in SUPPORT_MODULES))


def load_all() -> None:
    """Import every op module once (registration happens on import).

    Raises:
        RegistrationError: an op module registers no converter (a file of helpers
            belongs in ``SUPPORT_MODULES``).
    """
    global _loaded
    if _loaded:
        return
    from edgelite.converter.ops import registry

    for name in op_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        if not registry.REGISTERED_BY_MODULE.get(module.__name__):
            raise RegistrationError(f"converter/ops/{name}.py registers no converter; "
                                    "register one with @register, or list it in SUPPORT_MODULES")
    _loaded = True
