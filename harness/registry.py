"""One generic, typed registry: decorator registration, lazy entry points, did-you-mean errors.

Each kind of plugin (strategies, evaluation metrics, ...) gets one ``Registry``. Plugins
are declared once: the class or function carries ``@registry.register("name")`` in the
module that implements it, and the distribution that ships it (selbench itself for the
built-ins, any installed package for outside plugins) names it in the entry-point group
``entry_point_group`` as ``name = "module:attr"``. The registry reads those declarations
without importing anything and imports a plugin's module only when its name is looked up,
so a lookup imports just the module it needs.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Generic, TypeVar

from harness.errors import SelbenchError

T = TypeVar("T")


@dataclass(frozen=True)
class Declared:
    """An entry point not yet imported: ``value`` is ``module:attr``, ``dist`` its package."""

    name: str
    value: str
    dist: str


class Registry(Generic[T]):
    """A name -> object mapping for one kind of plugin."""

    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._declared: dict[str, Declared] | None = None

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``."""

        def decorator(obj: T) -> T:
            existing = self._items.get(name)
            if existing is not None and existing is not obj:
                raise SelbenchError(f"{self.kind} {name!r} is registered twice "
                                    f"({_where(existing)} and {_where(obj)})")
            self._items[name] = obj
            return obj

        return decorator

    def declared(self) -> dict[str, Declared]:
        """The entry points of ``entry_point_group`` by name (read once; nothing imported)."""
        if self._declared is None:
            found: dict[str, Declared] = {}
            if self.entry_point_group:
                for ep in metadata.entry_points(group=self.entry_point_group):
                    dist = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
                    found.setdefault(ep.name, Declared(ep.name, ep.value, dist))
            self._declared = found
        return self._declared

    def _load_one(self, name: str) -> T:
        """Import the module of entry point ``name`` and return its object."""
        decl = self.declared()[name]
        before = dict(self._items)
        module, _, attr = decl.value.partition(":")
        try:
            obj = importlib.import_module(module.strip())
            for part in attr.strip().split(".") if attr.strip() else ():
                obj = getattr(obj, part)
        except Exception as exc:  # a broken plugin is one clear error, not a traceback
            raise SelbenchError(f"cannot load {self.kind} plugin {name!r} ({decl.value}, from "
                                f"{decl.dist}): {exc}") from exc
        # the module registers its object on import (@register); an undecorated object is
        # registered under the entry point's name, a decorated one must use that name
        other = [k for k, v in self._items.items() if v is obj and k not in before and k != name]
        if other and name not in self._items:
            raise SelbenchError(f"{self.kind} plugin {name!r} ({decl.value}) registers itself as "
                                f"{other[0]!r}; the entry point and the decorator must agree")
        return self._items.setdefault(name, obj)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names list the closest ones."""
        name = str(name)
        if name in self._items:
            return self._items[name]
        if name in self.declared():
            return self._load_one(name)
        known = self.names()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SelbenchError(f"unknown {self.kind} {name!r}{hint} (known: {', '.join(known)})")

    def names(self) -> list[str]:
        """Return all registered and declared names, sorted (nothing is imported)."""
        return sorted(set(self._items) | set(self.declared()))

    def items(self) -> list[tuple[str, T]]:
        """Return ``(name, object)`` pairs sorted by name (imports every declared plugin)."""
        return [(name, self.get(name)) for name in self.names()]

    def origin(self, name: str) -> str:
        """Where ``name`` comes from: ``<distribution> (module:attr)``, or the registering
        module for an object registered in code without an entry point."""
        decl = self.declared().get(name)
        if decl is not None:
            return f"{decl.dist} ({decl.value})"
        obj = self.get(name)
        return f"registered in code ({getattr(obj, '__module__', '?')})"

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self.declared()


def _where(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
