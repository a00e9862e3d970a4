"""The two steps every upload page shares, parametrised by what differs: upload a file (staged for this person),
then map its columns on a page that previews it; the page's own form and `create` decide what the file becomes.

The apps' views (detection.jobs.views, detection.backtests.views) call these with their templates and forms.
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from detection.staging.forms import MappingForm, UploadForm
from detection.staging.selectors import may_upload, staged_upload_get, staged_upload_preview
from detection.staging.services import (
    StagedUpload,
    UnreadableFile,
    UploadTooLarge,
    staged_upload_create,
    staged_upload_discard,
    upload_size_check,
)

# A multipart body holds the file and a few small fields: past the limit by more than this, the file is too.
MULTIPART_OVERHEAD = 64 * 1024


def require_uploader(request) -> None:
    """People who may upload, working in an organisation (a person of none has nowhere to score into)."""
    if not may_upload(request.user) or getattr(request, "organisation", None) is None:
        raise PermissionDenied


def upload_page(request, *, template: str, next_view: str, context: Callable[[], dict]) -> HttpResponse:
    """The upload form; on a valid POST the file is staged and the browser sent to `next_view` with its key.

    `context` gives the page's other content (its list of recent work), read only for those who may upload.
    """
    require_uploader(request)
    try:
        body_size_check(request)
    except UploadTooLarge as exc:
        return render(request, template, {"form": UploadForm.too_large(str(exc)), **context()}, status=413)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            staged = staged_upload_create(session=request.session, upload=form.cleaned_data["file"])
        except (UnreadableFile, UploadTooLarge) as exc:
            form.add_error("file", str(exc))
        else:
            return redirect(next_view, key=staged.key)
    return render(request, template, {"form": form, **context()})


def body_size_check(request) -> None:
    """UploadTooLarge for a request whose Content-Length says its file is past FILE_UPLOAD_MAX_BYTES, before its
    body is read (the file's own size is checked once it is)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit():
        upload_size_check(int(declared) - MULTIPART_OVERHEAD)


Create = Callable[..., str | None]


def mapping_page(request, key: str, *, template: str, form_class: type[MappingForm], create: Create) -> HttpResponse:
    """A staged file's preview and its mapping form; on a valid POST, `create(staged=, form=, user=, organisation=)`
    makes what the file becomes (in the organisation the request works in) and returns where to go next, or None
    after adding an error to the form. The staged file is discarded once it is used."""
    require_uploader(request)
    staged: StagedUpload | None = staged_upload_get(session=request.session, key=key)
    if staged is None:
        raise Http404("This upload is no longer staged; upload the file again.")
    form = form_class.for_columns(staged.columns, request.POST if request.method == "POST" else None, staged=staged)
    if request.method == "POST" and form.is_valid():
        target = create(staged=staged, form=form, user=request.user, organisation=request.organisation)
        if target is not None:
            staged_upload_discard(session=request.session, key=key)
            return redirect(target)
    context = {"staged": staged, "form": form, "preview": staged_upload_preview(staged)}
    return render(request, template, context)
