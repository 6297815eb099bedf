from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sandbox import health


@never_cache
@require_GET
async def salud(request: HttpRequest) -> JsonResponse:
    # Only reports: the reaper and the warm pool start with the server (tutorial.asgi's lifespan).
    # Started from here they inherited the request's thread executors, which end with it.
    ok, report = await health.snapshot()
    return JsonResponse(
        report, status=200 if ok else 503, json_dumps_params={"ensure_ascii": False}
    )
