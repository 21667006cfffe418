"""Backups to Avro and restores from them: the storage layout, the stores (local folder, S3) and the
backup and restore services."""
