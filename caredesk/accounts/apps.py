from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "caredesk.accounts"
    label = "accounts"
    verbose_name = "Accounts and organisation"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import auth_events  # noqa: F401  (connects login audit receivers)
        from .roles import sync_roles_after_migrate

        # Every app's post_migrate: permissions of later apps exist only after their own migrate.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="caredesk_sync_roles")
