"""The partner API of rules (`/api/v1/rules`, scope `rules`): list them, create a draft, activate the latest version,
disable. A token acts on its organisation's rules; a person (session) on those of the organisation they work in, with
the permission each operation needs. Another organisation's rule answers 404.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import api_schema  # noqa: F401 - registers the token scheme with drf-spectacular
from accounts.authentication import HasScope
from accounts.models import PartnerToken
from core.api_errors import FieldErrors, error_item
from core.api_schema import error_responses
from core.parsers import JSONParser
from rules.models import Action
from rules.policy import selectors, services

RULE_EXAMPLE = {
    "name": "big_online_first_country",
    "expression": 'amount > 500 and channel == "online" and first_country_for_account',
    "action": "review",
    "description": "A first online purchase over 500 in a new country.",
}


def caller_organisation_id(request) -> int:
    """The organisation a token belongs to, or the one the person works in (404 for a person of none)."""
    if isinstance(request.auth, PartnerToken):
        return request.auth.organisation_id
    organisation = getattr(request, "organisation", None)
    if organisation is None:
        raise Http404("You work in no organisation.")
    return organisation.pk


def caller_user(request):
    """The person, or the partner token's principal (audited as `partner:<name>`)."""
    return request.user


def refused(exc: Exception) -> FieldErrors:
    """A 400 naming the field; an expression's error carries its position (0-based character offset) too."""
    if isinstance(exc, services.ExpressionError):
        item = error_item("expression", str(exc), "invalid_expression")
        return FieldErrors([{**item, "position": exc.position}])
    return FieldErrors([error_item(exc.field, exc.reason, exc.code)])


class RuleOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="rule.pk")
    name = serializers.CharField(source="rule.name")
    status = serializers.CharField(help_text="active while a version decides, else the latest version's status.")
    version = serializers.IntegerField(source="latest.version", help_text="The latest version.")
    active_version = serializers.IntegerField(source="active.version", allow_null=True, default=None)
    action = serializers.CharField(source="latest.action")
    tag = serializers.CharField(source="latest.tag")
    expression = serializers.CharField(source="latest.expression")
    description = serializers.CharField(source="latest.description")
    latest_status = serializers.CharField(source="latest.status")
    created_at = serializers.DateTimeField(source="rule.created_at")


class RulesApi(APIView):
    permission_classes = [IsAuthenticated, HasScope]
    parser_classes = [JSONParser]
    required_scope = "rules"


def _summary(rule_id: int, organisation_id: int) -> dict:
    rule = selectors.rules_of(organisation_id=organisation_id).get(pk=rule_id)
    return RuleOutputSerializer(selectors.rule_summary(rule)).data


class RuleListCreateApi(RulesApi):
    """GET: the organisation's rules by name. POST: a new rule, its first version a draft (nothing decides until it
    is activated)."""

    OutputSerializer = RuleOutputSerializer

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RuleInput"

        name = serializers.CharField(max_length=63, help_text="Lower-case letters, digits and underscores.")
        expression = serializers.CharField(help_text="The condition, in the rule language (docs/user-guide.md).")
        action = serializers.ChoiceField(choices=Action.values)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        tag = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=63, help_text="The label a tag rule adds."
        )

    def get_permissions(self):
        self.required_user_permission = selectors.VIEW_PERM if self.request.method == "GET" else selectors.EDIT_PERM
        return super().get_permissions()

    @extend_schema(
        operation_id="rules_list",
        summary="List the rules",
        responses={200: OutputSerializer(many=True), **error_responses(404)},
    )
    def get(self, request):
        rules = selectors.rules_of(organisation_id=caller_organisation_id(request))
        return Response(self.OutputSerializer([selectors.rule_summary(r) for r in rules], many=True).data)

    @extend_schema(
        operation_id="rules_create",
        summary="Create a rule (its version 1, a draft)",
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 404)},
        examples=[OpenApiExample("A review rule", value=RULE_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        organisation_id = caller_organisation_id(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = services.rule_create(
                organisation_id=organisation_id, user=caller_user(request), **data.validated_data
            )
        except (services.RuleRefused, services.ExpressionError) as exc:
            raise refused(exc) from exc
        return Response(_summary(version.rule_id, organisation_id), status=status.HTTP_201_CREATED)


class RuleActivateApi(RulesApi):
    """Put the rule's latest version in force (the version it replaces retires). Teams that keep their policy in
    code test it there: the API publishes an untested draft."""

    required_user_permission = selectors.PUBLISH_PERM
    OutputSerializer = RuleOutputSerializer

    @extend_schema(
        operation_id="rules_activate",
        summary="Put a rule's latest version in force",
        request=None,
        responses={200: OutputSerializer, **error_responses(400, 404)},
    )
    def post(self, request, rule_id: int):
        organisation_id = caller_organisation_id(request)
        rule = selectors.rule_get(organisation_id=organisation_id, rule_id=rule_id)
        try:
            services.rule_publish(rule=rule, user=caller_user(request), untested=True)
        except (services.RuleRefused, services.ExpressionError) as exc:
            raise refused(exc) from exc
        return Response(_summary(rule.pk, organisation_id))


class RuleDisableApi(RulesApi):
    """Stop the rule deciding: its version in force becomes disabled."""

    required_user_permission = selectors.PUBLISH_PERM
    OutputSerializer = RuleOutputSerializer

    @extend_schema(
        operation_id="rules_disable",
        summary="Stop a rule deciding",
        request=None,
        responses={200: OutputSerializer, **error_responses(400, 404)},
    )
    def post(self, request, rule_id: int):
        organisation_id = caller_organisation_id(request)
        rule = selectors.rule_get(organisation_id=organisation_id, rule_id=rule_id)
        try:
            services.rule_disable(rule=rule, user=caller_user(request))
        except services.RuleRefused as exc:
            raise refused(exc) from exc
        return Response(_summary(rule.pk, organisation_id))
