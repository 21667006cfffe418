"""What a request works on: the stage's settings, its database and its backup store, read per request."""

from __future__ import annotations

from chalicelib import db as databases
from chalicelib.backups.service import BackupSettings
from chalicelib.backups.storage import BackupStore
from chalicelib.runtime.settings import Settings


def settings() -> Settings:
    return Settings.from_env()


def database() -> databases.Database:
    return databases.for_url(settings().database_url)


def admin_database() -> databases.Database:
    """The database as the admin user: only the schema routes use it (the app user has data rights only)."""
    return databases.for_url(settings().admin_database_url)


def backup_store() -> BackupStore:
    return BackupSettings.from_env().store()
