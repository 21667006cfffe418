"""Fixtures of the backup and restore tests: where the service keeps its backups (a folder or a moto bucket)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def backup_dir(tmp_path, monkeypatch):
    """A local folder as the service's BACKUP_DIR (and no DATA_BUCKET)."""
    folder = tmp_path / "store"
    monkeypatch.delenv("DATA_BUCKET", raising=False)
    monkeypatch.setenv("BACKUP_DIR", str(folder))
    return folder


@pytest.fixture
def bucket(monkeypatch):
    """A moto S3 bucket as the service's DATA_BUCKET."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("BACKUP_DIR", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="hr-data-test")
        monkeypatch.setenv("DATA_BUCKET", "hr-data-test")
        yield "hr-data-test"
