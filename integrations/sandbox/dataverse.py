"""Microsoft Dataverse Web API emulator (one environment). Accepts the bearer tokens the
Azure emulator issued for this environment's URL; answers `WhoAmI`, enforces the service
protection limit (6,000 requests per 5 minutes per user) with 429 + Retry-After and the
OData error body. The TimeTracker issue adds the `imi_jobs` entity set here.

# Reference: ../shared/providers/dataverse.md (Web API basics, error shape
# {"error":{"code","message"}}, service protection limits 0x80072322, Retry-After);
# WhoAmIResponse from learn.microsoft.com (Microsoft.Dynamics.CRM.WhoAmIResponse).
"""

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.core import Caller, Emulator, RateLimit, bearer_token, json_error


def _stable_id(seed: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://dataverse.sandbox/{seed}/{name}"))


class DataverseEmulator(Emulator):
    name = "dataverse"
    title = "Microsoft Dataverse"
    default_limit = RateLimit(limit=6000, window=300)
    api_prefixes = ("/api/data/",)

    def __init__(self, *, azure=None, **kwargs):
        self.azure = azure
        super().__init__(**kwargs)

    def initial_state(self, seed: int) -> dict:
        return {
            **super().initial_state(seed),
            "organization_id": _stable_id(seed, "organization"),
            "business_unit_id": _stable_id(seed, "business unit"),
            "app_users": {},  # client id -> systemuser id of its application user
        }

    @property
    def base(self) -> str:
        return self.config.get("base_url", "https://127.0.0.1")

    def odata_error(
        self, status: int, code: str, message: str, headers: dict | None = None
    ) -> JSONResponse:
        return json_error({"error": {"code": code, "message": message}}, status, headers)

    def caller(self, request: Request) -> Caller | None:
        info = self._token(request)
        return Caller(key=info["client_id"]) if info else None  # per (application) user

    def _token(self, request: Request) -> dict | None:
        if self.azure is None:
            return None
        info, _ = self.azure.token_info(bearer_token(request))
        if info is None or info["audience"].rstrip("/") != self.base.rstrip("/"):
            return None
        return info

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return self.odata_error(
            429,
            "0x80072322",
            f"Number of requests exceeded the limit of {self.limit.limit} over time window of {int(self.limit.window)} seconds.",
            {"Retry-After": str(max(1, round(retry_after)))},
        )

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        return self.rate_limited(request, retry_after if retry_after is not None else 5)

    def error_response(self, request: Request, status: int) -> Response:
        return self.odata_error(status, "0x80040216", "An unexpected error occurred.")

    def unauthorized(self) -> Response:
        tenant = next(iter(self.azure.state["tenants"]), "common") if self.azure else "common"
        authority = self.azure.base if self.azure else "https://login.microsoftonline.com"
        return Response(
            status_code=401,
            headers={
                "WWW-Authenticate": f"Bearer authorization_uri={authority}/{tenant}/oauth2/authorize, resource_id={self.base}/"
            },
        )

    def api_routes(self) -> list[Route]:
        return [Route("/api/data/v9.2/WhoAmI", self.who_am_i, methods=["GET"])]

    async def who_am_i(self, request: Request) -> Response:
        info = self._token(request)
        if info is None:
            return self.unauthorized()
        user_id = self.state["app_users"].setdefault(
            info["client_id"], _stable_id(self.seed, f"application user {info['client_id']}")
        )
        return JSONResponse(
            {
                "@odata.context": f"{self.base}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": self.state["business_unit_id"],
                "UserId": user_id,
                "OrganizationId": self.state["organization_id"],
            }
        )
