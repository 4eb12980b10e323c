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
        logging.getLogger("integrations.oauth").exception("could not refresh")

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


def test_every_handler_of_every_logger_redacts():
    # Libraries' own handlers included: Django's defaults give "django" and "django.server"
    # handlers of their own, and runserver's access log went out through those unfiltered.
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    unfiltered = [
        (logger.name, type(handler).__name__)
        for logger in loggers
        for handler in logger.handlers
        if not type(handler).__module__.startswith("_pytest")
        and not isinstance(handler, logging.NullHandler)  # writes nothing
        and not any(isinstance(f, RedactingFilter) for f in handler.filters)
    ]
    assert unfiltered == []


def test_the_dev_servers_access_log_masks_tokens_codes_and_passwords(tmp_path):
    import subprocess
    import sys
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
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/favicon.ico", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        requests.get(f"{base}/nope/?access_token={SECRET}&password={SECRET}1", timeout=10)
        requests.get(
            f"{base}/integrations/smartsheet/auth/callback?code={SECRET}2&state={SECRET}3",
            timeout=10,
            allow_redirects=False,
        )
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]

    access = [line for line in output.splitlines() if "django.server" in line]
    assert any("/nope/?access_token=[REDACTED]&password=[REDACTED]" in line for line in access)
    assert any("callback?code=[REDACTED]&state=[REDACTED]" in line for line in access)
    assert SECRET not in output
