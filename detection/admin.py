"""Admin pages of the detection app. Every row belongs to an organisation: staff see (and file rows under) only the
organisations they are members of, superusers every one; each page filters by organisation."""

from django.contrib import admin, messages
from django.forms.models import model_to_dict
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import OrganisationScopedAdmin
from accounts.models import Organisation
from core.admin import OrganisationListFilter, ReadOnlyAdmin
from detection.models import BacktestRun, ModelVersion, RiskPolicy, Score, ScoringJob
from detection.policy.selectors import risk_policy_current
from detection.policy.services import risk_policy_create
from detection.training.services import model_version_challenge, model_version_promote
from transactions.admin import TransactionAdmin
from transactions.models import Transaction

HEADLINE_METRICS = ("average_precision", "roc_auc", "precision_at_k", "recall_at_k")


class ScopedReadOnlyAdmin(OrganisationScopedAdmin, ReadOnlyAdmin):
    """History of an organisation's: viewable by its members (and superusers), never added, edited or deleted."""


@admin.register(ModelVersion)
class ModelVersionAdmin(ScopedReadOnlyAdmin):
    list_display = [
        "__str__",
        "organisation",
        "status",
        "algorithms",
        "training_rows",
        "labelled_rows",
        "headline_metrics",
        "trained_at",
        "activated_at",
        "challenger",
    ]
    list_filter = [OrganisationListFilter, "status", "challenger"]
    list_select_related = ["organisation"]
    search_fields = ["=version", "error"]
    actions = ["activate", "challenge", "promote"]
    exclude = ["artifact", "mlflow_run_id", "mlflow_run_url"]
    # Every field, in the model's order, but the artifact (its bytes and their format number); the MLflow run as a link.
    readonly_fields = [
        "mlflow_run" if f.name == "mlflow_run_url" else f.name
        for f in ModelVersion._meta.fields
        if f.name not in ("id", "artifact", "artifact_format", "mlflow_run_id")
    ]

    @admin.display(description="MLflow run")
    def mlflow_run(self, version):
        if version.mlflow_run_url:
            return format_html(
                '<a href="{}" target="_blank" rel="noopener">{}</a>', version.mlflow_run_url, version.mlflow_run_id
            )
        return version.mlflow_run_id or "—"

    @admin.display(description="metrics")
    def headline_metrics(self, version):
        shown = {k: version.metrics[k] for k in HEADLINE_METRICS if isinstance(version.metrics.get(k), int | float)}
        return ", ".join(f"{k} {v:.3f}" for k, v in shown.items()) or "—"

    @admin.action(
        description="Compare the selected version with the active one, then activate it", permissions=["activate"]
    )
    def activate(self, request, queryset):
        """Never in one click: the person is sent to the comparison page, which asks to confirm (detection.versions)."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to compare and activate.", messages.ERROR)
            return None
        version = queryset.select_related("organisation").get()
        if request.organisation is None or request.organisation.pk != version.organisation_id:
            self.message_user(
                request,
                f"v{version.version} belongs to {version.organisation}: work in {version.organisation} (the chooser "
                "in the header) to compare and activate it.",
                messages.ERROR,
            )
            return None
        return HttpResponseRedirect(reverse("detection:version_compare", kwargs={"pk": version.pk}))

    @admin.action(
        description="Make the selected ready version the challenger (scores in shadow, decides nothing)",
        permissions=["activate"],
    )
    def challenge(self, request, queryset):
        return self._version_service(request, queryset, model_version_challenge, "v{v} is the challenger.")

    @admin.action(description="Promote the selected challenger to the active version", permissions=["activate"])
    def promote(self, request, queryset):
        return self._version_service(request, queryset, model_version_promote, "v{v} is promoted to active.")

    def _version_service(self, request, queryset, service, done: str):
        """One audited service call (detection.training.services) on one version of the request's organisation."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return None
        version = queryset.select_related("organisation").get()
        if request.organisation is None or request.organisation.pk != version.organisation_id:
            self.message_user(
                request, f"v{version.version} belongs to {version.organisation}: work in it first.", messages.ERROR
            )
            return None
        try:
            service(version=version, user=request.user, request=request)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        self.message_user(request, done.format(v=version.version))
        return None

    def has_activate_permission(self, request):
        return request.user.has_perm("detection.change_modelversion")


class OrganisationVersionFilter(admin.RelatedFieldListFilter):
    """The model versions of the organisations the person may see, named with their organisation."""

    def field_choices(self, field, request, model_admin):
        versions = ModelVersion.objects.defer("artifact").select_related("organisation")
        if not request.user.is_superuser:
            versions = versions.filter(organisation__memberships__user=request.user)
        return [(v.pk, f"{v.organisation} {v}") for v in versions.order_by("organisation__name", "-version")]


@admin.register(Score)
class ScoreAdmin(ScopedReadOnlyAdmin):
    # A score's organisation is its transaction's, which is its version's: the version's is one join away.
    organisation_path = "model_version__organisation"
    list_display = ["id", "transaction", "model_version", "score", "risk_level", "is_anomaly", "created_at"]
    list_filter = ["risk_level", "is_anomaly", ("model_version", OrganisationVersionFilter)]
    list_select_related = ["transaction", "model_version"]
    search_fields = ["transaction__transaction_id", "transaction__account_id", "transaction__merchant_id"]
    show_full_result_count = False
    raw_id_fields = ["transaction"]


@admin.register(RiskPolicy)
class RiskPolicyAdmin(OrganisationScopedAdmin):
    """Thresholds are append-only: "add" writes an organisation's new row, in force from now on; rows never change."""

    list_display = [
        "created_at",
        "organisation",
        "created_by",
        "medium",
        "high",
        "critical",
        "review_threshold",
        "block_threshold",
        "in_force",
        "comment",
    ]
    list_filter = [OrganisationListFilter]
    list_select_related = ["organisation", "created_by"]
    fields = ["organisation", "medium", "high", "critical", "review_threshold", "block_threshold", "comment"]
    search_fields = ["comment", "created_by__username"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ["organisation", "created_at", "created_by"] if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.fields + (["created_at", "created_by"] if obj is not None else [])

    @admin.display(description="in force", boolean=True)
    def in_force(self, policy):
        return policy.pk == risk_policy_current(organisation_id=policy.organisation_id).pk

    def get_changeform_initial_data(self, request):
        """The thresholds in force in the organisation asked for (?organisation=<id>), else in the request's."""
        organisation = self._organisation_asked(request) or getattr(request, "organisation", None)
        if organisation is None:
            return {}
        current = risk_policy_current(organisation_id=organisation.pk)
        fields = ["medium", "high", "critical", "review_threshold", "block_threshold"]
        return model_to_dict(current, fields=fields) | {"organisation": organisation.pk}

    def _organisation_asked(self, request) -> Organisation | None:
        asked = request.GET.get("organisation")
        allowed = Organisation.objects.all()
        if not request.user.is_superuser:
            allowed = allowed.filter(memberships__user=request.user)
        return allowed.filter(pk=asked).first() if asked and asked.isdigit() else None

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in self.fields if name != "organisation"}
        policy = risk_policy_create(organisation_id=form.cleaned_data["organisation"].pk, **values, user=request.user)
        obj.pk, obj.created_at, obj.created_by = policy.pk, policy.created_at, policy.created_by

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": "Newest row is in force; history is kept."}
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if add:
            context["title"] = "Set new risk thresholds"
            context["subtitle"] = "In force for the next score. The previous values stay in history."
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(ScoringJob)
class ScoringJobAdmin(ScopedReadOnlyAdmin):
    """Bulk scoring jobs (uploads and the partner API's), of the organisation of the source they score into."""

    organisation_path = "source__organisation"
    list_display = ["id", "organisation", "source", "original_name", "status", "phase", "progress_shown", "created_at"]
    list_filter = [OrganisationListFilter, "status", "phase"]
    list_select_related = ["source__organisation", "created_by"]
    search_fields = ["=id", "original_name", "source__name"]

    @admin.display(description="organisation", ordering="source__organisation__name")
    def organisation(self, job):
        return job.source.organisation

    @admin.display(description="progress")
    def progress_shown(self, job):
        return f"{job.processed_rows:,} / {job.total_rows:,}"


@admin.register(BacktestRun)
class BacktestRunAdmin(ScopedReadOnlyAdmin):
    list_display = ["id", "organisation", "original_name", "status", "created_by", "created_at", "finished_at"]
    list_filter = [OrganisationListFilter, "status"]
    list_select_related = ["organisation", "created_by"]
    search_fields = ["=id", "original_name"]
    exclude = ["result"]


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
