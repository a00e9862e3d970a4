from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership, Organisation, PartnerToken, Scope, hash_token
from core.audit import audit_record
from transactions.models import Source

ANALYST, ADMIN, VIEWER, LEAD = "analyst", "admin", "viewer", "lead"
PROJECT_APPS = ("accounts", "transactions", "detection", "rules", "monitoring", "review", "alerts")

# Codenames each role holds. Viewers read; analysts read, review and upload; admins may do everything.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    VIEWER: {
        "transactions.view_transaction",
        "detection.view_score",
        "detection.view_modelversion",
        "detection.view_riskpolicy",
        "review.view_reviewitem",
        "review.view_reviewdecision",
        "rules.view_rule",
        "rules.view_ruleversion",
        "rules.view_ruletest",
        "rules.view_valuelist",
        "rules.view_listentry",
    },
}
ROLE_PERMISSIONS[ANALYST] = ROLE_PERMISSIONS[VIEWER] | {
    "review.decide_reviewitem",
    "review.change_reviewitem",
    "review.add_reviewdecision",
    "transactions.upload_transactions",
    "monitoring.view_driftmeasurement",
}
# A lead works as an analyst and also assigns items and cases to analysts.
ROLE_PERMISSIONS[LEAD] = ROLE_PERMISSIONS[ANALYST] | {"review.assign_reviewitem"}


def _permissions_for(codes: set[str]) -> list[Permission]:
    wanted = {tuple(code.split(".", 1)) for code in codes}
    perms = Permission.objects.select_related("content_type").filter(content_type__app_label__in=PROJECT_APPS)
    return [p for p in perms if (p.content_type.app_label, p.codename) in wanted]


@transaction.atomic
def roles_sync() -> None:
    """Create the analyst, lead, viewer and admin groups with their permissions; safe to run again."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions_for(codes))
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=(*PROJECT_APPS, "auth")))


def user_has_role(user, role: str) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=role).exists())


@transaction.atomic
def organisation_create(*, name: str, user=None) -> Organisation:
    """A new organisation, empty: it scores once it has an active model version (trained, or copied)."""
    organisation = Organisation(name=name)
    organisation.full_clean()
    organisation.save()
    audit_record(
        action="organisation.create",
        obj=organisation,
        after={"name": name},
        actor=user,
        organisation_id=organisation.pk,
    )
    return organisation


def membership_add(*, user, organisation: Organisation) -> Membership:
    """Give a user access to an organisation (idempotent); the user's role decides what they may do there."""
    membership, _ = Membership.objects.get_or_create(user=user, organisation=organisation)
    return membership


@transaction.atomic
def partner_token_create(
    *, name: str, scopes: list[str], organisation: Organisation, created_by=None
) -> tuple[PartnerToken, str]:
    """Create a token for a partner of an organisation, sending as the source of its name there; returns the row
    and the secret, which is shown once and never stored.

    An internal source (uploads, imports, the demo generator) cannot be joined by naming a token after it.
    """
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; choose from {', '.join(Scope.values)}")
    if not scopes:
        raise ValueError(f"give at least one scope from {', '.join(Scope.values)}")
    if name in Source.RESERVED_NAMES:
        raise ValueError(f"{name!r} is the name of an internal source; give the token another name")
    source, _ = Source.objects.get_or_create(
        organisation=organisation, name=name, defaults={"kind": Source.Kind.PARTNER}
    )
    if source.kind != Source.Kind.PARTNER:
        raise ValueError(f"{name!r} is the name of an internal source ({source.kind}); give the token another name")
    secret = PartnerToken.generate_secret()
    token = PartnerToken.objects.create(
        name=name,
        key_prefix=secret[:12],
        key_hash=hash_token(secret),
        scopes=sorted(set(scopes)),
        organisation=organisation,
        source=source,
        created_by=created_by,
    )
    audit_record(action="token.create", obj=token, after=partner_token_state(token), actor=created_by)
    return token, secret


_TOKEN_COLUMNS = [field.attname for field in PartnerToken._meta.concrete_fields]
_SOURCE_COLUMNS = [field.attname for field in Source._meta.concrete_fields]
_ORGANISATION_COLUMNS = [field.attname for field in Organisation._meta.concrete_fields]
# Every partner request runs this: one SQL string built once, as the ORM's compilation of it costs more than the query.
_TOKEN_SQL = (
    f"SELECT {', '.join(f't.{name}' for name in _TOKEN_COLUMNS)}, "  # noqa: S608 - model column names only
    f"{', '.join(f's.{name}' for name in _SOURCE_COLUMNS)}, "
    f"{', '.join(f'o.{name}' for name in _ORGANISATION_COLUMNS)} "
    f"FROM {PartnerToken._meta.db_table} t JOIN {Source._meta.db_table} s ON s.id = t.source_id "
    f"JOIN {Organisation._meta.db_table} o ON o.id = t.organisation_id WHERE t.key_hash = %s"
)


def partner_token_authenticate(secret: str) -> PartnerToken | None:
    """The active token whose secret this is, with its source and organisation; None for an unknown or revoked one."""
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [hash_token(secret)])
        row = cursor.fetchone()
    if row is None:
        return None
    tokens, sources = len(_TOKEN_COLUMNS), len(_TOKEN_COLUMNS) + len(_SOURCE_COLUMNS)
    token = PartnerToken.from_db(connection.alias, _TOKEN_COLUMNS, row[:tokens])
    token.source = Source.from_db(connection.alias, _SOURCE_COLUMNS, row[tokens:sources])
    token.organisation = Organisation.from_db(connection.alias, _ORGANISATION_COLUMNS, row[sources:])
    token.source.organisation = token.organisation  # one organisation: the source is the token's own
    return token if token.is_active else None


def partner_token_state(token: PartnerToken) -> dict:
    return {"name": token.name, "scopes": token.scopes, "key_prefix": token.key_prefix, "revoked_at": token.revoked_at}


@transaction.atomic
def partner_token_revoke(*, token: PartnerToken, user=None) -> None:
    """Revoke a token: it stops working at once. Revoking a revoked token changes nothing and is not audited."""
    if token.revoked_at is not None:
        return
    before = partner_token_state(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(action="token.revoke", obj=token, before=before, after=partner_token_state(token), actor=user)
