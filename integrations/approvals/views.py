"""The review queue page."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie
def review_queue(request):
    """Outgoing changes waiting for a person: the page polls the API every 2 s (the seed's
    open question, decided) and approves or rejects through it."""
    return render(
        request,
        "integrations/review.html",
        {"config": {"pollMs": 2000, "listUrl": "/api/integrations/outbound-changes"}},
    )
