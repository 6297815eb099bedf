"""Accounts, so a student keeps their progress: sign up, log in, log out (Django auth).

Students never need an account to practise; these only exist to keep progress across browsers.
Whatever was done anonymously moves to the account at login (exercises.signals).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from exercises.login_limits import LimitedAuthenticationForm, LimitedSignupForm
from tutorial import session_rate


class LoginView(auth_views.LoginView):
    form_class = LimitedAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.retry_after:  # too many failed logins from this address (exercises.login_limits)
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


login_view = LoginView.as_view(next_page=reverse_lazy("lessons:index"))
logout_view = auth_views.LogoutView.as_view(next_page=reverse_lazy("lessons:index"))


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("lessons:index")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LimitedSignupForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid():
        # The account and its session are made together: refused before either when the
        # address may open no new session (tutorial.session_rate would take the session back
        # after the view, leaving an account the student was told was not made).
        wait = session_rate.take_for_view(request)
        if wait:
            return session_rate.refused(wait)
        user = form.save()
        login(request, user, backend="exercises.login_limits.LimitedModelBackend")
        return redirect(_next_url(request))
    response = render(
        request, "registration/signup.html", {"form": form, "next": _next_url(request)}
    )
    if form.retry_after:  # too many failed sign-ups or logins from this address
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response
