"""Every model of the `integrations` app, by room. Each room keeps its models in its own
`models.py`; this module hands them on, so Django finds them under the app label
`integrations` (their tables and migrations stay as they were)."""

from integrations.accounts.models import (
    ApiToken,
    AuditEvent,
    Membership,
    User,
    UserManager,
    Workspace,
    WorkspaceOwned,
)
from integrations.approvals.models import OutboundChange
from integrations.connections.models import Connection, OAuthState
from integrations.heartbeats import Heartbeat
from integrations.mapping.models import (
    FieldMapping,
    LookupEntry,
    LookupTable,
    MappingSet,
    NumberSequence,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Connection",
    "FieldMapping",
    "Heartbeat",
    "LookupEntry",
    "LookupTable",
    "Membership",
    "MappingSet",
    "NumberSequence",
    "OAuthState",
    "OutboundChange",
    "User",
    "UserManager",
    "Workspace",
    "WorkspaceOwned",
]
