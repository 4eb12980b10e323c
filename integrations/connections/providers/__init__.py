"""One thin module per external system, each on its official SDK where it has one and on
integrations.connections.http always. The registry maps a provider name to its module."""

from types import ModuleType

from integrations.connections.providers import (
    dataverse,
    hubspot,
    project_online,
    salesforce,
    smartsheet,
)
from integrations.errors import NotFound

REGISTRY: dict[str, ModuleType] = {
    module.SPEC.name: module
    for module in (smartsheet, salesforce, hubspot, dataverse, project_online)
}


def get(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise NotFound(f"No provider called {name!r}.", code="unknown_provider") from None


def oauth_providers() -> list[ModuleType]:
    return [module for module in REGISTRY.values() if module.SPEC.kind == "oauth"]
