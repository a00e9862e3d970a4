"""Partner API of bulk scoring jobs: upload a CSV or Parquet file, follow its progress, download its scores."""

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_schema  # noqa: F401 - registers the token scheme with drf-spectacular
from accounts.authentication import HasScope
from accounts.models import PartnerToken
from core.api_errors import ERRORS, FieldErrors, PayloadTooLarge, error_item
from core.csv_stream import csv_response
from detection.jobs import selectors
from detection.jobs import services as jobs
from detection.jobs.progress import job_summary
from detection.models import ScoringJob
from detection.staging.selectors import UPLOAD_PERM
from detection.staging.services import UploadTooLarge
from detection.staging.views import body_size_check
from transactions.models import Source


class JobNotFinished(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The job has not finished; its result is ready when its status is 'done'."
    default_code = "not_finished"


def job_source(request) -> Source:
    """A partner's job scores into its own source; a person's (with the upload permission) into their
    organisation's 'uploads'."""
    if isinstance(request.auth, PartnerToken):
        return request.auth.source
    organisation = getattr(request, "organisation", None)
    if organisation is None:
        raise PermissionDenied("You belong to no organisation to score into.")
    return jobs.upload_source(organisation=organisation)


def job_get(request, job_id: int) -> ScoringJob:
    """The job if the caller may follow it, by the upload pages' rule (a partner token: its own source's jobs; a
    person: within the organisation they work in, their own, or every job with the permission to see them all);
    404 otherwise."""
    if isinstance(request.auth, PartnerToken):
        return selectors.scoring_job_get(job_id=job_id, token=request.auth)
    organisation = getattr(request, "organisation", None)
    organisation_id = organisation.pk if organisation is not None else None
    return selectors.scoring_job_get(job_id=job_id, user=request.user, organisation_id=organisation_id)


def too_large(exc: UploadTooLarge) -> PayloadTooLarge:
    return PayloadTooLarge({"file": [str(exc)]})


@extend_schema_field(OpenApiTypes.STR)
class JsonField(serializers.Field):
    """A form field holding JSON text (multipart forms carry only strings and files)."""

    def __init__(self, *, kind: type, **kwargs):
        self.kind = kind
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, self.kind):
            return data
        try:
            value = json.loads(data)
        except (TypeError, ValueError):
            self.fail("invalid")
        if not isinstance(value, self.kind):
            self.fail("invalid")
        return value

    default_error_messages = {
        "invalid": "Must be JSON text of the right kind (an object for mapping, a list for attributes)."
    }

    def to_representation(self, value):
        return value


class JobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="pending, running, done or failed.")
    phase = serializers.CharField(
        help_text="ingesting (the file's rows are being stored) or scoring (every row is stored; scoring)."
    )
    progress = serializers.FloatField(help_text="Share of the file's rows scored, 0 to 1.")
    total_rows = serializers.IntegerField(help_text="Rows in the file; known once the whole file is read.")
    stored_rows = serializers.IntegerField(help_text="Rows of the chunks stored so far (the ingesting phase).")
    processed_rows = serializers.IntegerField(help_text="Rows of the chunks scored so far.")
    created_rows = serializers.IntegerField(help_text="Rows stored as new transactions.")
    existing_rows = serializers.IntegerField(help_text="Rows whose transaction id the source had already sent.")
    error_rows = serializers.IntegerField()
    flagged_rows = serializers.IntegerField()
    chunk_count = serializers.IntegerField()
    error = serializers.CharField()
    original_name = serializers.CharField()
    mapping = serializers.DictField()
    attributes = serializers.ListField(child=serializers.CharField())
    label_column = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField(), help_text="The first 100 rejected rows' errors.")
    result_url = serializers.CharField(allow_null=True)


def job_payload(request, job: ScoringJob) -> dict:
    payload = job_summary(job) | {
        "original_name": job.original_name,
        "mapping": job.mapping,
        "attributes": job.attributes,
        "label_column": job.label_column,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "errors": selectors.scoring_job_errors(job),
    }
    done = job.status == ScoringJob.Status.DONE
    payload["result_url"] = request.build_absolute_uri(f"/api/v1/jobs/{job.pk}/result.csv") if done else None
    return payload


class ScoringJobCreateApi(APIView):
    """Upload a CSV or Parquet file to score in the background; answers 202 with the job to follow."""

    permission_classes = [IsAuthenticated, HasScope]
    parser_classes = [MultiPartParser, FormParser]
    required_scope = "score"
    required_user_permission = "transactions.upload_transactions"
    throttle_scope = "jobs"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "JobCreateInput"

        file = serializers.FileField(help_text="A .csv (with a header) or .parquet file.")
        mapping = JsonField(
            kind=dict, required=False, help_text='JSON: canonical field → column, e.g. {"account_id": "user_id"}.'
        )
        attributes = JsonField(kind=list, required=False, help_text='JSON list of columns to keep, or ["*"].')
        label_column = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(
        request={"multipart/form-data": InputSerializer}, responses={202: JobOutputSerializer, 400: ERRORS, 413: ERRORS}
    )
    def post(self, request):
        try:
            body_size_check(request)  # before the body is read
        except UploadTooLarge as exc:
            raise too_large(exc)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = jobs.scoring_job_create(
                source=job_source(request),
                upload=data.validated_data["file"],
                mapping=data.validated_data.get("mapping"),
                attributes=data.validated_data.get("attributes", []),
                label_column=data.validated_data.get("label_column") or None,
                token=request.auth if isinstance(request.auth, PartnerToken) else None,
                user=request.user if request.user.pk is not None else None,
            )
        except jobs.JobInputError as invalid:
            raise FieldErrors([error_item(invalid.field, invalid.reason)])
        except UploadTooLarge as exc:
            raise too_large(exc)
        body = JobOutputSerializer(job_payload(request, job)).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/v1/jobs/{job.pk}"})


class ScoringJobDetailApi(APIView):
    """A job's status, progress, counts and the first rejected rows' errors."""

    permission_classes = [IsAuthenticated, HasScope]
    required_scope = "read"
    required_user_permission = UPLOAD_PERM  # as the upload pages: a viewer may read transactions, not jobs

    @extend_schema(responses={200: JobOutputSerializer, 404: ERRORS})
    def get(self, request, job_id: int):
        job = job_get(request, job_id)
        return Response(JobOutputSerializer(job_payload(request, job)).data)


class ScoringJobResultApi(APIView):
    """The scored rows of a finished job as CSV, streamed: row, transaction_id, score, risk_level, …"""

    permission_classes = [IsAuthenticated, HasScope]
    required_scope = "read"
    required_user_permission = UPLOAD_PERM

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(description="CSV"), 404: ERRORS, 409: ERRORS})
    def get(self, request, job_id: int):
        job = job_get(request, job_id)
        if job.status != ScoringJob.Status.DONE:
            raise JobNotFinished()
        rows = selectors.scoring_job_result_rows(job)
        return csv_response(header=selectors.RESULT_COLUMNS, rows=rows, filename=f"job-{job.pk}-scores.csv")
