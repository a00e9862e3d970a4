from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts.services import roles_sync

        # Permissions only exist once every app has migrated, so roles are synced after migrate.
        post_migrate.connect(lambda **kwargs: roles_sync(), dispatch_uid="accounts.roles_sync", weak=False)
