from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.selectors import SESSION_KEY, organisations_for_user


@require_POST
def organisation_switch(request):
    """Work in another organisation the user may work in; back to the page the chooser was on."""
    organisation = organisations_for_user(request.user).filter(pk=request.POST.get("organisation") or 0).first()
    if organisation is None:
        raise Http404("No such organisation.")
    request.session[SESSION_KEY] = organisation.pk
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe and target.startswith("/") else "home")
