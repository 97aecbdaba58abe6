"""Which integrations exist, which library each one patches, and what ``"auto"`` picks.

``configure(instrument=[...])`` names integrations by the keys of :data:`INTEGRATIONS`;
``"auto"`` means every one whose library is installed. Finding out whether a library is
installed uses ``importlib.util.find_spec``, which does not import it: ``"auto"`` costs no
import of a library the app does not use.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

from tracer._guard import logger

__all__ = ["AUTO", "INTEGRATIONS", "Integration", "installed", "instrument", "resolve", "uninstrument"]

AUTO = "auto"


@dataclass(frozen=True)
class Integration:
    name: str  # what configure(instrument=[...]) takes
    module: str  # our module, with instrument() / uninstrument()
    library: str  # the import name of the library it patches
    extra: str  # pip install 'spyglass[<extra>]'


INTEGRATIONS: dict[str, Integration] = {
    i.name: i
    for i in (
        Integration("openai", "integrations.openai", "openai", "openai"),
        Integration("anthropic", "integrations.anthropic", "anthropic", "anthropic"),
        Integration("langchain", "integrations.langchain", "langchain_core", "langchain"),
        Integration("llama_index", "integrations.llama_index", "llama_index.core", "llama-index"),
        Integration("chroma", "integrations.chroma", "chromadb", "chroma"),
        Integration("qdrant", "integrations.qdrant", "qdrant_client", "qdrant"),
    )
}


def _is_installed(library: str) -> bool:
    try:
        return importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken __spec__
        return False


def installed() -> list[str]:
    """The integrations whose library is importable here, in :data:`INTEGRATIONS` order."""
    return [name for name, i in INTEGRATIONS.items() if _is_installed(i.library)]


def resolve(names: str | Iterable[str]) -> list[Integration]:
    """The integrations ``names`` asks for: ``"auto"`` (alone or in the list) adds every
    installed one. An unknown name raises ``ValueError`` listing the known ones; a known one
    whose library is missing is skipped with a warning (tracing never stops the app)."""
    asked = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in asked if n != AUTO and n not in INTEGRATIONS]
    if unknown:
        raise ValueError(
            f"unknown integration(s) {', '.join(map(repr, unknown))}; known: {', '.join([AUTO, *INTEGRATIONS])}"
        )
    chosen: list[str] = []
    for name in asked:
        for picked in installed() if name == AUTO else [name]:
            if picked not in chosen:
                chosen.append(picked)
    found: list[Integration] = []
    for name in chosen:
        integration = INTEGRATIONS[name]
        if name in asked and not _is_installed(integration.library):
            logger.warning(
                "spyglass: instrument=%r, but %s is not installed; skipped (pip install 'spyglass[%s]')",
                name,
                integration.library,
                integration.extra,
            )
            continue
        found.append(integration)
    return found


def _module(integration: Integration) -> ModuleType:
    return importlib.import_module(integration.module)


def instrument(names: str | Iterable[str]) -> list[str]:
    """Instrument what ``names`` asks for (see :func:`resolve`); returns the names done."""
    done = []
    for integration in resolve(names):
        _module(integration).instrument()  # follows the provider configure() set, like the decorators
        done.append(integration.name)
    return done


def uninstrument(names: str | Iterable[str] = AUTO) -> None:
    """Undo :func:`instrument`; by default every installed integration (each is a no-op when
    it was never instrumented)."""
    for integration in resolve(names):
        _module(integration).uninstrument()
