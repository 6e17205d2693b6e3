"""One generic, typed registry: decorator registration, entry points, did-you-mean errors.

Each kind of plugin (strategies, evaluation metrics, ...) gets one ``Registry``. Built-in
plugins register themselves with ``@registry.register("name")`` in the module that
implements them; the registry imports those modules lazily (``builtin_modules``) the
first time a name is looked up. Third-party packages register through the entry-point
group ``entry_point_group`` without any change to selbench.
"""
from __future__ import annotations

import difflib
import importlib
from importlib import metadata
from typing import Callable, Generic, Iterable, TypeVar

from harness.errors import SelbenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping for one kind of plugin."""

    def __init__(self, kind: str, entry_point_group: str | None = None,
                 builtin_modules: Iterable[str] = ()):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.builtin_modules = tuple(builtin_modules)
        self._items: dict[str, T] = {}
        self._loaded = False

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

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtin_modules:
            importlib.import_module(module)
        if self.entry_point_group:
            for ep in metadata.entry_points(group=self.entry_point_group):
                if ep.name in self._items:
                    continue
                try:
                    obj = ep.load()
                except Exception as exc:  # a broken plugin must not break the others
                    raise SelbenchError(f"cannot load {self.kind} plugin {ep.name!r} "
                                        f"({ep.value}): {exc}") from exc
                # a plugin module may register itself on import; else register the object
                self._items.setdefault(ep.name, obj)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; unknown names list the closest ones."""
        self._load()
        if name in self._items:
            return self._items[name]
        close = difflib.get_close_matches(str(name), self._items, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SelbenchError(f"unknown {self.kind} {name!r}{hint} "
                            f"(known: {', '.join(sorted(self._items))})")

    def names(self) -> list[str]:
        """Return all registered names, sorted."""
        self._load()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """Return ``(name, object)`` pairs sorted by name."""
        self._load()
        return sorted(self._items.items())

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items


def _where(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
