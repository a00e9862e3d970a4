from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts.lockout import login_unlock
from accounts.models import Membership, Organisation, PartnerToken, Scope
from accounts.services import partner_token_create, partner_token_revoke
from core.admin import OrganisationListFilter, OrganisationScopedAdmin  # OrganisationScopedAdmin: every app's base
from core.audit import audit_record
from transactions.models import Source


def people_visible(request):
    """The people a staff member administers: superusers everyone; other staff the members of their organisations
    and people of no organisation yet (to add them), never a superuser."""
    people = get_user_model().objects.order_by("username")
    if request.user.is_superuser:
        return people
    mine = Q(memberships__organisation__memberships__user=request.user) | Q(memberships__isnull=True)
    return people.filter(mine, is_superuser=False).distinct()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":  # an id typed past the picker is refused too
            kwargs["queryset"] = people_visible(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    """Superusers create organisations; other staff see, and manage the members of, their own organisations only."""

    list_display = ["name", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(memberships__user=request.user).distinct()

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if request.user.is_superuser else [*self.readonly_fields, "name"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:  # as organisation_create records it
            after = {"name": obj.name}
            audit_record(action="organisation.create", obj=obj, after=after, organisation_id=obj.pk)


class MemberUserAdmin(UserAdmin):
    """People, as the platform's operators (superusers) see them all; other staff see the members of their own
    organisations and may not make anyone a superuser, give permissions one by one, or change a superuser."""

    def get_queryset(self, request):
        return people_visible(request)

    def get_readonly_fields(self, request, obj=None):
        fixed = super().get_readonly_fields(request, obj)
        return fixed if request.user.is_superuser else [*fixed, "is_superuser", "user_permissions"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class PlatformGroupAdmin(GroupAdmin):
    """The roles (groups) are the platform's, shared by every organisation: only superusers change them."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), MemberUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, PlatformGroupAdmin)


class PartnerTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = PartnerToken
        fields = ["organisation", "name", "scopes"]

    def clean(self):
        data = super().clean()
        organisation, name = data.get("organisation"), data.get("name")
        internal = Source.objects.filter(organisation=organisation, name=name).exclude(kind=Source.Kind.PARTNER)
        if name in Source.RESERVED_NAMES or (organisation and name and internal.exists()):
            self.add_error("name", "This is the name of an internal source (uploads, imports, demo): choose another.")
        return data


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(PartnerToken)
class PartnerTokenAdmin(OrganisationScopedAdmin):
    """Tokens are created here (the secret is shown once) and revoked, never edited or deleted."""

    list_display = [
        "name",
        "organisation",
        "key_prefix",
        "scopes",
        "source",
        "state",
        "created_at",
        "created_by",
        "last_used_at",
    ]
    list_filter = [RevokedFilter, OrganisationListFilter]
    list_select_related = ["organisation", "source", "created_by"]
    search_fields = ["name", "key_prefix"]
    readonly_fields = [
        "name",
        "organisation",
        "key_prefix",
        "scopes",
        "source",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = PartnerTokenCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["organisation", "name", "scopes"] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state", ordering="revoked_at")
    def state(self, token):
        if token.is_active:
            return format_html('<b style="color:{}">{}</b>', "#2e7d32", "active")
        return format_html('<b style="color:#c0392b">revoked {}</b>', f"{token.revoked_at:%Y-%m-%d}")

    def save_model(self, request, obj, form, change):
        token, secret = partner_token_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            organisation=form.cleaned_data["organisation"],
            created_by=request.user,
        )
        obj.pk, obj._secret_once = token.pk, secret

    def response_add(self, request, obj, post_url_continue=None):
        """Show the secret on this one page; it is never stored, so it can never be shown again."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "token": obj,
            "secret": obj._secret_once,
            "title": "Token created: copy the secret now",
        }
        return TemplateResponse(request, "admin/accounts/partnertoken/secret_once.html", context)

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            partner_token_revoke(token=token, user=request.user)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s); they stop working immediately.", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.change_partnertoken")


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    """axes' failed-login records, with the unlock an admin gives a person who called (audited as login.unlock)."""

    actions = ["unlock", *AxesAccessAttemptAdmin.actions]

    @admin.action(
        description="Unlock: forget the failed logins of these usernames and addresses", permissions=["delete"]
    )
    def unlock(self, request, queryset):
        pairs = set(queryset.values_list("username", "ip_address"))
        removed = sum(login_unlock(username=name, ip_address=address, user=request.user) for name, address in pairs)
        self.message_user(request, f"Unlocked {len(pairs)} username/address pair(s); {removed} record(s) removed.")
