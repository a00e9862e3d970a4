"""Login throttling on top of django-axes: the lockout answer, its audit row, and the admin's unlock.

After LOGIN_FAILURE_LIMIT failed logins for one username, or from one address, within LOGIN_COOLOFF_MINUTES of each
other, logins for that username or from that address are refused (the right password too) until LOGIN_COOLOFF_MINUTES
after the last failure, or until an admin unlocks them (Admin › Axes › Access attempts › "Unlock").
"""

import math

from axes.middleware import AxesMiddleware
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Q
from django.dispatch import receiver
from django.shortcuts import render

from core.audit import audit_record

LOCKED_OUT_STATUS = 429


class LoginLockoutMiddleware(AxesMiddleware):
    """axes' middleware (it swaps a locked-out login's answer for `lockout_response`), run synchronously: its
    asynchronous path calls the lockout callable with the wrong arguments."""

    async_capable = False
    sync_capable = True


def lockout_message() -> str:
    return (
        "Too many failed logins for this username or from this address. Logging in is blocked for "
        f"{settings.LOGIN_COOLOFF_MINUTES:g} minutes after the last failed try, or until an admin unlocks it."
    )


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the login page again, saying why the login was refused; 429 with Retry-After."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "locked_out": True,
        "lockout_message": lockout_message(),
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    response = render(request, "registration/login.html", context, status=LOCKED_OUT_STATUS)
    response["Retry-After"] = str(math.ceil(settings.LOGIN_COOLOFF_MINUTES * 60))
    return response


@receiver(user_locked_out, dispatch_uid="accounts.lockout.audit_lockout")
def _audit_lockout(sender, request, username=None, ip_address=None, **kwargs) -> None:
    """One audit row when a lockout begins. axes sends the signal again for each try refused while locked out; those
    carry no failure count (they are not counted), so they are not recorded again."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    user = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        action="login.locked_out",
        obj=user,
        object_type="" if user else "login",
        object_id="" if user else (username or ""),
        after={"username": username, "ip_address": ip_address, "failures": failures},
        request=request,
    )


def login_unlock(*, username: str | None, ip_address: str | None, user) -> int:
    """Forget the failed logins of a username and of an address, which lifts a lockout on either; audited. Returns
    how many attempt records went."""
    match = (Q(username=username) if username else Q(pk__in=[])) | (
        Q(ip_address=ip_address) if ip_address else Q(pk__in=[])
    )
    removed, _ = AccessAttempt.objects.filter(match).delete()
    audit_record(
        action="login.unlock",
        object_type="login",
        object_id=username or "",
        after={"username": username, "ip_address": ip_address, "attempts_removed": removed},
        actor=user,
    )
    return removed
