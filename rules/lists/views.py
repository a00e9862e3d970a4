"""The lists pages: every list of the organisation, a new list, and a list's page (its entries with search and
paging; add, remove, upload a CSV, download it as one; delete the list).

Everyone with a role reads (`rules.view_valuelist`); admins and holders of `rules.publish` change. A list reaches a
view only through `_list_for_request`, which answers 404 for another organisation's.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.csv_stream import csv_response
from rules.lists import selectors, services
from rules.lists.forms import EntriesAddForm, EntriesUploadForm, EntryRemoveForm, EntrySearchForm, ValueListForm
from rules.lists.imports import UnreadableFile
from rules.lists.services import ListRefused
from rules.models import ValueList

VIEW_PERM = "rules.view_valuelist"
CHANGE_PERM = "rules.publish"
PAGE_SIZE = 50
ERRORS_SHOWN = 20


def may_change(user) -> bool:
    return user.has_perm(CHANGE_PERM)


def _organisation_id(request) -> int:
    organisation = getattr(request, "organisation", None)
    if organisation is None:
        raise Http404("You work in no organisation.")
    return organisation.pk


def _reader(request) -> int:
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied
    return _organisation_id(request)


def _changer(request) -> int:
    if not may_change(request.user):
        raise PermissionDenied
    return _organisation_id(request)


def _list_for_request(request, name: str, *, change: bool = False) -> ValueList:
    """The request's organisation's list of that name (403 for someone who may not read, or change, lists); 404
    for any other organisation's."""
    organisation_id = _changer(request) if change else _reader(request)
    try:
        return selectors.value_list_get(organisation_id=organisation_id, name=name)
    except ValueList.DoesNotExist:
        raise Http404("No such list.") from None


@require_GET
def list_index(request):
    lists = selectors.value_lists(organisation_id=_reader(request))
    return render(request, "rules/lists/index.html", {"lists": lists, "may_change": may_change(request.user)})


@require_http_methods(["GET", "POST"])
def list_new(request):
    organisation_id = _changer(request)
    form = ValueListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            value_list = services.value_list_create(
                organisation_id=organisation_id, user=request.user, **form.cleaned_data
            )
        except ListRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.reason)
        else:
            messages.success(request, f"List {value_list.name} created. Add its entries below.")
            return redirect("rules:list_detail", name=value_list.name)
    return render(request, "rules/lists/new.html", {"form": form}, status=400 if form.errors else 200)


def _detail_context(request, value_list: ValueList, **forms) -> dict:
    search = EntrySearchForm(request.GET)
    term = search.cleaned_data["search"] if search.is_valid() else ""
    entries = selectors.list_entries(value_list=value_list, search=term)
    return {
        "value_list": value_list,
        "detail_url": reverse("rules:list_detail", kwargs={"name": value_list.name}),
        "search": search,
        "term": term,
        "page": Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page")),
        "now": timezone.now(),
        "may_change": may_change(request.user),
        "add_form": forms.get("add_form") or EntriesAddForm(),
        "upload_form": forms.get("upload_form") or EntriesUploadForm(),
    }


@require_GET
def list_detail(request, name: str):
    value_list = _list_for_request(request, name)
    context = _detail_context(request, value_list)
    partial = request.htmx and not request.htmx.boosted
    return render(request, "rules/lists/detail.html#entries-table" if partial else "rules/lists/detail.html", context)


def _refused_page(request, value_list: ValueList, **forms) -> HttpResponse:
    return render(request, "rules/lists/detail.html", _detail_context(request, value_list, **forms), status=400)


@require_POST
def list_entries_add(request, name: str):
    value_list = _list_for_request(request, name, change=True)
    form = EntriesAddForm(request.POST)
    if form.is_valid():
        try:
            outcome = services.list_entries_add(value_list=value_list, user=request.user, **form.cleaned_data)
        except ListRefused as exc:
            field = exc.field.split(".")[0]
            form.add_error(field if field in form.fields else None, exc.reason)
        else:
            messages.success(
                request, f"{outcome.added} added, {outcome.updated} updated, {outcome.unchanged} unchanged."
            )
            return redirect("rules:list_detail", name=value_list.name)
    return _refused_page(request, value_list, add_form=form)


@require_POST
def list_entry_remove(request, name: str):
    value_list = _list_for_request(request, name, change=True)
    form = EntryRemoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Which value? The form had none.", status=400)
    try:
        services.list_entries_remove(value_list=value_list, user=request.user, values=[form.cleaned_data["value"]])
    except ListRefused as exc:
        return HttpResponse(exc.reason, status=400)
    if request.htmx:
        value_list.refresh_from_db()
        context = {"value_list": value_list, "removed": form.cleaned_data["value"]}
        return render(request, "rules/lists/detail.html#entry-removed", context)
    messages.success(request, f"{form.cleaned_data['value']} removed.")
    return redirect(reverse("rules:list_detail", kwargs={"name": value_list.name}))


@require_POST
def list_upload(request, name: str):
    value_list = _list_for_request(request, name, change=True)
    form = EntriesUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refused_page(request, value_list, upload_form=form)
    upload = form.cleaned_data["file"]
    try:
        outcome = services.list_entries_import(
            value_list=value_list, stream=upload.file, user=request.user, filename=upload.name[:200]
        )
    except UnreadableFile as exc:
        form.add_error("file", str(exc))
        return _refused_page(request, value_list, upload_form=form)
    summary = f"{upload.name}: {outcome.added} added, {outcome.updated} updated, {outcome.unchanged} unchanged"
    if outcome.error_count:
        refused = f"{outcome.error_count} row{'s' if outcome.error_count != 1 else ''} refused"
        messages.warning(request, f"{summary}; {refused}:")
        for error in outcome.errors[:ERRORS_SHOWN]:
            messages.warning(request, str(error))
        if outcome.error_count > ERRORS_SHOWN:
            messages.warning(request, f"… and {outcome.error_count - ERRORS_SHOWN} more.")
    else:
        messages.success(request, f"{summary}.")
    return redirect("rules:list_detail", name=value_list.name)


@require_GET
def list_download(request, name: str):
    value_list = _list_for_request(request, name)
    entries = selectors.list_entries(value_list=value_list).values_list("value", "expires_at", "note")
    rows = ((value, expires.isoformat() if expires else "", note) for value, expires, note in entries.iterator(10_000))
    return csv_response(
        header=["value", "expires_at", "note"],
        rows=rows,
        filename=f"{value_list.name}.csv",
        content_type="text/csv; charset=utf-8",
    )


@require_POST
def list_delete(request, name: str):
    value_list = _list_for_request(request, name, change=True)
    try:
        services.value_list_delete(value_list=value_list, user=request.user)
    except ListRefused as exc:
        messages.error(request, exc.reason)
        return redirect("rules:list_detail", name=value_list.name)
    messages.success(request, f"List {name} deleted.")
    return redirect("rules:list_index")
