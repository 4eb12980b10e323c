"""The points of an outbound run where the crash tests stop a worker dead, found from outside
the sync: each is just before or just after one kind of Smartsheet write (the provider's
function, which the sync looks up on its module at each call), or just after a batch of rows
was recorded. The production code carries no hook for them.

  intent_recorded      the batch's intents committed, its Add Rows not yet sent
  batch_accepted       Smartsheet took the batch; our record of it not yet made
  batch_committed      the batch's rows recorded, the next write not begun
  discussion_intent    a comment's intent committed, its discussion not yet posted
  discussion_posted    the discussion exists; our record of it does not
  attachment_intent    a file's intent committed, not yet uploaded
  attachment_uploaded  the file is there; our record of it is not
"""

import functools

from integrations.connections.providers import smartsheet
from projects import sync

# point -> (what is wrapped, its attribute, before or after the call)
POINTS = {
    "intent_recorded": (smartsheet, "add_rows", "before"),
    "batch_accepted": (smartsheet, "add_rows", "after"),
    "batch_committed": (sync.Sync, "_add_batch", "after"),
    "discussion_intent": (smartsheet, "add_discussion", "before"),
    "discussion_posted": (smartsheet, "add_discussion", "after"),
    "attachment_intent": (smartsheet, "attach_file", "before"),
    "attachment_uploaded": (smartsheet, "attach_file", "after"),
}


def watch(points, hook, setattr=setattr) -> None:
    """Call `hook(point)` at each of `points` (names of POINTS). `setattr`: pytest's
    monkeypatch.setattr in a test (undone after it), the builtin in a forked worker."""
    for point in points:
        owner, name, when = POINTS[point]
        setattr(owner, name, _wrapped(getattr(owner, name), point, when, hook))


def _wrapped(function, point: str, when: str, hook):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if when == "before":
            hook(point)
        result = function(*args, **kwargs)
        if when == "after":
            hook(point)
        return result

    return wrapper


def at(point: str, occurrence: int, action) -> None:
    """Call `action()` at the n-th pass of one point (in a worker of its own)."""
    seen = {"count": 0}

    def hook(name: str) -> None:
        seen["count"] += 1
        if seen["count"] == occurrence:
            action()

    watch([point], hook)
