"""The hub's environment variables, read off config/settings.py, and an environment without
them: for the tests that start the hub's own commands as new processes."""

import os
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
SETTINGS_SOURCE = (BASE_DIR / "config" / "settings.py").read_text()
READ_VARIABLES = (
    set(
        re.findall(
            r'(?:_bool|_int|_choice|_list|_path|_rate|env\.str|env\.cache_url|env\.email_url)\(\s*"([A-Z_]+)"',
            SETTINGS_SOURCE,
        )
    )
    # Helpers that build the names: _oauth_client("x") reads X_CLIENT_ID and X_CLIENT_SECRET,
    # _rate_limit("x", ...) reads X_RATE_LIMIT.
    | {
        f"{p.upper()}_CLIENT_{part}"
        for p in re.findall(r'_oauth_client\("(\w+)"\)', SETTINGS_SOURCE)
        for part in ("ID", "SECRET")
    }
    | {f"{p.upper()}_RATE_LIMIT" for p in re.findall(r'_rate_limit\("(\w+)"', SETTINGS_SOURCE)}
)


# Not the hub's, but carried over from the run this test is part of: the parallel test
# worker's name (it would move VAR_DIR) and make's own (`make test PYTEST_ARGS=...` passes its
# command-line variables to every make below it, through MAKEFLAGS, whatever they set).
INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "PYTEST_XDIST_WORKER",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
)


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without the hub's variables nor those inherited from the
    test run, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in READ_VARIABLES}
    for name in INHERITED:
        env.pop(name, None)
    env.update(variables)
    return env
