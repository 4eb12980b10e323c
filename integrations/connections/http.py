"""The one way out: every call to a provider goes through a session built here.

- Typed errors (`Unauthorized`, `RateLimited(retry_after)`, `Timeout`, `Unavailable`,
  `Permanent`), each subclassing the matching `requests` exception so SDKs keep working.
- A token bucket per (provider, connection), paced just under the provider's published
  limit (settings.PROVIDER_RATE_LIMITS), in memory or in Redis (RATE_LIMIT_URL).
- Retries with exponential backoff and full jitter (tenacity) on 429, 5xx and connection
  errors, honouring Retry-After; a request that may have reached the provider is retried
  only if its method is idempotent (or the answer says it was not processed: 429, 503, or
  a provider's own "not processed" error, such as Smartsheet's 4004).
- Default timeouts, and every attempt counted and timed into the `track()` collectors, so
  a run reports its API calls, retries and waits; `on_retry()` listeners hear of each retry
  before its wait (why, and for how long), so a run can say "retrying" during an outage.

Sessions in sandbox mode ignore the environment's CA variables (requests would otherwise
prefer REQUESTS_CA_BUNDLE over `verify`) and verify against the sandbox bundle; verification
is never switched off. The bundle is read once per process into one TLS context that every
sandbox session shares: given as a path, urllib3 parses it again for each new connection
(17 ms of CPU for certifi's 150 certificates), which was a third of some tests' time.
"""

import email.utils
import logging
import os
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import requests
from django.conf import settings
from pyrate_limiter import (
    AbstractBucket,
    BucketFactory,
    InMemoryBucket,
    Limiter,
    Rate,
    RateItem,
    RedisBucket,
)
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
)
from urllib3.exceptions import NewConnectionError

from integrations.redaction import redact_text

logger = logging.getLogger(__name__)

# A provider module sets this on a request that costs more than one unit of the limit
# (Smartsheet counts an attachment upload as 10); the adapter removes it before sending.
WEIGHT_HEADER = "X-Hub-Rate-Weight"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})  # safe to resend even a POST
# Provider -> does this error answer say the request was not processed (so even a POST may be
# sent again)? Filled by the provider modules, which know their error bodies.
NOT_PROCESSED_ANSWERS: dict[str, Callable[[requests.Response], bool]] = {}
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
BACKOFF_CAP = 60.0
# Failures of the connection itself (refused, reset, cut off mid-answer).
NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)  # seconds; attempt n waits uniform(0, min(cap, base * 2**(n-1)))
BUCKET_MAX_WAIT = 300.0  # longest we block for our own bucket before giving up


# --- Errors ----------------------------------------------------------------------------------


class ProviderError(Exception):
    """A provider call that failed. `code` is the provider's own error code when it gave one.
    Messages are for people and pass through the redaction rules: no token ever rides along."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ):
        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.retry_after = retry_after


class Unauthorized(ProviderError):
    """The provider rejected the credentials (401): refresh once, or reconnect."""


class RateLimited(ProviderError):
    """Over the provider's limit; `retry_after` seconds if the provider said (None if not)."""


class Timeout(ProviderError, requests.exceptions.Timeout):
    """No answer in time, after retries."""


class Unavailable(ProviderError, requests.exceptions.ConnectionError):
    """Connection failures or 5xx answers that outlasted the retries."""


class Permanent(ProviderError):
    """A refusal that retrying will not change (4xx other than 401 and 429)."""


# --- Call statistics ----------------------------------------------------------------------------


@dataclass
class CallStats:
    calls: int = 0  # attempts that reached (or tried to reach) the provider
    retries: int = 0  # attempts beyond the first of each request
    seconds: float = 0.0  # time spent in those attempts
    backoff_seconds: float = 0.0  # time slept between attempts
    throttle_seconds: float = 0.0  # time waited for our own token bucket
    by_status: Counter = field(default_factory=Counter)
    # (method, path, status, seconds) of each attempt, our own pacing excluded: for the benches'
    # latency percentiles.
    attempts: list = field(default_factory=list)


_collectors: ContextVar[tuple[CallStats, ...]] = ContextVar("hub_call_stats", default=())


@contextmanager
def track():
    """Collect the calls made inside the block (nested blocks each see their own)."""
    stats = CallStats()
    token = _collectors.set((*_collectors.get(), stats))
    try:
        yield stats
    finally:
        _collectors.reset(token)


_retry_listeners: ContextVar[tuple[Callable[[str, float], None], ...]] = ContextVar(
    "hub_retry_listeners", default=()
)


@contextmanager
def on_retry(listener: Callable[[str, float], None]):
    """Call `listener(reason, seconds)` before each wait between attempts of the calls made
    inside the block: reason is the status that is retried ("429", "503") or "connection
    error" / "timeout"; seconds is the wait before the next attempt."""
    token = _retry_listeners.set((*_retry_listeners.get(), listener))
    try:
        yield
    finally:
        _retry_listeners.reset(token)


def _retry_reason(state: RetryCallState) -> str:
    outcome = state.outcome
    if outcome is None:
        return "error"
    if not outcome.failed:
        return str(outcome.result().status_code)
    return (
        "timeout"
        if isinstance(outcome.exception(), requests.exceptions.Timeout)
        else "connection error"
    )


def _tell_retry_listeners(state: RetryCallState) -> None:
    listeners = _retry_listeners.get()
    if not listeners:
        return
    reason = _retry_reason(state)
    for listener in listeners:
        try:
            listener(reason, state.upcoming_sleep)
        except Exception:
            # A listener (a run writing its note) must never break the call it listens to.
            logger.exception("retry listener failed")


def _record(**increments) -> None:
    for stats in _collectors.get():
        for name, value in increments.items():
            if name == "status":
                stats.by_status[value] += 1
            elif name == "attempt":
                stats.attempts.append(value)
            else:
                setattr(stats, name, getattr(stats, name) + value)


# --- Token buckets ----------------------------------------------------------------------------

# Requests leave us and reach the provider with varying delay, so two requests spaced exactly
# one window apart here can land inside one window there. The delay is a time, not a share of
# the window: a fixed slack keeps a full-speed run from earning a 429 (a loaded machine or
# network delays single requests by up to about this much) without slowing a minute-long
# window by 5 % as a proportional margin did (projects bench: wall 1.09 x the floor).
WINDOW_SLACK_MS = 250


def rates_for(provider: str) -> list[Rate]:
    limit, window = settings.PROVIDER_RATE_LIMITS[provider]
    return [Rate(limit, int(window * 1000) + WINDOW_SLACK_MS)]


class _KeyedBuckets(BucketFactory):
    """pyrate-limiter factory: one bucket per key (a connection), all at the provider's rates."""

    def __init__(self, provider: str):
        self.provider = provider
        self.rates = rates_for(provider)
        self.buckets: dict[str, AbstractBucket] = {}
        self.lock = threading.Lock()
        url = settings.RATE_LIMIT_URL
        self.redis = None
        if url.startswith(("redis://", "rediss://")):
            # Imported only here: redis-py's imports (~50 ms) would otherwise be paid by every
            # process that starts Django, in the embedded set-up too, which has no Redis.
            import redis

            self.redis = redis.Redis.from_url(url)

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        return RateItem(name, self.get(RateItem(name, 0)).now(), weight=weight)

    def get(self, item: RateItem) -> AbstractBucket:
        with self.lock:
            bucket = self.buckets.get(item.name)
            if bucket is None:
                if self.redis is not None:
                    bucket = RedisBucket.init(
                        self.rates, self.redis, f"hub:ratelimit:{self.provider}:{item.name}"
                    )
                else:
                    bucket = InMemoryBucket(self.rates)
                self.schedule_leak(bucket)
                self.buckets[item.name] = bucket
            return bucket


_limiters: dict[str, Limiter] = {}
_limiters_lock = threading.Lock()


def _limiter(provider: str) -> Limiter:
    with _limiters_lock:
        if provider not in _limiters:
            _limiters[provider] = Limiter(_KeyedBuckets(provider))
        return _limiters[provider]


def reset_buckets() -> None:
    """Forget every bucket (tests change the published limits between cases)."""
    with _limiters_lock:
        for existing in _limiters.values():
            existing.close()
        _limiters.clear()


def acquire(provider: str, key: str, *, weight: int = 1, max_wait: float = BUCKET_MAX_WAIT) -> None:
    """Block until `weight` requests may go out for (provider, key). A budget that stays
    used up for `max_wait` seconds (a daily quota, say) raises RateLimited."""
    if provider not in settings.PROVIDER_RATE_LIMITS:
        return
    started = time.monotonic()
    if not _limiter(provider).try_acquire(key, weight=weight, blocking=True, timeout=max_wait):
        raise RateLimited(
            f"{provider}: this connection's request budget is used up for now", provider=provider
        )
    _record(throttle_seconds=time.monotonic() - started)


def charge(provider: str, key: str, *, weight: int = 1) -> None:
    """Count, in (provider, key)'s bucket, a request already made under another key (the
    identity call of an OAuth exchange, before the connection and its key existed): the
    provider counted it against the same token, so must we."""
    if provider in settings.PROVIDER_RATE_LIMITS:
        _limiter(provider).try_acquire(key, weight=weight, blocking=False)


# --- Retries ------------------------------------------------------------------------------------


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds, from either of its two forms (delta-seconds or HTTP-date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _never(response: requests.Response) -> bool:
    return False


def _may_resend(method: str, exc: BaseException) -> bool:
    if method in IDEMPOTENT_METHODS:
        return True
    # A connection that never opened carried nothing: safe to resend anything.
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(getattr(reason, "reason", reason), NewConnectionError)


class HubAdapter(HTTPAdapter):
    """The transport of every provider session: bucket, retries, timeouts, counting."""

    def __init__(
        self,
        *,
        provider: str,
        key: str,
        attempts: int,
        max_retry_wait: float,
        backoff_base: float,
        timeout: tuple[float, float],
        ssl_context: ssl.SSLContext | None = None,
        limit: str = "",
    ):
        self.ssl_context = ssl_context  # set first: HTTPAdapter's init builds the pool manager
        super().__init__(max_retries=0, pool_connections=4, pool_maxsize=16)
        self.provider = provider
        self.limit = limit or provider  # the PROVIDER_RATE_LIMITS entry paced against
        self.key = key
        self.attempts = attempts
        self.max_retry_wait = max_retry_wait
        self.backoff_base = backoff_base
        self.timeout = timeout

    def init_poolmanager(self, *args, **kwargs):
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn, url, verify, cert):
        if self.ssl_context is not None and verify is True and url.lower().startswith("https"):
            # The context holds the CAs and requires a valid certificate: requests would add
            # certifi's path, which urllib3 parses again for every new connection.
            conn.cert_reqs = "CERT_REQUIRED"
            conn.ca_certs = conn.ca_cert_dir = None
            return
        super().cert_verify(conn, url, verify, cert)

    def _should_retry_response(self, method: str, response: requests.Response) -> bool:
        if response.status_code not in RETRY_STATUSES:
            return False
        if (
            method not in IDEMPOTENT_METHODS
            and response.status_code not in NOT_PROCESSED_STATUSES
            and not NOT_PROCESSED_ANSWERS.get(self.provider, _never)(response)
        ):
            return False
        wait = retry_after_seconds(response)
        # A provider asking for a long pause gets it from the caller (RateLimited), not from
        # a worker sleeping in the middle of a request.
        return wait is None or wait <= self.max_retry_wait

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            wait = retry_after_seconds(outcome.result())
            if wait is not None:
                return wait + random.uniform(0, 0.25)  # noqa: S311 - jitter; never earlier than asked
        ceiling = min(BACKOFF_CAP, self.backoff_base * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - full jitter, not a secret

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        weight = int(request.headers.pop(WEIGHT_HEADER, 1))
        timeout = timeout or self.timeout
        method = request.method.upper()
        path = request.path_url.split("?", 1)[0]

        # A streamed body (a file) is read by each attempt: rewind it before a resend, or the
        # retry would send nothing under the first attempt's Content-Length.
        body = request.body
        rewind = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None

        def attempt() -> requests.Response:
            acquire(self.limit, self.key, weight=weight)
            if rewind is not None:
                body.seek(rewind)
            started = time.monotonic()
            status = "error"
            try:
                response = super(HubAdapter, self).send(
                    request,
                    stream=stream,
                    timeout=timeout,
                    verify=verify,
                    cert=cert,
                    proxies=proxies,
                )
                status = response.status_code
                if not stream:
                    # Read the body here, inside the retry loop: a connection that breaks
                    # after the headers is a failed attempt like any other.
                    response.content  # noqa: B018
                return response
            finally:
                elapsed = time.monotonic() - started
                _record(
                    calls=1,
                    seconds=elapsed,
                    status=status,
                    attempt=(method, path, status, elapsed),
                )
                logger.debug(
                    "%s %s %s -> %s in %.0f ms", self.provider, method, path, status, elapsed * 1000
                )

        def before_sleep(state: RetryCallState) -> None:
            _record(retries=1, backoff_seconds=state.upcoming_sleep)
            _tell_retry_listeners(state)
            logger.info(
                "%s %s %s: retrying in %.1f s (attempt %d of %d)",
                self.provider,
                method,
                path,
                state.upcoming_sleep,
                state.attempt_number + 1,
                self.attempts,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_result(lambda response: self._should_retry_response(method, response))
            | retry_if_exception(
                lambda exc: isinstance(exc, NETWORK_ERRORS) and _may_resend(method, exc)
            ),
            before_sleep=before_sleep,
            # Out of attempts: hand back the last answer (the caller turns it into a typed
            # error) or raise the last exception.
            retry_error_callback=lambda state: state.outcome.result(),
        )
        try:
            return retrying(attempt)
        except requests.exceptions.Timeout as exc:
            raise Timeout(
                f"{self.provider}: no answer from {method} {path} in time", provider=self.provider
            ) from exc
        except NETWORK_ERRORS as exc:
            raise Unavailable(
                f"{self.provider}: could not reach {method} {path}", provider=self.provider
            ) from exc


# --- Sessions --------------------------------------------------------------------------------------


def session(provider: str, *, key: str = "app", limit: str = "") -> requests.Session:
    """A requests session for one provider and one rate-limit key (a connection id, an org).
    Give it to the SDK where the SDK accepts one. `limit`: the settings.PROVIDER_RATE_LIMITS
    entry to pace against when an API has a budget of its own (HubSpot's search,
    "hubspot-search"); the provider's by default."""
    sandbox = settings.INTEGRATIONS_MODE == "sandbox"
    http = requests.Session()
    http.trust_env = not sandbox
    context = sandbox_tls_context() if sandbox else None
    # verify=True with the adapter's context: requests then hands urllib3 that context and no
    # CA path, so nothing is parsed per connection (a path is parsed each time). No bundle yet
    # (the sandbox writes it when it starts): the path, refused as missing when a call is made.
    http.verify = True if context or not sandbox else str(settings.SANDBOX_CA_BUNDLE)
    http.headers["User-Agent"] = "IntegrationHub/1.0"
    adapter = HubAdapter(
        provider=provider,
        key=key,
        attempts=settings.HTTP_MAX_ATTEMPTS,
        max_retry_wait=settings.HTTP_MAX_RETRY_WAIT,
        backoff_base=settings.HTTP_BACKOFF_BASE,
        timeout=(settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT),
        ssl_context=context,
        limit=limit,
    )
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


def raise_for_status(
    response: requests.Response, *, provider: str, message: str = "", code: str = ""
) -> requests.Response:
    """Turn an answer that is not 2xx into the matching typed error."""
    status = response.status_code
    if status < 400:
        return response
    text = message or f"{provider} answered {status}"
    if status == 401:
        raise Unauthorized(text, provider=provider, status=status, code=code)
    if status == 429:
        raise RateLimited(
            text,
            provider=provider,
            status=status,
            code=code,
            retry_after=retry_after_seconds(response),
        )
    if status >= 500:
        raise Unavailable(text, provider=provider, status=status, code=code)
    raise Permanent(text, provider=provider, status=status, code=code)


_tls_contexts: dict[tuple[str, int], ssl.SSLContext] = {}


def sandbox_tls_context() -> ssl.SSLContext | None:
    """One verifying TLS context per process for the sandbox bundle, made again only when the
    file changes (the sandbox rewrites it when it renews its certificate); None without one."""
    path = str(settings.SANDBOX_CA_BUNDLE)
    try:
        key = (path, os.stat(path).st_mtime_ns)
    except FileNotFoundError:
        return None
    context = _tls_contexts.get(key)
    if context is None:
        context = ssl.create_default_context(cafile=path)  # CERT_REQUIRED, hostnames checked
        _tls_contexts.clear()
        _tls_contexts[key] = context
    return context
