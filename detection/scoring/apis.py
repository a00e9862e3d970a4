"""Partner API over transactions: score one or a batch, report outcomes (labels), read what was stored.

Views are thin: access check, input, one service or selector, output. A partner token acts on its own source
only; people (session login) with the `transactions.view_transaction` permission read the transactions of the
organisation they work in.
"""

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_schema  # noqa: F401 - registers the token scheme with drf-spectacular
from accounts.authentication import HasScope
from accounts.models import PartnerToken
from core.api_errors import FieldErrors, error_item, flatten_errors
from core.api_schema import error_responses
from core.parsers import JSONParser
from detection.models import Decision
from detection.scoring import api_selectors as selectors
from detection.scoring import api_services as services
from detection.scoring.deciding import RULE_ACTIONS
from detection.scoring.services import ModelUnloadable, NoActiveModel
from transactions.validation import CHANNELS, text_problem
from transactions.validation import LABELS as TRANSACTION_LABELS

LABELS = {"fraud": 1, "legitimate": 0}
# Request examples the docs show, and schemathesis sends first (so the 201 and 200 answers are checked too).
TRANSACTION_EXAMPLE = {
    "transaction_id": "T1",
    "timestamp": "2026-03-21T10:00:00Z",
    "account_id": "A7",
    "amount": "12.30",
    "merchant_id": "M-12",
    "channel": "online",
}
LABEL_NAMES = {1: "fraud", 0: "legitimate"}


class ModelUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "No model version is active: nothing can be scored until one is trained and activated."
    default_code = "no_active_model"

    @classmethod
    def of(cls, missing: NoActiveModel) -> "ModelUnavailable":
        """No version active, or the active one's artifact unreadable by this release (which the answer names)."""
        if isinstance(missing, ModelUnloadable):
            return cls(detail=str(missing), code="model_unloadable")
        return cls()


def partner_source(request):
    """The source a partner's writes go to; people write through the web pages, not this API."""
    if isinstance(request.auth, PartnerToken):
        return request.auth.source
    raise PermissionDenied("Writing through the API needs a partner token (Authorization: Bearer <token>).")


def reader_scope(request) -> dict:
    """What a caller may read, as the selectors' keywords: a partner token its own source, a person the
    organisation they work in (none for a person of no organisation)."""
    if isinstance(request.auth, PartnerToken):
        return {"source": request.auth.source}
    return {"organisation": getattr(request, "organisation", None)}


def require_list(data, *, key: str, limit: int) -> list:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValidationError({key: [f"A non-empty list is required (at most {limit} items)."]})
    if len(items) > limit:
        raise ValidationError({key: [f"At most {limit} items per request; this one has {len(items)}."]})
    return items


class MatchedRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The rule's id (`/api/v1/rules/{id}`).")
    name = serializers.CharField()
    version = serializers.IntegerField(help_text="The version of the rule that was in force.")
    action = serializers.ChoiceField(choices=list(RULE_ACTIONS))


class ScoreOutputSerializer(serializers.Serializer):
    transaction_id = serializers.CharField()
    score = serializers.FloatField()
    risk_level = serializers.CharField()
    is_anomaly = serializers.BooleanField(help_text="Flagged for review: the decision is review or block.")
    reasons = serializers.ListField(child=serializers.CharField())
    decision = serializers.ChoiceField(
        choices=Decision.values,
        help_text="The strongest action of the rules that matched (allow > block > review); the model's thresholds "
        "when no rule decides.",
    )
    rules = MatchedRuleSerializer(many=True, help_text="Every rule that matched, tag rules included.")
    tags = serializers.ListField(child=serializers.CharField(), help_text="The labels the matched tag rules add.")
    model_version = serializers.IntegerField()


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    code = serializers.CharField()


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    transaction_id = serializers.CharField(allow_null=True)
    errors = FieldErrorSerializer(many=True)


@extend_schema_field(OpenApiTypes.STR)
class SpellingField(serializers.ChoiceField):
    """One of the spellings an ingest rule understands, in any case. Documented as text whose help lists them: JSON
    numbers and booleans are understood too, and an enum named `label` would clash with the label API's."""

    def __init__(self, *, spellings, **kwargs):
        super().__init__(choices=list(spellings), help_text=f"One of {', '.join(spellings)} (any case).", **kwargs)


# Documentation only: transactions.validation validates (the same rules for files), and
# tests/detection/scoring/test_input_schema.py holds the two equal field by field.
class TransactionInputSerializer(serializers.Serializer):
    """The canonical schema (documentation; the ingest rules validate). Any other field is kept in `attributes`,
    so the prototype's body (`user_id`, `is_online`, `transaction_count_1h`, …) is accepted unchanged."""

    transaction_id = serializers.CharField(max_length=128)
    timestamp = serializers.CharField(help_text="ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (UTC when no offset).")
    account_id = serializers.CharField(max_length=128, help_text="Alias: user_id.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    currency = serializers.CharField(required=False, max_length=3)
    merchant_id = serializers.CharField(required=False, max_length=128, help_text="Aliases: merchant, terminal_id.")
    merchant_category = serializers.CharField(required=False, max_length=64)
    channel = SpellingField(spellings=CHANNELS, required=False)
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    location_distance_km = serializers.FloatField(required=False, min_value=0)
    country = serializers.CharField(required=False, max_length=2)
    device_id = serializers.CharField(required=False, max_length=128)
    billing_latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    billing_longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    billing_postal_code = serializers.CharField(required=False, max_length=16)
    billing_country = serializers.CharField(required=False, max_length=2, help_text="ISO 3166 alpha-2, e.g. FR.")
    shipping_latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    shipping_longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    shipping_postal_code = serializers.CharField(required=False, max_length=16)
    shipping_country = serializers.CharField(required=False, max_length=2, help_text="ISO 3166 alpha-2.")
    ip_country = serializers.CharField(
        required=False, max_length=2, help_text="The country of the customer's IP address (ISO 3166 alpha-2)."
    )
    label = SpellingField(spellings=TRANSACTION_LABELS, required=False)
    attributes = serializers.DictField(required=False)


class PartnerApi(APIView):
    permission_classes = [IsAuthenticated, HasScope]
    parser_classes = [JSONParser]


def path_transaction_id(value: str) -> str:
    """A transaction id from the URL: text no transaction can hold (a NUL, a lone surrogate) is a 400 naming it,
    rather than a query PostgreSQL refuses."""
    problem = text_problem(value)
    if problem is not None:
        raise FieldErrors([error_item("transaction_id", problem)])
    return value


class TransactionScoreApi(PartnerApi):
    """Store one transaction and score it; sending it again returns the stored result (200, not 201)."""

    required_scope = "score"
    InputSerializer = TransactionInputSerializer
    OutputSerializer = ScoreOutputSerializer

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **error_responses(400, 413)},
        summary="Score one transaction",
        examples=[OpenApiExample("A card payment", value=TRANSACTION_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        source = partner_source(request)
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["A JSON object is required."]})
        try:
            outcome = services.transaction_score(source=source, data=request.data)
        except services.InvalidTransaction as invalid:
            raise FieldErrors(invalid.errors)
        except NoActiveModel as missing:
            raise ModelUnavailable.of(missing)
        body = services.score_payload(outcome.transaction, outcome.score)
        return Response(body, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)


class TransactionScoreBatchApi(PartnerApi):
    """Score up to API_BATCH_MAX_ITEMS transactions at once; bad items are reported and do not sink the others."""

    required_scope = "score"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ScoreBatchInput"

        transactions = TransactionInputSerializer(many=True)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ScoreBatchOutput"

        class ResultSerializer(ScoreOutputSerializer):
            index = serializers.IntegerField()
            created = serializers.BooleanField()

        results = ResultSerializer(many=True)
        errors = ItemErrorSerializer(many=True)
        counts = inline_serializer("BatchCounts", {k: serializers.IntegerField() for k in services.BATCH_COUNTS})

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 413)},
        summary="Score a batch",
        examples=[
            OpenApiExample(
                "A good item and a bad one",
                value={
                    "transactions": [TRANSACTION_EXAMPLE, {**TRANSACTION_EXAMPLE, "transaction_id": "T2", "amount": -4}]
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        source = partner_source(request)
        rows = require_list(request.data, key="transactions", limit=settings.API_BATCH_MAX_ITEMS)
        try:
            return Response(services.transactions_score_batch(source=source, rows=rows))
        except NoActiveModel as missing:
            raise ModelUnavailable.of(missing)


class LabelInputSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=list(LABELS))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    reported_at = serializers.DateTimeField(required=False, default=None, help_text="When the outcome was known.")


class TransactionOutputSerializer(serializers.Serializer):
    transaction_id = serializers.CharField()
    timestamp = serializers.DateTimeField()
    account_id = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    merchant_id = serializers.CharField()
    merchant_category = serializers.CharField()
    channel = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    location_distance_km = serializers.FloatField(allow_null=True)
    country = serializers.CharField()
    device_id = serializers.CharField()
    billing_latitude = serializers.FloatField(allow_null=True)
    billing_longitude = serializers.FloatField(allow_null=True)
    billing_postal_code = serializers.CharField()
    billing_country = serializers.CharField()
    shipping_latitude = serializers.FloatField(allow_null=True)
    shipping_longitude = serializers.FloatField(allow_null=True)
    shipping_postal_code = serializers.CharField()
    shipping_country = serializers.CharField()
    ip_country = serializers.CharField()
    attributes = serializers.DictField()
    label = serializers.SerializerMethodField()
    label_source = serializers.CharField()
    labelled_at = serializers.DateTimeField(allow_null=True)
    ingested_at = serializers.DateTimeField()
    score = serializers.SerializerMethodField()

    def get_label(self, obj) -> str | None:
        return LABEL_NAMES.get(obj.label)

    @extend_schema_field(ScoreOutputSerializer(allow_null=True))
    def get_score(self, obj) -> dict | None:
        score = getattr(obj, "latest_score", None)
        return None if score is None else services.score_payload(obj, score)


class TransactionLabelApi(PartnerApi):
    """Report a transaction's outcome (a chargeback: fraud; a customer's confirmation: legitimate)."""

    required_scope = "label"
    InputSerializer = LabelInputSerializer

    @extend_schema(
        request=InputSerializer,
        responses={200: TransactionOutputSerializer, **error_responses(400, 404, 413)},
    )
    def post(self, request, transaction_id: str):
        source = partner_source(request)
        transaction_id = path_transaction_id(transaction_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.LabelReport(transaction_id=transaction_id, **_label_fields(data.validated_data))
        outcome = services.labels_report(source=source, reports=[report])
        if outcome["errors"]:
            raise Http404
        transaction = selectors.transaction_get(source=source, transaction_id=transaction_id)
        return Response(TransactionOutputSerializer(transaction).data)


def _label_fields(validated: dict) -> dict:
    return {"label": LABELS[validated["label"]], "note": validated["note"], "reported_at": validated["reported_at"]}


class LabelBulkApi(PartnerApi):
    """Report many outcomes at once; an unknown transaction id is reported by index and stops nothing else."""

    required_scope = "label"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LabelBulkInput"

        class ItemSerializer(LabelInputSerializer):
            transaction_id = serializers.CharField(max_length=128)

        labels = ItemSerializer(many=True)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LabelBulkOutput"

        results = inline_serializer(
            "LabelResult",
            {
                "index": serializers.IntegerField(),
                "transaction_id": serializers.CharField(),
                "label": serializers.CharField(),
            },
            many=True,
        )
        errors = ItemErrorSerializer(many=True)
        counts = inline_serializer(
            "LabelCounts", {"received": serializers.IntegerField(), "labelled": serializers.IntegerField()}
        )

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 413)})
    def post(self, request):
        source = partner_source(request)
        items = require_list(request.data, key="labels", limit=settings.API_BATCH_MAX_ITEMS)
        reports, errors = [], []
        for index, item in enumerate(items):
            data = self.InputSerializer.ItemSerializer(data=item if isinstance(item, dict) else {})
            if data.is_valid():
                reports.append((index, data.validated_data))
            else:
                errors.append(_item_error(index, item, data.errors))
        outcome = services.labels_report(
            source=source,
            reports=[services.LabelReport(transaction_id=v["transaction_id"], **_label_fields(v)) for _, v in reports],
        )
        return Response(_renumber(outcome, [i for i, _ in reports], errors))


def _item_error(index: int, item, detail) -> dict:
    return {"index": index, "transaction_id": services.given_id(item), "errors": flatten_errors(detail)}


def _renumber(outcome: dict, positions: list[int], errors: list[dict]) -> dict:
    """The service numbered the valid items 0..n; give back each item's index in the request."""
    for entry in outcome["results"] + outcome["errors"]:
        entry["index"] = positions[entry["index"]]
    for entry in outcome["results"]:
        entry["label"] = LABEL_NAMES[entry["label"]]
    outcome["errors"] = sorted(outcome["errors"] + errors, key=lambda e: e["index"])
    outcome["counts"]["received"] = len(positions) + len(errors)
    return outcome


class TransactionDetailApi(PartnerApi):
    """One transaction the caller may see, with its latest score and label."""

    required_scope = "read"
    required_user_permission = "transactions.view_transaction"
    OutputSerializer = TransactionOutputSerializer

    @extend_schema(responses={200: OutputSerializer, **error_responses(400, 404)})
    def get(self, request, transaction_id: str):
        transaction_id = path_transaction_id(transaction_id)
        transaction = selectors.transaction_get(transaction_id=transaction_id, **reader_scope(request))
        return Response(self.OutputSerializer(transaction).data)


class TransactionPagination(CursorPagination):
    ordering = ("-timestamp", "-id")
    page_size_query_param = "limit"
    max_page_size = 500


class TransactionListApi(PartnerApi):
    """The caller's transactions, newest first, filtered; cursor-paginated (`next`/`previous` links)."""

    required_scope = "read"
    required_user_permission = "transactions.view_transaction"
    OutputSerializer = TransactionOutputSerializer

    class FilterSerializer(serializers.Serializer):
        since = serializers.DateTimeField(required=False, help_text="Transactions at or after this time.")
        until = serializers.DateTimeField(required=False, help_text="Transactions before this time.")
        account_id = serializers.CharField(required=False)
        risk_level = serializers.ChoiceField(choices=["low", "medium", "high", "critical"], required=False)
        label = serializers.ChoiceField(choices=["fraud", "legitimate", "unlabelled"], required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=500)
        cursor = serializers.CharField(required=False)

    class PageSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TransactionPage"

        next = serializers.URLField(allow_null=True, help_text="The next page's URL; null on the last page.")
        previous = serializers.URLField(allow_null=True, help_text="The previous page's URL; null on the first.")
        results = TransactionOutputSerializer(many=True)

    # The list is a page object (a cursor's next and previous links, then the results), and an unknown cursor is 404.
    @extend_schema(
        operation_id="transactions_list",
        parameters=[FilterSerializer],
        responses={200: PageSerializer, **error_responses(400, 404)},
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = selectors.transaction_list(filters=filters.validated_data, **reader_scope(request))
        paginator = TransactionPagination()
        page = selectors.with_latest_scores(paginator.paginate_queryset(queryset, request, view=self))
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
