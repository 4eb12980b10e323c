"""HubSpot's webhook requests as the hub receives them: the v3 signature checked, stale
timestamps refused, the JSON batch parsed into typed events. Nothing here calls out.

# Reference: ../shared/providers/hubspot.md "Webhooks v3 signature" and
# developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation:
# X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret, method + URI + raw body +
# X-HubSpot-Request-Timestamp)); reject a timestamp more than 5 minutes old; compare in constant
# time; the URI is signed with some escapes decoded (%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C
# %3B). The digest is the SDK's own (hubspot.utils.signature.Signature.get_signature); its
# is_valid is not used because it lets a timestamp from the future through and does no URI
# decoding.
# Reference: developers.hubspot.com/docs/api/webhooks "Webhook payloads" (objectId, eventId,
# subscriptionId, portalId, appId, occurredAt in ms, subscriptionType, attemptNumber,
# changeSource, propertyName / propertyValue; association changes: fromObjectId, toObjectId,
# associationType; merges: primaryObjectId, mergedObjectIds) and "Retries" (HubSpot waits five
# seconds for an answer, so a receiver must answer at once).
"""

import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from hubspot.utils.signature import Signature

MAX_AGE_SECONDS = 300  # older (or further ahead) timestamps are refused
ANSWER_WITHIN_SECONDS = 5  # HubSpot's delivery timeout: past it, the batch is sent again
DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class Refused(Exception):
    """A request the hub must not believe: `code` says why, `message` says it to the sender."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Event:
    """One notification of a batch: what HubSpot says changed, no values kept beyond it."""

    event_id: int
    subscription_id: int
    portal_id: int
    subscription_type: str  # "contact.propertyChange", ...
    object_id: str  # the record to read again (a contact for contact <-> company changes)
    occurred_at: datetime | None
    attempt: int
    change_source: str

    @property
    def object_type(self) -> str:
        return self.subscription_type.split(".", 1)[0]


def _signed_uri(uri: str) -> str:
    for escaped, char in DECODED.items():
        uri = uri.replace(escaped, char).replace(escaped.lower(), char)
    return uri


def verify(*, method: str, uri: str, body: bytes, headers, secret: str, now=None) -> None:
    """Raise Refused unless the request carries a fresh, valid v3 signature made with
    `secret` (the app's client secret). `uri` is the full URI the request was sent to."""
    signature = headers.get("X-HubSpot-Signature-v3", "")
    stamp = headers.get("X-HubSpot-Request-Timestamp", "")
    if not signature or not stamp:
        raise Refused(
            "signature_missing",
            "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required.",
        )
    if not secret:
        raise Refused("not_configured", "No HubSpot client secret is configured here.")
    try:
        sent = int(stamp) / 1000
    except ValueError:
        raise Refused("timestamp_invalid", "X-HubSpot-Request-Timestamp is not a number.") from None
    age = (time.time() if now is None else now) - sent
    if abs(age) > MAX_AGE_SECONDS:
        raise Refused(
            "timestamp_stale",
            f"The request timestamp is {int(abs(age))} s {'old' if age > 0 else 'ahead'}; "
            f"more than {MAX_AGE_SECONDS // 60} minutes is refused.",
        )
    expected = Signature.get_signature(
        secret, body.decode("utf-8", "replace"), "v3", _signed_uri(uri), method, stamp
    )
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Refused("signature_invalid", "The X-HubSpot-Signature-v3 signature does not match.")


def _subject(item: dict) -> str:
    """The record the hub must read again for one notification."""
    kind = str(item.get("subscriptionType") or item.get("eventType") or "")
    if kind == "company.associationChange" and item.get("associationType") == "COMPANY_TO_CONTACT":
        return str(item.get("toObjectId", ""))  # the contact whose company changed
    if kind.endswith(".merge") and item.get("primaryObjectId"):
        return str(item["primaryObjectId"])
    return str(item.get("objectId", ""))


def parse(body: bytes) -> list[Event]:
    """The batch's notifications (a JSON array); Refused("body_invalid") when it is not one."""
    try:
        items = json.loads(body)
    except ValueError:
        raise Refused("body_invalid", "The body is not JSON.") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Refused("body_invalid", "The body must be a JSON array of notifications.")
    events = []
    for item in items:
        try:
            occurred = item.get("occurredAt")
            events.append(
                Event(
                    event_id=int(item["eventId"]),
                    subscription_id=int(item["subscriptionId"]),
                    portal_id=int(item["portalId"]),
                    subscription_type=str(item.get("subscriptionType") or item["eventType"]),
                    object_id=_subject(item),
                    occurred_at=(
                        datetime.fromtimestamp(int(occurred) / 1000, UTC) if occurred else None
                    ),
                    attempt=int(item.get("attemptNumber", 0)),
                    change_source=str(item.get("changeSource", ""))[:40],
                )
            )
        except (KeyError, TypeError, ValueError):
            raise Refused(
                "body_invalid",
                "Each notification needs eventId, subscriptionId, portalId and subscriptionType.",
            ) from None
    return events
