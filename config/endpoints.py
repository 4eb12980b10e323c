"""Where each provider answers: its live service's documented URLs, or, in sandbox mode, the
local emulators. `settings.PROVIDER_URLS` is built from these at start-up and the providers
read only that setting, so nothing the hub runs in production imports the emulators; the
sandbox imports this module for its ports and for the ids of the demo data it seeds.

Pure constants and string formatting: settings.py imports it before Django is set up.
"""

# Reference: ../shared/providers/smartsheet.md (api.smartsheet.com/2.0, app.smartsheet.com
# /b/authorize); https://developers.smartsheet.com/api/smartsheet/guides/basics/base-url (Gov
# api.smartsheetgov.com, Regions Europe api.smartsheet.eu, Australia api.smartsheet.au); salesforce.md (login / test My Domain
# hosts), hubspot.md (api.hubapi.com, app.hubspot.com/oauth/authorize), dataverse.md
# (login.microsoftonline.com/{tenant}).
LIVE_URLS = {
    "smartsheet_api": "https://api.smartsheet.com/2.0",
    "smartsheet_authorize": "https://app.smartsheet.com/b/authorize",
    "salesforce_login": "https://login.salesforce.com",
    "salesforce_test": "https://test.salesforce.com",
    "hubspot_api": "https://api.hubapi.com",
    "hubspot_app": "https://app.hubspot.com",
    "azure_login": "https://login.microsoftonline.com",
    "dataverse_environment": "",  # each connection names its own environment
    "supabase_project": "",  # each destination names its own project URL
    "project_online_site": "",  # each connection names its own PWA site
}
# The ones an operator may point elsewhere (another region, a sovereign cloud): VARIABLE -> key.
OVERRIDABLE = {
    "SMARTSHEET_API_URL": "smartsheet_api",
    "SMARTSHEET_AUTHORIZE_URL": "smartsheet_authorize",
    "SALESFORCE_LOGIN_URL": "salesforce_login",
    "SALESFORCE_TEST_URL": "salesforce_test",
    "HUBSPOT_API_URL": "hubspot_api",
    "HUBSPOT_APP_URL": "hubspot_app",
    "AZURE_LOGIN_URL": "azure_login",
}

# Port offsets from SANDBOX_BASE_PORT. "browser" is the plain-HTTP port for consent pages.
SANDBOX_PORT_OFFSETS = {
    "browser": 0,
    "smartsheet": 1,
    "salesforce": 2,
    "salesforce-test": 3,
    "hubspot": 4,
    "azure": 5,
    "dataverse": 6,
    "supabase": 7,
    "project-online": 8,
}


def emulator_api(host: str, ports: dict[str, int], name: str) -> str:
    """An emulator's API: its own TLS port."""
    return f"https://{host}:{ports[name]}"


def emulator_page(host: str, ports: dict[str, int], name: str) -> str:
    """An emulator's pages for a browser (consent): the plain-HTTP port they share."""
    return f"http://{host}:{ports['browser']}/{name}"


def sandbox_urls(host: str, ports: dict[str, int]) -> dict[str, str]:
    """Every provider URL pointed at the emulators listening on `ports`."""

    def api(name: str) -> str:
        return emulator_api(host, ports, name)

    def browser(name: str) -> str:
        return emulator_page(host, ports, name)

    return {
        "smartsheet_api": f"{api('smartsheet')}/2.0",
        "smartsheet_authorize": f"{browser('smartsheet')}/b/authorize",
        "salesforce_login": api("salesforce"),
        "salesforce_login_browser": browser("salesforce"),
        "salesforce_test": api("salesforce-test"),
        "salesforce_test_browser": browser("salesforce-test"),
        "hubspot_api": api("hubspot"),
        "hubspot_app": browser("hubspot"),
        "azure_login": api("azure"),
        "dataverse_environment": api("dataverse"),
        # A Supabase project's URL is each destination's own; in sandbox mode every one is
        # pointed at the emulator (its PostgREST under /rest/v1, as on supabase.co).
        "supabase_project": api("supabase"),
        # The PWA site of the Project Online emulator (its host stands for <tenant>.sharepoint.com).
        "project_online_site": f"{api('project-online')}/sites/pwa",
    }


def live_urls(overrides: dict[str, str]) -> dict[str, str]:
    """The live URLs with the operator's overrides; a browser opens the same login host the
    API calls (only the emulators split them)."""
    urls = {**LIVE_URLS, **{key: value for key, value in overrides.items() if value}}
    urls["salesforce_login_browser"] = urls["salesforce_login"]
    urls["salesforce_test_browser"] = urls["salesforce_test"]
    return urls


# --- the demo data the emulators seed, which sandbox mode's defaults point at -----------------

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

# The Smartsheet emulator's project-sheet template (dependencies enabled: Start / End Date,
# Duration, Predecessors): the migration's Tasks sheets are made from it in sandbox mode
# (MIGRATION_TASKS_TEMPLATE_ID).
MIGRATION_TASKS_TEMPLATE_ID = 7391826450137348

# The Supabase emulator's project: the JWT secret its keys are signed with (HS256, as a
# project's legacy API keys are), its service-role key, and the demo team and system user the
# sandbox's destination is stamped with (the seed's OE_TEAM_ID / OE_SYSTEM_USER_ID).
SUPABASE_JWT_SECRET = "sandbox-supabase-jwt-secret-with-at-least-32-characters"
SUPABASE_SERVICE_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJzdXBhYmFzZSIsInJlZiI6InNhbmRib3giLCJyb2xlIjoic2VydmljZV9yb2xlIiwiaWF0IjoxNzY0OTc5MjAwLCJleHAiOjIwODAzMzkyMDB9."
    "BBe2wpQN-PVvm3BX7LCtxbstPKLg2jbS5m18D6VkjhM"
)
SUPABASE_TEAM_ID = "3f0c6d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f"
SUPABASE_SYSTEM_USER_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d"
SUPABASE_EMAIL_ACCOUNT_ID = "c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5"
