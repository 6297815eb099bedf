"""Failed logins per client address, limited, so that no password is guessed online.

Each failure (a wrong password, an unknown name) spends a token of the address's bucket
(CLIENT_LOGIN_FAILURES_BURST, refilled at CLIENT_LOGIN_FAILURES_PER_MINUTE). With none left,
that address's logins are refused before any password is hashed (each hash is ~0.2 s of CPU, so
guessing also loaded the server): on Muelle's login page with a Spanish message and a 429, and
on every other login (the admin's) through the authentication backend. A success spends nothing.
A sign-up refused for a name that exists spends a token too: it says which names have one.
Per address and not per account: counting per account would let anyone lock a student out.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.utils import ErrorDict
from django.http import HttpRequest
from django.utils.translation import gettext as _

from tutorial.address_buckets import AddressBuckets
from tutorial.client_address import request_address

failures = AddressBuckets("CLIENT_LOGIN_FAILURES_BURST", "CLIENT_LOGIN_FAILURES_PER_MINUTE")


class LimitedModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return super().authenticate(request, username, password, **kwargs)
        # The token is taken before the password is hashed and given back on success: checked
        # first and taken after, logins sent at once all passed the check.
        address = request_address(request)
        if failures.take(address):
            raise PermissionDenied  # authenticate() stops here and reports a failed login
        user = super().authenticate(request, username, password, **kwargs)
        if user is not None:
            failures.give_back(address)
        return user


def _too_many(wait: float) -> ValidationError:
    return ValidationError(
        _(
            "Desde tu red ha habido muchos intentos fallidos de entrar. Espera "
            "%(seconds)d segundos y vuelve a intentarlo."
        ),
        code="too_many",
        params={"seconds": max(1, math.ceil(wait))},
    )


class LimitedAuthenticationForm(AuthenticationForm):
    """Muelle's login form: says why, instead of the wrong-password message the backend's
    refusal would give (the backend is what holds the limit)."""

    retry_after = 0

    def clean(self) -> dict[str, Any]:
        wait = failures.wait(request_address(self.request)) if self.request else 0.0
        if wait:
            self.retry_after = max(1, math.ceil(wait))
            raise _too_many(wait)
        return super().clean()


class LimitedSignupForm(UserCreationForm):  # type: ignore[type-arg]
    """The sign-up form, whose «Ya existe un usuario con ese nombre» says which names have an
    account: a sign-up refused for that spends a token of the same bucket as a failed login,
    and with none left the form is not read at all (an attack review probed 300 names in 6 s)."""

    retry_after = 0

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def full_clean(self) -> None:
        if not self.is_bound:
            return super().full_clean()
        address = request_address(self.request)
        wait = failures.wait(address)
        if wait:
            self.retry_after = max(1, math.ceil(wait))
            self._errors = ErrorDict()
            self.cleaned_data = {}
            self.add_error(None, _too_many(wait))
            return None
        super().full_clean()
        # Only the answer that tells a name exists spends a token: a class behind one address
        # whose passwords the validators turn down must not lock itself out of logging in.
        if self.has_error("username", code="unique"):
            failures.take(address)
        return None
