"""Failed logins per client address, limited, so that no password is guessed online.

Each failure (a wrong password, an unknown name) spends a token of the address's bucket
(CLIENT_LOGIN_FAILURES_BURST, refilled at CLIENT_LOGIN_FAILURES_PER_MINUTE). With none left,
that address's logins are refused before any password is hashed (each hash is ~0.2 s of CPU, so
guessing also loaded the server): on Muelle's login page with a Spanish message and a 429, and
on every other login (the admin's) through the authentication backend. A success spends nothing.
Per address and not per account: counting per account would let anyone lock a student out.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
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


class LimitedAuthenticationForm(AuthenticationForm):
    """Muelle's login form: says why, instead of the wrong-password message the backend's
    refusal would give (the backend is what holds the limit)."""

    retry_after = 0

    def clean(self) -> dict[str, Any]:
        wait = failures.wait(request_address(self.request)) if self.request else 0.0
        if wait:
            self.retry_after = max(1, math.ceil(wait))
            raise ValidationError(
                _(
                    "Desde tu red ha habido muchos intentos fallidos de entrar. Espera "
                    "%(seconds)d segundos y vuelve a intentarlo."
                ),
                code="too_many",
                params={"seconds": self.retry_after},
            )
        return super().clean()
