"""The organisation a person's request works in: `request.organisation` (None for a user of no organisation)."""

from accounts.selectors import organisation_for_request


class CurrentOrganisationMiddleware:
    """Sets `request.organisation` from the session's choice among the organisations the user may work in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organisation = organisation_for_request(request)
        return self.get_response(request)
