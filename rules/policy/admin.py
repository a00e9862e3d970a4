"""Admin of rules, their versions and their tests: read-only history of the organisations a staff member administers
(rules are written and published on the rules pages and the API, where each change is validated and audited); one
action disables rules, for those who may publish."""

from django.contrib import admin, messages

from core.admin import OrganisationListFilter, OrganisationScopedAdmin, ReadOnlyAdmin
from rules.models import Rule, RuleTest, RuleVersion
from rules.policy import selectors, services


class ScopedReadOnlyAdmin(OrganisationScopedAdmin, ReadOnlyAdmin):
    """An organisation's rows, viewable by its members who are staff (and superusers), never edited here."""


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    fields = ["version", "status", "action", "tag", "expression", "created_by", "created_at", "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Rule)
class RuleAdmin(ScopedReadOnlyAdmin):
    list_display = ["name", "organisation", "created_by", "created_at"]
    list_filter = [OrganisationListFilter]
    list_select_related = ["organisation", "created_by"]
    search_fields = ["name", "versions__expression"]
    inlines = [RuleVersionInline]
    actions = ["disable"]

    @admin.action(
        description="Disable the selected rules (their versions in force stop deciding)", permissions=["publish"]
    )
    def disable(self, request, queryset):
        done = 0
        for rule in queryset:
            try:
                services.rule_disable(rule=rule, user=request.user)
            except services.RuleRefused as exc:
                self.message_user(request, f"{rule.name}: {exc}", messages.WARNING)
            else:
                done += 1
        self.message_user(request, f"{done} rule(s) disabled.", messages.SUCCESS)

    def has_publish_permission(self, request):
        return selectors.may_publish(request.user)


@admin.register(RuleVersion)
class RuleVersionAdmin(ScopedReadOnlyAdmin):
    organisation_path = "rule__organisation"
    list_display = ["__str__", "action", "status", "created_by", "created_at", "published_by", "published_at"]
    list_filter = ["status", "action"]
    list_select_related = ["rule", "created_by", "published_by"]
    search_fields = ["rule__name", "expression"]


@admin.register(RuleTest)
class RuleTestAdmin(ScopedReadOnlyAdmin):
    organisation_path = "rule_version__rule__organisation"
    list_display = ["id", "rule_version", "days", "status", "processed_rows", "total_rows", "created_by", "created_at"]
    list_filter = ["status"]
    list_select_related = ["rule_version__rule", "created_by"]
    search_fields = ["=id", "rule_version__rule__name"]
    exclude = ["report"]
