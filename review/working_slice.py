"""The working slice: the queue's filters, kept in the person's session so every way back to the queue (the back
link, the `u` key, after a decision) and "claim next" work within them.

The queue page saves the filters of every request that carries a query string; the queue without one shows the
saved filters again.
"""

from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse

from review.forms import QueueFilterForm

SESSION_KEY = "review_queue_filters"


def queue_filters_save(*, session, filters: dict) -> None:
    """Keep the queue's cleaned filters (those in force, not the page) as a query string."""
    session[SESSION_KEY] = urlencode({name: str(value) for name, value in filters.items()})


def queue_filters_query(*, session) -> str:
    """The saved filters as a query string, "" when none are."""
    return session.get(SESSION_KEY, "")


def queue_filters(*, session) -> dict:
    """The saved filters, cleaned as the queue cleans them."""
    return QueueFilterForm(QueryDict(queue_filters_query(session=session))).filters()


def queue_url(*, session) -> str:
    """The queue under the saved filters."""
    query = queue_filters_query(session=session)
    return reverse("review:queue") + (f"?{query}" if query else "")
