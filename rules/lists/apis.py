"""Partner API of lists (scope `lists`): the organisation's lists, a new list, and a list's entries (page through
them, add, remove). A token acts in its own organisation; people (session login) with the permission to see lists
read their organisation's, and change them on the lists pages rather than here. Another organisation's list is 404.
"""

import re

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_schema  # noqa: F401 - registers the token scheme with drf-spectacular
from accounts.authentication import HasScope
from accounts.models import PartnerToken
from core.api_errors import FieldErrors, error_item
from core.api_schema import error_responses
from core.parsers import JSONParser
from rules.lists import selectors, services
from rules.lists.services import ListRefused
from rules.models import NAME_PATTERN, ValueList
from transactions.validation import text_problem

NAME = re.compile(NAME_PATTERN)
MAX_VALUES = 10_000  # per request; larger sets go through a CSV upload on the list's page
VIEW_PERM = "rules.view_valuelist"


class ListsApi(APIView):
    permission_classes = [IsAuthenticated, HasScope]
    parser_classes = [JSONParser]
    required_scope = "lists"
    required_user_permission = VIEW_PERM


def caller_organisation_id(request) -> int | None:
    """The organisation the caller acts in: a token's own, a person's current one (None: a person of none)."""
    if isinstance(request.auth, PartnerToken):
        return request.auth.organisation_id
    return getattr(getattr(request, "organisation", None), "pk", None)


def writer_organisation_id(request) -> int:
    if isinstance(request.auth, PartnerToken):
        return request.auth.organisation_id
    raise PermissionDenied("Changing lists through the API needs a partner token (Authorization: Bearer <token>).")


def list_for_request(request, name: str, *, organisation_id: int | None = None) -> ValueList:
    """The caller's organisation's list of that name, or 404 (another organisation's included)."""
    organisation_id = organisation_id if organisation_id is not None else caller_organisation_id(request)
    if not NAME.fullmatch(name):
        raise Http404("No such list.")  # no list has that name (and PostgreSQL refuses some text, such as a NUL)
    try:
        return selectors.value_list_get(organisation_id=organisation_id, name=name)
    except ValueList.DoesNotExist:
        raise Http404("No such list.") from None


def refused(exc: ListRefused) -> FieldErrors:
    return FieldErrors([error_item(exc.field, exc.reason, exc.code)])


class ValueListOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text=f"One of {', '.join(ValueList.Kind.values)}.")
    description = serializers.CharField()
    revision = serializers.IntegerField(help_text="Bumped by every change of the list or its entries.")
    entry_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ValueListListApi(ListsApi):
    """The organisation's lists, by name."""

    @extend_schema(
        operation_id="lists_list",
        description=__doc__,
        responses={200: ValueListOutputSerializer(many=True), **error_responses()},
        summary="List the organisation's lists",
    )
    def get(self, request):
        lists = selectors.value_lists(organisation_id=caller_organisation_id(request))
        return Response(ValueListOutputSerializer(lists, many=True).data)


class ValueListCreateApi(ListsApi):
    """A new, empty list; its name is how rules read it (`merchant_id in lists.<name>`)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ValueListInput"

        name = serializers.CharField(
            max_length=63, help_text="Lower-case letters, digits and underscores, starting with a letter."
        )
        kind = serializers.ChoiceField(choices=ValueList.Kind.values)
        description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    @extend_schema(
        operation_id="lists_create",
        description=__doc__,
        request=InputSerializer,
        responses={201: ValueListOutputSerializer, **error_responses(400, 413)},
        summary="Create a list",
        examples=[
            OpenApiExample(
                "A block list of merchants",
                value={"name": "blocked_merchants", "kind": "merchant", "description": "Confirmed fraud"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        organisation_id = writer_organisation_id(request)
        data = ValueListCreateApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            value_list = services.value_list_create(
                organisation_id=organisation_id, user=request.user, **data.validated_data
            )
        except ListRefused as exc:
            raise refused(exc) from None
        value_list.entry_count = 0
        return Response(ValueListOutputSerializer(value_list).data, status=status.HTTP_201_CREATED)


class ValueListsApi(ValueListListApi, ValueListCreateApi):
    """/api/v1/lists: GET lists them (ValueListListApi), POST creates one (ValueListCreateApi)."""


class EntryOutputSerializer(serializers.Serializer):
    value = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="A member until then; null: no expiry.")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class EntryPagination(CursorPagination):
    ordering = ("value",)
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000


class EntriesOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ListEntriesChange"

    added = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Values already there, given another expiry or note.")
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()
    revision = serializers.IntegerField(help_text="The list's revision after the change.")


def _values_field(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        allow_empty=False,
        max_length=MAX_VALUES,
        help_text=help_text,
    )


def _outcome(outcome: services.EntriesOutcome, value_list: ValueList) -> dict:
    counts = {k: getattr(outcome, k) for k in ("added", "updated", "unchanged", "removed")}
    return counts | {"revision": value_list.revision}


class ListEntryListApi(ListsApi):
    """A list's entries by value, cursor-paginated (`next`/`previous` links); `search` keeps those whose value or
    note contains it."""

    class PageSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ListEntryPage"

        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = EntryOutputSerializer(many=True)

    @extend_schema(
        operation_id="lists_entries_list",
        description=__doc__,
        parameters=[
            OpenApiParameter("search", str, description="Entries whose value or note contains this (any case)."),
            OpenApiParameter("limit", int, description="Entries per page (at most 1000; 100 by default)."),
            OpenApiParameter("cursor", str, description="The page, from a `next` or `previous` link."),
        ],
        responses={200: PageSerializer, **error_responses(400, 404)},
        summary="Page through a list's entries",
    )
    def get(self, request, name: str):
        value_list = list_for_request(request, name)
        search = request.query_params.get("search", "")
        problem = text_problem(search)
        if problem is not None:
            raise FieldErrors([error_item("search", problem)])
        entries = selectors.list_entries(value_list=value_list, search=search)
        paginator = EntryPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(EntryOutputSerializer(page, many=True).data)


class ListEntryAddApi(ListsApi):
    """Add values (normalised by the list's kind: countries upper-case, IPv6 compressed…), with an optional expiry
    and note; a value already there takes the expiry and note given. A bad value refuses the request, naming it."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ListEntryAddInput"

        values = _values_field(f"The values to add (at most {MAX_VALUES}).")
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    @extend_schema(
        operation_id="lists_entries_add",
        description=__doc__,
        request=InputSerializer,
        responses={200: EntriesOutputSerializer, **error_responses(400, 404, 413)},
        summary="Add entries to a list",
        examples=[OpenApiExample("Two merchants", value={"values": ["M-12", "M-99"]}, request_only=True)],
    )
    def post(self, request, name: str):
        value_list = list_for_request(request, name, organisation_id=writer_organisation_id(request))
        data = ListEntryAddApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = services.list_entries_add(value_list=value_list, user=request.user, **data.validated_data)
        except ListRefused as exc:
            raise refused(exc) from None
        value_list.refresh_from_db(fields=["revision"])
        return Response(_outcome(outcome, value_list))


class ListEntryRemoveApi(ListsApi):
    """Remove values (normalised by the list's kind); a value not in the list is counted as unchanged."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ListEntryRemoveInput"

        values = _values_field(f"The values to remove (at most {MAX_VALUES}).")

    @extend_schema(
        operation_id="lists_entries_remove",
        description=__doc__,
        request=InputSerializer,
        responses={200: EntriesOutputSerializer, **error_responses(400, 404, 413)},
        summary="Remove entries from a list",
    )
    def delete(self, request, name: str):
        value_list = list_for_request(request, name, organisation_id=writer_organisation_id(request))
        data = ListEntryRemoveApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outcome = services.list_entries_remove(value_list=value_list, user=request.user, **data.validated_data)
        except ListRefused as exc:
            raise refused(exc) from None
        value_list.refresh_from_db(fields=["revision"])
        return Response(_outcome(outcome, value_list))


class ListEntriesApi(ListEntryListApi, ListEntryAddApi, ListEntryRemoveApi):
    """/api/v1/lists/{name}/entries: GET pages (ListEntryListApi), POST adds (ListEntryAddApi), DELETE removes
    (ListEntryRemoveApi)."""
