from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sandbox import engine, health


@never_cache
@require_GET
async def salud(request: HttpRequest) -> JsonResponse:
    if isinstance(request, ASGIRequest):
        # A real server's event loop (not a test client's throwaway one): start the reaper and
        # the warm pool here too, since a Channels app has no start-up hook.
        engine.ensure_background_tasks()
    ok, report = await health.snapshot()
    return JsonResponse(
        report, status=200 if ok else 503, json_dumps_params={"ensure_ascii": False}
    )
