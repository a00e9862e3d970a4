from django.contrib import admin, messages
from django.forms.models import model_to_dict

from core.admin import ReadOnlyAdmin
from detection.models import ModelVersion, RiskPolicy, Score
from detection.policy.selectors import risk_policy_current
from detection.policy.services import risk_policy_create
from transactions.admin import TransactionAdmin
from transactions.models import Transaction

HEADLINE_METRICS = ("average_precision", "roc_auc", "precision_at_k", "recall_at_k")


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "status",
        "algorithms",
        "training_rows",
        "labelled_rows",
        "headline_metrics",
        "trained_at",
        "activated_at",
    ]
    list_filter = ["status"]
    search_fields = ["=version", "error"]
    actions = ["activate"]
    exclude = ["artifact"]
    readonly_fields = [
        "version",
        "status",
        "algorithms",
        "parameters",
        "feature_names",
        "training_start",
        "training_end",
        "training_rows",
        "labelled_rows",
        "metrics",
        "error",
        "created_at",
        "created_by",
        "trained_at",
        "activated_at",
    ]

    @admin.display(description="metrics")
    def headline_metrics(self, version):
        shown = {k: version.metrics[k] for k in HEADLINE_METRICS if isinstance(version.metrics.get(k), int | float)}
        return ", ".join(f"{k} {v:.3f}" for k, v in shown.items()) or "—"

    @admin.action(description="Activate the selected version (retires the active one)", permissions=["activate"])
    def activate(self, request, queryset):
        from detection.training.services import model_version_activate

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = model_version_activate(version=queryset.get(), user=request.user, request=request)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"v{version.version} is now active.", messages.SUCCESS)

    def has_activate_permission(self, request):
        return request.user.has_perm("detection.change_modelversion")


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    list_display = ["id", "transaction", "model_version", "score", "risk_level", "is_anomaly", "created_at"]
    list_filter = ["risk_level", "is_anomaly", "model_version"]
    list_select_related = ["transaction", "model_version"]
    search_fields = ["transaction__transaction_id", "transaction__account_id", "transaction__merchant_id"]
    show_full_result_count = False
    raw_id_fields = ["transaction"]


@admin.register(RiskPolicy)
class RiskPolicyAdmin(admin.ModelAdmin):
    """Thresholds are append-only: "add" writes a new row in force from now on; rows never change."""

    list_display = ["created_at", "created_by", "medium", "high", "critical", "review_threshold", "in_force", "comment"]
    list_select_related = ["created_by"]
    fields = ["medium", "high", "critical", "review_threshold", "comment"]
    search_fields = ["comment", "created_by__username"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ["created_at", "created_by"] if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.fields + (["created_at", "created_by"] if obj is not None else [])

    @admin.display(description="in force", boolean=True)
    def in_force(self, policy):
        return policy.pk == risk_policy_current().pk

    def get_changeform_initial_data(self, request):
        return model_to_dict(risk_policy_current(), fields=["medium", "high", "critical", "review_threshold"])

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in self.fields}
        policy = risk_policy_create(**values, user=request.user)
        obj.pk, obj.created_at, obj.created_by = policy.pk, policy.created_at, policy.created_by

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": "Newest row is in force; history is kept."}
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if add:
            context["title"] = "Set new risk thresholds"
            context["subtitle"] = "In force for the next score. The previous values stay in history."
        return super().render_change_form(request, context, add, change, form_url, obj)


class ScoreInline(admin.TabularInline):
    model = Score
    fields = ["model_version", "score", "risk_level", "is_anomaly", "reasons", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TransactionWithScoresAdmin(TransactionAdmin):
    """The transactions app's admin page, with each transaction's scores (transactions may not import detection)."""

    inlines = [ScoreInline, *TransactionAdmin.inlines]


admin.site.unregister(Transaction)
admin.site.register(Transaction, TransactionWithScoresAdmin)
