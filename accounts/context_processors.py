from accounts.selectors import organisations_for_user


def organisations(request) -> dict:
    """The current organisation, and the others the user may switch to (for the chooser in the page header)."""
    current = getattr(request, "organisation", None)
    user = getattr(request, "user", None)
    if current is None or not (user and user.is_authenticated):
        return {"current_organisation": current, "organisation_choices": []}
    choices = list(organisations_for_user(user).order_by("name")[:200])
    return {"current_organisation": current, "organisation_choices": choices if len(choices) > 1 else []}
