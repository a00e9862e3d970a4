from django.contrib import admin

from core.admin import (
    OrganisationListFilter,
    OrganisationRelatedFieldListFilter,
    OrganisationScopedAdmin,
    ReadOnlyAdmin,
)
from transactions.models import LabelEvent, Source, Transaction
from transactions.validation import CANONICAL_FIELDS

# Canonical fields left out of the transactions' list, which would be too wide with them (the change page shows all).
_NOT_LISTED = ("latitude", "longitude", "location_distance_km", "country", "device_id")


class ScopedReadOnlyAdmin(OrganisationScopedAdmin, ReadOnlyAdmin):
    """An organisation's history: viewable by its members (and superusers), never added, edited or deleted."""


@admin.register(Source)
class SourceAdmin(OrganisationScopedAdmin):
    list_display = ["name", "organisation", "kind", "created_at"]
    list_filter = [OrganisationListFilter, "kind"]
    list_select_related = ["organisation"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        """A source stays in the organisation it was made in: its transactions, and their histories, are that
        organisation's."""
        return [*self.readonly_fields, "organisation"] if obj is not None else self.readonly_fields


class LabelEventInline(admin.TabularInline):
    model = LabelEvent
    fields = ["label", "source", "created_at", "created_by", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Transaction)
class TransactionAdmin(ScopedReadOnlyAdmin):
    """Transactions are facts as received; labels change through review, so the admin only looks."""

    organisation_path = "source__organisation"
    list_display = [*(name for name in CANONICAL_FIELDS if name not in _NOT_LISTED), "source"]
    list_filter = [
        OrganisationListFilter,
        "channel",
        "label",
        "label_source",
        ("source", OrganisationRelatedFieldListFilter),
    ]
    list_select_related = ["source"]
    search_fields = ["=transaction_id", "=account_id", "=merchant_id"]
    show_full_result_count = False
    inlines = [LabelEventInline]  # detection.admin adds the scores' inline before it


@admin.register(LabelEvent)
class LabelEventAdmin(ScopedReadOnlyAdmin):
    organisation_path = "transaction__source__organisation"
    list_display = ["created_at", "transaction", "label", "source", "created_by"]
    list_filter = [OrganisationListFilter, "label", "source"]
    list_select_related = ["transaction", "created_by"]
    search_fields = ["transaction__transaction_id", "note"]
    raw_id_fields = ["transaction"]
