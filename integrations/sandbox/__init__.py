"""Faithful local emulators of every provider (see ARCHITECTURE.md, "Sandboxes").

`python manage.py sandbox` serves each emulator over TLS on its own port (SANDBOX_BASE_PORT
+ offset) and the browser-facing consent pages of all of them over plain HTTP on the base
port itself: a browser cannot be handed the sandbox CA the way our clients are.
"""

from django.conf import settings

from config import endpoints

# The demo data the emulators seed (config/endpoints.py, where the settings read them too).
from config.endpoints import (  # noqa: F401 - re-exported for the sandbox and its tests
    DATAVERSE_CLIENT_ID,
    DATAVERSE_CLIENT_SECRET,
    DATAVERSE_TENANT_ID,
    TIMETRACKER_JOBS_COLUMNS,
    TIMETRACKER_JOBS_SHEET_ID,
)

PORT_OFFSETS = endpoints.SANDBOX_PORT_OFFSETS
EMULATOR_NAMES = tuple(name for name in PORT_OFFSETS if name != "browser")


def use_ports(ports: dict[str, int]) -> None:
    """Point the hub at emulators listening on `ports` (a sandbox started in this process on
    free ports, as the tests and benchmarks do): the ports and every provider URL. Emulators
    not among them (a bench starts only the ones it needs) keep their configured ports."""
    settings.SANDBOX_PORTS = {**settings.SANDBOX_PORTS, **ports}
    settings.PROVIDER_URLS = endpoints.sandbox_urls(settings.SANDBOX_HOST, settings.SANDBOX_PORTS)


def api_url(name: str) -> str:
    """Base URL of an emulator's TLS server, as the SDKs are given it."""
    return endpoints.emulator_api(settings.SANDBOX_HOST, settings.SANDBOX_PORTS, name)


def browser_url(name: str) -> str:
    """Base URL of an emulator's pages for a browser (plain HTTP, one port for all)."""
    return endpoints.emulator_page(settings.SANDBOX_HOST, settings.SANDBOX_PORTS, name)


def control_url(name: str) -> str:
    return f"{api_url(name)}/_sandbox"


def hub_registrations(hub_base_url: str | None = None) -> dict[str, dict]:
    """The hub's OAuth apps as the emulators must know them: client ids, secrets and the
    exact redirect URIs (HUB_BASE_URL's), from the settings the hub itself uses."""
    base = (hub_base_url or settings.HUB_BASE_URL).rstrip("/")
    apps = {}
    for emulator, provider in (
        ("smartsheet", "smartsheet"),
        ("salesforce", "salesforce"),
        ("salesforce-test", "salesforce"),
        ("hubspot", "hubspot"),
    ):
        prefix = provider.upper()
        apps[emulator] = {
            "client_id": getattr(settings, f"{prefix}_CLIENT_ID"),
            "client_secret": getattr(settings, f"{prefix}_CLIENT_SECRET"),
            "redirect_uris": [f"{base}/integrations/{provider}/auth/callback"],
        }
    return apps


def register_hub(emulators: dict, hub_base_url: str | None = None) -> None:
    """Register the hub's apps (and the Dataverse demo app) with running emulators, and point
    the hub's HubSpot app's webhooks at the hub."""
    for name, app in hub_registrations(hub_base_url).items():
        if name in emulators and app["client_id"]:
            emulators[name].register_app(
                app["client_id"], app["client_secret"], app["redirect_uris"]
            )
    if "hubspot" in emulators and settings.HUBSPOT_CLIENT_ID:
        # HubSpot's webhooks to the hub's receiver (crm/hooks.py): real-time HubSpot configs
        # hear of changes within seconds.
        base = (hub_base_url or settings.HUB_BASE_URL).rstrip("/")
        emulators["hubspot"].subscribe_app(settings.HUBSPOT_CLIENT_ID, f"{base}/hooks/hubspot/")
    if "azure" in emulators:
        emulators["azure"].register_client(
            DATAVERSE_TENANT_ID, DATAVERSE_CLIENT_ID, DATAVERSE_CLIENT_SECRET
        )
