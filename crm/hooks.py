"""Where providers call the hub: HubSpot's webhook deliveries (`POST /hooks/hubspot/`).

No session, no CSRF token, no sign-in: HubSpot proves itself with the request's v3 signature
(crm.webhooks). The answer comes at once (HubSpot sends a batch again when no answer comes
within five seconds): the request stores the notifications and queues, it never syncs.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm import webhooks
from integrations.connections.providers.hubspot_webhooks import Refused


@csrf_exempt
@require_POST
def hubspot(request):
    try:
        outcome = webhooks.webhook_receive(
            body=request.body,
            headers=request.headers,
            uri=request.build_absolute_uri(),
            method=request.method,
        )
    except Refused as refused:
        # 401 for what is not HubSpot's (HubSpot itself retries a 4xx, so a real delivery
        # refused by a clock skew comes again); a body that is not a batch is a 400.
        status = 400 if refused.code == "body_invalid" else 401
        return JsonResponse({"error": refused.code, "message": refused.message}, status=status)
    return JsonResponse(outcome)
