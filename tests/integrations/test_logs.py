"""The redaction filter, through the handler settings.LOGGING really installs."""

import json
import logging

import pytest

from integrations.logs import RedactingFilter

SECRET = "s3cr3t-ABCdef0123456789"


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    "logger_name", ["integrations.anything", "urllib3.connectionpool", "some.library"]
)
def test_it_redacts_a_token_passed_as_a_log_argument(log_output, logger_name):
    logging.getLogger(logger_name).warning(
        "token response %s", {"access_token": SECRET, "expires_in": 3600}
    )
    logging.getLogger(logger_name).warning("header was %s", f"Bearer {SECRET}")

    output = log_output.getvalue()
    assert SECRET not in output
    assert "expires_in" in output and "3600" in output  # the rest of the message survives
    assert len(lines(log_output)) == 2


def test_it_redacts_a_token_inside_an_exception_message(log_output):
    try:
        raise RuntimeError(f"refresh failed: refresh_token={SECRET}&client_secret={SECRET}x")
    except RuntimeError:
        logging.getLogger("integrations.connections.oauth").exception("could not refresh")

    (record,) = lines(log_output)
    assert SECRET not in log_output.getvalue()
    assert "RuntimeError: refresh failed" in record["exc_info"]


def test_it_redacts_a_header_dict(log_output):
    headers = {"Authorization": f"Basic {SECRET}", "Content-Type": "application/json"}
    logging.getLogger("vendor.http").info("sending %s", headers)
    logging.getLogger("vendor.http").info("sending", extra={"headers": headers, "password": SECRET})

    output = log_output.getvalue()
    assert SECRET not in output
    assert "application/json" in output


def test_it_redacts_credentials_in_a_url_and_a_jwt(log_output):
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl"
    logging.getLogger("celery").error("broker redis://:%s@cache:6379/0 refused; id %s", SECRET, jwt)

    output = log_output.getvalue()
    assert SECRET not in output and jwt not in output
    assert "cache:6379" in output


def test_every_handler_of_the_root_logger_redacts():
    # pytest adds its own capture handlers to the root logger; every other one is ours.
    handlers = [
        h for h in logging.getLogger().handlers if not type(h).__module__.startswith("_pytest")
    ]
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)


def test_log_lines_carry_the_request_id(log_output, client, db):
    client.get("/api/no-such-endpoint", HTTP_X_REQUEST_ID="req-0123456789")  # django.request warns

    (record,) = [r for r in lines(log_output) if r["logger"] == "django.request"]
    assert record["request_id"] == "req-0123456789"
    assert record["level"] == "WARNING"


def test_every_handler_of_every_logger_redacts(tmp_path):
    # Libraries' own handlers included: Django's defaults give "django" and "django.server"
    # handlers of their own, and runserver's access log went out through those unfiltered.
    # Checked in a fresh process that loads what production loads (the web app and the worker's
    # Celery app), not in this one, where test tools add handlers of their own.
    import subprocess
    import sys

    from tests.environment import BASE_DIR, clean_env

    code = (
        "import logging, config.wsgi, config.celery;"
        "from integrations.logs import RedactingFilter;"
        "loggers = [logging.getLogger()] + [l for l in logging.Logger.manager.loggerDict.values()"
        " if isinstance(l, logging.Logger)];"
        "print([(l.name, type(h).__name__) for l in loggers for h in l.handlers"
        " if not isinstance(h, logging.NullHandler)"
        " and not any(isinstance(f, RedactingFilter) for f in h.filters)])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean_env(VAR_DIR=str(tmp_path), DEBUG="true"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_dev_servers_access_log_masks_tokens_codes_and_passwords(tmp_path):
    import subprocess
    import sys
    import threading
    import time

    import requests

    from tests.environment import BASE_DIR, clean_env
    from tests.stack import free_port

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--skip-checks",
            f"127.0.0.1:{port}",
        ],
        cwd=BASE_DIR,
        env=clean_env(VAR_DIR=str(tmp_path), DEBUG="true", LOG_FORMAT="text"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True)
    reader.start()
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while not any("Quit the server" in line for line in lines):
            assert time.monotonic() < deadline and server.poll() is None, "".join(lines)
            time.sleep(0.2)
        requests.get(f"{base}/nope/?access_token={SECRET}&password={SECRET}1", timeout=10)
        requests.get(
            f"{base}/integrations/smartsheet/auth/callback?code={SECRET}2&state={SECRET}3",
            timeout=10,
            allow_redirects=False,
        )
        # The server logs a request after answering it: wait for both lines.
        while sum('"GET /' in line for line in lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)

    access = [line for line in output.splitlines() if "django.server" in line]
    assert any("/nope/?access_token=[REDACTED]&password=[REDACTED]" in line for line in access)
    assert any("callback?code=[REDACTED]&state=[REDACTED]" in line for line in access)
    assert SECRET not in output
