"""Admin bases shared by every app."""

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path


class ReadOnlyAdmin(admin.ModelAdmin):
    """History that must not change: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrganisationScopedAdmin(admin.ModelAdmin):
    """An admin page of rows that belong to organisations: staff see the rows of the organisations they are members
    of (superusers: every one), and may only file rows under those. `organisation_path` names the lookup from the
    row to its organisation (e.g. "transaction__source__organisation").

    Here rather than in accounts so that every app's admin may use it; the organisation model is found by following
    the path, so core still imports no app.
    """

    organisation_path = "organisation"

    def organisations_for(self, request):
        """The organisations whose rows the person may see here."""
        organisations = get_fields_from_path(self.model, self.organisation_path)[-1].related_model.objects.all()
        if request.user.is_superuser:
            return organisations
        return organisations.filter(memberships__user=request.user)

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{self.organisation_path}__in": self.organisations_for(request)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation" and not request.user.is_superuser:
            kwargs["queryset"] = self.organisations_for(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class OrganisationListFilter(admin.SimpleListFilter):
    """Filter an OrganisationScopedAdmin's rows by organisation, offering only the organisations the person may see
    (a plain related-field filter would name every organisation)."""

    title = "organisation"
    parameter_name = "organisation"

    def __init__(self, request, params, model, model_admin):
        self.path = model_admin.organisation_path
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(str(o.pk), o.name) for o in model_admin.organisations_for(request).order_by("name")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{f"{self.path}__pk": value}) if value and value.isdigit() else queryset


class OrganisationRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A filter by a foreign key to rows that have their own `organisation` (sources, alert rules), offering only the
    rows of the organisations the person may see."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = {} if request.user.is_superuser else {"organisation__memberships__user": request.user}
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)
