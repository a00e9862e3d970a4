"""The alerts app's admin pages: rules, alerts, deliveries and the audit trail, each scoped to the organisations the
person is a member of (superusers: every one, and the platform's own audit events besides)."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from alerts.models import (
    SECRET_CHANNELS,
    Alert,
    AlertDelivery,
    AlertRule,
    AuditEvent,
    PendingEvaluation,
    generate_signing_secret,
)
from alerts.services import alert_delivery_resend, alert_rule_delete, alert_rule_save
from alerts.views import audit_csv_response
from core.admin import (
    OrganisationListFilter,
    OrganisationRelatedFieldListFilter,
    OrganisationScopedAdmin,
    ReadOnlyAdmin,
)
from core.audit import audit_record
from detection.models import Decision
from rules.models import Rule
from transactions.models import Channel as TransactionChannel

STATUS_COLOURS = {"pending": "#b7791f", "sending": "#2f5bd3", "sent": "#2e7d32", "failed": "#c0392b"}


class AlertRuleForm(forms.ModelForm):
    transaction_channels = forms.MultipleChoiceField(
        choices=TransactionChannel.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    decisions = forms.MultipleChoiceField(
        choices=Decision.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Fire only on scores decided one of these. None: any decision.",
    )

    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 60}),
        help_text="Stored encrypted and never shown back; leave blank to keep the current one. PagerDuty: the "
        "integration's routing key. Opsgenie: the API integration's key. Teams: the workflow's URL. SMS: the Twilio "
        "auth token.",
    )

    kind = forms.ChoiceField(
        choices=AlertRule.Kind.choices,
        required=False,
        help_text="Scored transactions (the conditions below), or drift above the drift threshold.",
    )

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or AlertRule.Kind.TRANSACTION

    def clean(self):
        cleaned = super().clean()
        self._clean_secret(cleaned)
        organisation = cleaned.get("organisation") or getattr(self.instance, "organisation", None)
        if organisation is None:
            return cleaned
        strangers = [r.name for r in cleaned.get("matched_rules") or () if r.organisation_id != organisation.pk]
        if strangers:
            self.add_error("matched_rules", f"Not rules of {organisation}: {', '.join(strangers)}.")
        return cleaned

    def _clean_secret(self, cleaned) -> None:
        """Check a new secret against the chosen channel and keep it encrypted on the rule; a rule moved to another
        channel without a new secret loses the old channel's (the rule's validation then asks for one)."""
        channel, secret = cleaned.get("channel"), cleaned.get("secret")
        if channel and secret:
            self.instance.channel = channel
            try:
                self.instance.secret_set(secret)
            except ValidationError as exc:
                self.add_error("secret", exc.message_dict["secret"])
        elif self.instance.pk is not None and "channel" in self.changed_data:
            self.instance.secret_encrypted = ""

    class Meta:
        model = AlertRule
        fields = [
            "organisation",
            "name",
            "description",
            "enabled",
            "kind",
            "drift_threshold",
            "min_risk_level",
            "min_score",
            "amount_min",
            "amount_max",
            "merchant_categories",
            "transaction_channels",
            "account_ids",
            "merchant_ids",
            "decisions",
            "matched_rules",
            "rate_count",
            "rate_window_minutes",
            "rate_scope",
            "channel",
            "destination",
            "secret_env",
            "twilio_account_sid",
            "sms_from",
            "timeout_seconds",
            "quiet_period_minutes",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class ScopedReadOnlyAdmin(OrganisationScopedAdmin, ReadOnlyAdmin):
    """An organisation's history: viewable by its members (and superusers), never added, edited or deleted."""


@admin.register(AlertRule)
class AlertRuleAdmin(OrganisationScopedAdmin):
    form = AlertRuleForm
    list_display = [
        "name",
        "organisation",
        "enabled",
        "channel",
        "destination_shown",
        "conditions",
        "quiet_period_minutes",
        "alert_count",
    ]
    list_editable = ["enabled"]
    list_filter = [OrganisationListFilter, "enabled", "kind", "channel", "min_risk_level"]
    list_select_related = ["organisation"]
    search_fields = ["name", "description", "destination"]
    readonly_fields = ["secret_display", "signing_secret_display", "created_at", "updated_at", "created_by"]
    actions = ["rotate_signing_secret", "enable_rules", "disable_rules"]
    fieldsets = [
        (None, {"fields": ["organisation", "name", "description", "enabled", "kind"]}),
        (
            "Drift",
            {
                "fields": ["drift_threshold"],
                "description": "Drift rules only: fire when a day's population stability index of a feature (or of "
                "the score) against the active version's training sample is above this, once per day and feature. "
                "The conditions below are for scored transactions.",
            },
        ),
        (
            "Conditions (every condition set must hold)",
            {
                "fields": [
                    ("min_risk_level", "min_score"),
                    ("amount_min", "amount_max"),
                    "merchant_categories",
                    "transaction_channels",
                    "account_ids",
                    "merchant_ids",
                ]
            },
        ),
        (
            "Decision conditions",
            {
                "fields": ["decisions", "matched_rules"],
                "description": "Fire on what the decision was (allow, review, block) or on a given rule having "
                "matched (any of those chosen).",
            },
        ),
        (
            "Rate condition",
            {
                "fields": [("rate_count", "rate_window_minutes", "rate_scope")],
                "description": "Fire only when more than N matching transactions share a merchant "
                "(or account) within M minutes.",
            },
        ),
        (
            "Delivery",
            {
                "fields": [
                    "channel",
                    "destination",
                    "secret",
                    "secret_display",
                    "secret_env",
                    ("twilio_account_sid", "sms_from"),
                    "timeout_seconds",
                    "quiet_period_minutes",
                    "signing_secret_display",
                ],
                "description": "PagerDuty, Opsgenie and Teams need a secret and no destination; SMS needs the "
                "phone numbers as destination, the Twilio account SID, the sender and the auth token as secret.",
            },
        ),
        ("History", {"fields": ["created_at", "updated_at", "created_by"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        rules = super().get_queryset(request).annotate(_alert_count=Count("alerts"))
        return rules.prefetch_related("matched_rules")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        """Only the rules of the organisations the person administers (the form checks the rule's own)."""
        if db_field.name == "matched_rules":
            organisations = self.organisations_for(request)
            kwargs["queryset"] = Rule.objects.filter(organisation__in=organisations).select_related("organisation")
            kwargs["widget"] = forms.SelectMultiple(attrs={"size": 8})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        """A rule stays in the organisation it was made in (its alerts are that organisation's)."""
        return [*self.readonly_fields, "organisation"] if obj is not None else self.readonly_fields

    @admin.display(description="alerts", ordering="_alert_count")
    def alert_count(self, rule):
        url = reverse("admin:alerts_alert_changelist") + f"?rule__id__exact={rule.pk}"
        return format_html('<a href="{}">{}</a>', url, rule._alert_count)

    @admin.display(description="conditions")
    def conditions(self, rule):
        if rule.kind == AlertRule.Kind.DRIFT:
            return f"drift: a feature's PSI on a day > {rule.drift_threshold}"
        parts = []
        if rule.min_risk_level:
            parts.append(f"risk ≥ {rule.min_risk_level}")
        if rule.min_score is not None:
            parts.append(f"score ≥ {rule.min_score}")
        if rule.amount_min is not None or rule.amount_max is not None:
            parts.append(f"amount {rule.amount_min or 0}–{rule.amount_max or '∞'}")
        for label, values in (
            ("category", rule.merchant_categories),
            ("channel", rule.transaction_channels),
            ("account", rule.account_ids),
            ("merchant", rule.merchant_ids),
        ):
            if values:
                parts.append(f"{label} in {', '.join(values[:3])}{'…' if len(values) > 3 else ''}")
        if rule.decisions:
            parts.append(f"decided {' or '.join(rule.decisions)}")
        watched = [r.name for r in rule.matched_rules.all()]
        if watched:
            parts.append(f"rule {' or '.join(watched)} matched")
        if rule.rate_count is not None:
            parts.append(f"> {rule.rate_count} per {rule.rate_scope} in {rule.rate_window_minutes} min")
        return "; ".join(parts) or "every scored transaction"

    @admin.display(description="destination")
    def destination_shown(self, rule):
        return rule.delivery_destination if rule.channel != AlertRule.Channel.IN_APP else "—"

    @admin.display(description="secret in force")
    def secret_display(self, rule):
        if rule.channel not in SECRET_CHANNELS:
            return "—"
        return rule.secret_masked or "not set"

    @admin.display(description="signing secret")
    def signing_secret_display(self, rule):
        if rule.pk is None:
            return "Generated when the rule is saved."
        if rule.channel not in (AlertRule.Channel.WEBHOOK, AlertRule.Channel.SLACK):
            return "—"
        return format_html(
            "<code>{}</code><br><span class='help'>Verify X-Sentinel-Signature with this secret "
            "(see the alerts documentation). Rotate with the list action.</span>",
            rule.signing_secret,
        )

    def save_model(self, request, obj, form, change):
        alert_rule_save(
            rule=obj,
            user=request.user,
            matched_rules=list(form.cleaned_data.get("matched_rules") or ()),
            secret=form.cleaned_data.get("secret") or None,
        )

    def delete_model(self, request, obj):
        alert_rule_delete(rule=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            alert_rule_delete(rule=rule, user=request.user)

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_signing_secret(self, request, queryset):
        for rule in queryset:
            rule.signing_secret = generate_signing_secret()
            rule.save(update_fields=["signing_secret", "updated_at"])
            audit_record(action="rule.rotate_secret", obj=rule, actor=request.user, request=request)
        self.message_user(request, f"New signing secrets for {len(queryset)} rule(s); update the receivers.")

    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable_rules(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable_rules(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool):
        changed = [rule for rule in queryset if rule.enabled != enabled]
        for rule in changed:
            rule.enabled = enabled
            alert_rule_save(rule=rule, user=request.user)
        self.message_user(request, f"{len(changed)} rule(s) {'enabled' if enabled else 'disabled'}.")


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ScopedReadOnlyAdmin):
    organisation_path = "rule__organisation"
    list_display = [
        "id",
        "rule",
        "channel",
        "destination",
        "status_badge",
        "attempts",
        "response_code",
        "alert_count",
        "scheduled_for",
        "sent_at",
        "short_error",
    ]
    list_filter = [OrganisationListFilter, "status", "channel", ("rule", OrganisationRelatedFieldListFilter)]
    list_select_related = ["rule"]
    search_fields = ["destination", "last_error", "rule__name"]
    date_hierarchy = "created_at"
    actions = ["resend"]
    readonly_fields = [
        "rule",
        "channel",
        "destination",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "created_at",
        "scheduled_for",
        "claimed_at",
        "last_attempt_at",
        "sent_at",
        "resend_of",
        "created_by",
        "alert_links",
    ]
    exclude = ["alerts"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_alert_count=Count("alerts"))

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery):
        colour = STATUS_COLOURS.get(delivery.status, "#667085")
        return format_html('<b style="color:{}">{}</b>', colour, delivery.get_status_display())

    @admin.display(description="alerts", ordering="_alert_count")
    def alert_count(self, delivery):
        return delivery._alert_count

    @admin.display(description="last error")
    def short_error(self, delivery):
        return delivery.last_error[:80]

    @admin.display(description="alerts carried")
    def alert_links(self, delivery):
        alerts = delivery.alerts.select_related("transaction")[:200]
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (f"/monitoring/drift/{a.drift_feature}/", f"drift of {a.drift_feature} on {a.drift_day}")
                if a.is_drift
                else (f"/review/transactions/{a.transaction_id}/", a.transaction.transaction_id)
                for a in alerts
            ),
        )

    @admin.action(description="Resend selected deliveries", permissions=["resend"])
    def resend(self, request, queryset):
        resent = [alert_delivery_resend(delivery=d, user=request.user) for d in queryset.select_related("rule")]
        self.message_user(request, f"Queued {len(resent)} new delivery(ies).", messages.SUCCESS)

    def has_resend_permission(self, request):
        return request.user.has_perm("alerts.add_alertdelivery")


@admin.register(Alert)
class AlertAdmin(ScopedReadOnlyAdmin):
    organisation_path = "rule__organisation"
    list_display = ["id", "created_at", "rule", "transaction_link", "risk", "score_value", "amount", "account"]
    list_filter = [OrganisationListFilter, ("rule", OrganisationRelatedFieldListFilter), "score__risk_level"]
    list_select_related = ["rule", "transaction", "score"]
    search_fields = ["transaction__transaction_id", "transaction__account_id", "transaction__merchant_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="transaction or drift", ordering="transaction__transaction_id")
    def transaction_link(self, alert):
        if alert.is_drift:
            return format_html(
                '<a href="/monitoring/drift/{}/?day={}">drift of {} on {}</a>',
                alert.drift_feature,
                alert.drift_day.isoformat(),
                alert.drift_feature,
                alert.drift_day.isoformat(),
            )
        return format_html(
            '<a href="/review/transactions/{}/">{}</a>', alert.transaction_id, alert.transaction.transaction_id
        )

    @admin.display(description="risk", ordering="score__risk_level")
    def risk(self, alert):
        return "drift" if alert.is_drift else alert.score.get_risk_level_display()

    @admin.display(description="score or PSI", ordering="score__score")
    def score_value(self, alert):
        return f"PSI {alert.drift_psi:.3f}" if alert.is_drift else f"{alert.score.score:.3f}"

    @admin.display(description="amount")
    def amount(self, alert):
        return "" if alert.is_drift else f"{alert.transaction.amount} {alert.transaction.currency}"

    @admin.display(description="account")
    def account(self, alert):
        return "" if alert.is_drift else alert.transaction.account_id


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedReadOnlyAdmin):
    """Staff see their organisations' events; the platform's own (no organisation) only superusers."""

    list_display = [
        "created_at",
        "organisation",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "ip_address",
    ]
    list_filter = [OrganisationListFilter, "action", "object_type", ("actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organisation"]
    search_fields = ["action", "object_repr", "object_id", "actor_label", "ip_address", "request_id"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    fields = [
        "created_at",
        "organisation",
        "actor",
        "actor_label",
        "ip_address",
        "request_id",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before_pretty",
        "after_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="before")
    def before_pretty(self, event):
        return format_html("<pre>{}</pre>", json.dumps(event.before, indent=2, sort_keys=True))

    @admin.display(description="after")
    def after_pretty(self, event):
        return format_html("<pre>{}</pre>", json.dumps(event.after, indent=2, sort_keys=True))

    @admin.action(description="Export selected as CSV")
    def export_csv(self, request, queryset):
        return audit_csv_response(queryset.order_by("created_at", "id"))


@admin.register(PendingEvaluation)
class PendingEvaluationAdmin(ScopedReadOnlyAdmin):
    """Scores waiting for their alert evaluation because the broker was down; the beat task empties the list. Rows
    kept before organisations (none named) are shown to superusers only."""

    list_display = ["id", "organisation", "created_at", "score_count", "error"]
    list_filter = [OrganisationListFilter]
    list_select_related = ["organisation"]

    @admin.display(description="scores")
    def score_count(self, pending):
        return len(pending.score_ids)
