"""1,000 API calls through the HTTP layer at HubSpot's real default limit (100 requests per
10 seconds per account, enforced by the emulator): how many 429s, and how close to the floor.

Floor: in a sliding 10 s window the first 100 calls may go at once, every further 100 need
another 10 s, so 1,000 calls cannot take less than 90 s. Counts come from the emulator's
control plane. Last line: RESULT calls=<n> rate_limited=<n> seconds=<s> floor_seconds=90 ratio=<s/floor>
"""

import os
import re
import time

from _setup import django_setup, scale, scaled, start_sandbox

# At least two windows' worth, so that the pacing (not the burst) is measured.
CALLS = scaled(1000, minimum=200)
# Run small (BENCH_SCALE below 1), the window shrinks as much, in the hub and the emulator
# alike: the calls still cross it twice, in half a second instead of the 10 s the small run
# spent waiting (its figures mean nothing anyway).
WINDOW = 10 * min(1.0, scale())


def main() -> None:
    if WINDOW < 10:
        os.environ["HUBSPOT_RATE_LIMIT"] = f"100/{WINDOW:g}"
    django_setup()
    import requests
    from django.conf import settings

    from integrations.connections import http
    from integrations.connections.oauth.flow import redirect_uri
    from integrations.connections.providers import hubspot

    server = start_sandbox(["hubspot"])
    base = f"https://127.0.0.1:{server.ports['hubspot']}"
    limit, window = settings.PROVIDER_RATE_LIMITS["hubspot"]
    browser = requests.Session()
    browser.trust_env = False
    consent_url = hubspot.authorize_url(state="bench", redirect_uri=redirect_uri("hubspot"))
    user = re.findall(r'<option value="([^"]+)"', browser.get(consent_url).text)[0]
    answer = browser.post(
        consent_url, data={"user_id": user, "decision": "approve"}, allow_redirects=False
    )
    code = re.search(r"code=([^&]+)", answer.headers["Location"]).group(1)
    token = hubspot.exchange_code(code=code, redirect_uri=redirect_uri("hubspot")).access_token

    control = http.session("bench")
    control.delete(f"{base}/_sandbox/calls")
    if WINDOW < 10:
        shrunk = {"limit": limit, "window": window}
        control.put(f"{base}/_sandbox/rate-limit", json=shrunk).raise_for_status()
    session = http.session("hubspot", key="bench-account")
    print(f"{CALLS} calls at {limit} per {window:g} s (HubSpot's default), one account...")
    started = time.monotonic()
    for done in range(1, CALLS + 1):
        session.get(f"{base}/account-info/v3/details", headers={"Authorization": f"Bearer {token}"})
        if done % 100 == 0:
            print(f"  {done:>5} calls  {time.monotonic() - started:6.1f} s")
    seconds = time.monotonic() - started
    calls = control.get(f"{base}/_sandbox/calls").json()
    server.stop()

    floor = (CALLS - limit) / limit * window
    made = calls["by_endpoint"].get("GET /account-info/v3/details", 0)
    limited = int(calls["by_status"].get("429", 0))
    print(
        f"emulator saw {made} calls, {limited} answered 429; {seconds:.1f} s against a floor of {floor:g} s"
    )
    print(
        f"RESULT calls={made} rate_limited={limited} seconds={seconds:.1f} floor_seconds={floor:g} ratio={seconds / floor:.3f}"
    )


if __name__ == "__main__":
    main()
