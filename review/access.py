"""Who may see and decide review items, and the organisation a request works in: shared by review's views."""

from django.contrib.auth.decorators import permission_required

VIEW_PERM = "review.view_reviewitem"
DECIDE_PERM = "review.decide_reviewitem"
decide_required = permission_required(DECIDE_PERM, raise_exception=True)


def organisation_id(request) -> int | None:
    return getattr(request.organisation, "pk", None)
