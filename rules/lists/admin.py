"""Admin of lists and their entries (registered when rules.admin is imported), scoped to the organisations the
person is a member of. Saves and deletions go through the lists' services: normalised, audited, revision bumped."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count

from core.admin import OrganisationListFilter, OrganisationScopedAdmin
from rules.lists import services
from rules.lists.values import InvalidValue, normalise
from rules.models import ListEntry, ValueList


@admin.register(ValueList)
class ValueListAdmin(OrganisationScopedAdmin):
    list_display = ("name", "kind", "organisation", "entry_count", "revision", "updated_at")
    list_filter = (OrganisationListFilter, "kind")
    search_fields = ("name", "description")
    readonly_fields = ("revision", "created_at", "created_by", "updated_at")
    fields = ("organisation", "name", "kind", "description", *readonly_fields)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(entry_count=Count("entries"))

    @admin.display(ordering="entry_count", description="entries")
    def entry_count(self, obj) -> int:
        return obj.entry_count

    def save_model(self, request, obj, form, change):
        services.value_list_save(value_list=obj, user=request.user, created=not change)

    def delete_model(self, request, obj):
        try:
            services.value_list_delete(value_list=obj, user=request.user)
        except services.ListRefused as exc:
            messages.error(request, exc.reason)

    def delete_queryset(self, request, queryset):
        for value_list in queryset:
            self.delete_model(request, value_list)


class ListEntryForm(forms.ModelForm):
    class Meta:
        model = ListEntry
        fields = ("value_list", "value", "expires_at", "note")

    def clean(self):
        cleaned = super().clean()
        value_list, value = cleaned.get("value_list"), cleaned.get("value")
        if value_list is not None and value is not None:
            try:
                cleaned["value"] = normalise(value_list.kind, value)
            except InvalidValue as exc:
                self.add_error("value", str(exc))
        return cleaned


@admin.register(ListEntry)
class ListEntryAdmin(OrganisationScopedAdmin):
    form = ListEntryForm
    organisation_path = "value_list__organisation"
    list_display = ("value", "value_list", "expires_at", "note", "created_at")
    list_filter = (OrganisationListFilter,)
    list_select_related = ("value_list",)
    search_fields = ("value", "note", "value_list__name")
    readonly_fields = ("created_at", "created_by")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "value_list" and not request.user.is_superuser:
            kwargs["queryset"] = ValueList.objects.filter(organisation__in=self.organisations_for(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        services.list_entry_save(entry=obj, user=request.user)

    def delete_model(self, request, obj):
        services.list_entry_delete(entry=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for entry in queryset.select_related("value_list"):
            services.list_entry_delete(entry=entry, user=request.user)
