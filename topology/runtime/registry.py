"""The registry of Python nodes: classes decorated with `@node("name")`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")

_registry: dict[str, Any] = {}


def node(name: str) -> Callable[[T], T]:
    """Register a Python node class under `name` so topologies can reference it."""

    def decorator(cls: T) -> T:
        _registry[name] = cls
        return cls

    return decorator


class Registry:
    def names(self) -> list[str]:
        _load_builtin_nodes()
        return sorted(_registry)

    def get(self, name: str) -> Any:
        _load_builtin_nodes()
        return _registry[name]

    def describe(self) -> list[dict[str, str]]:
        _load_builtin_nodes()
        return [
            {"name": name, "description": ((_registry[name].__doc__ or "").strip().splitlines() or [""])[0]}
            for name in sorted(_registry)
        ]


def _load_builtin_nodes() -> None:
    # Importing the module registers its @node classes; imported lazily to avoid import cycles.

    for module in ["topology.runtime.nodes", *getattr(settings, "FLOWYARD_NODE_MODULES", [])]:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


registry = Registry()
