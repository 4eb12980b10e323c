"""Faithful local emulators of every provider (see ARCHITECTURE.md, "Sandboxes").

`python manage.py sandbox` serves each emulator over TLS on its own port (SANDBOX_BASE_PORT
+ offset) and the browser-facing consent pages of all of them over plain HTTP on the base
port itself: a browser cannot be handed the sandbox CA the way our clients are.
"""

from django.conf import settings

# Port offsets from SANDBOX_BASE_PORT. "browser" is the plain-HTTP port for consent pages.
PORT_OFFSETS = {
    "browser": 0,
    "smartsheet": 1,
    "salesforce": 2,
    "salesforce-test": 3,
    "hubspot": 4,
    "azure": 5,
    "dataverse": 6,
}
EMULATOR_NAMES = tuple(name for name in PORT_OFFSETS if name != "browser")


def api_url(name: str) -> str:
    """Base URL of an emulator's TLS server, as the SDKs are given it."""
    return f"https://{settings.SANDBOX_HOST}:{settings.SANDBOX_PORTS[name]}"


def browser_url(name: str) -> str:
    """Base URL of an emulator's pages for a browser (plain HTTP, one port for all)."""
    return f"http://{settings.SANDBOX_HOST}:{settings.SANDBOX_PORTS['browser']}/{name}"


def control_url(name: str) -> str:
    return f"{api_url(name)}/_sandbox"


# The Azure AD app the Dataverse emulator trusts (the demo's Microsoft connection uses it).
DATAVERSE_TENANT_ID = "7e2d3c1a-5b4f-4c8e-9a1d-2f6b8c0e4a17"
DATAVERSE_CLIENT_ID = "5c9f0e2b-8d3a-4f1c-b6e7-1a2b3c4d5e6f"
DATAVERSE_CLIENT_SECRET = "sbx~dataverse.client-secret-0123456789"

# The Smartsheet emulator's "TimeTracker Jobs" sheet: the TimeTracker's rollback source
# (USE_DATAVERSE=false) defaults to it in sandbox mode.
TIMETRACKER_JOBS_SHEET_ID = 7340625417283460
TIMETRACKER_JOBS_COLUMNS = {
    "im_number": 5170319034935172,
    "general_contractor": 2918519221249924,
    "job_scope": 7422118848620420,
    "submittal_status": 1792619314407300,
}


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
    """Register the hub's apps (and the Dataverse demo app) with running emulators."""
    for name, app in hub_registrations(hub_base_url).items():
        if name in emulators and app["client_id"]:
            emulators[name].register_app(
                app["client_id"], app["client_secret"], app["redirect_uris"]
            )
    if "azure" in emulators:
        emulators["azure"].register_client(
            DATAVERSE_TENANT_ID, DATAVERSE_CLIENT_ID, DATAVERSE_CLIENT_SECRET
        )
