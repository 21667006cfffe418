"""Long work as jobs: backups, restores and replays answer at once and are run by a worker (see docs/jobs.md)."""
