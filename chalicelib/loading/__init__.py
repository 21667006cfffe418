"""Getting rows in: batch ingest and the rejection log's replay, the streaming CSV loader, uploads,
the S3 loader, the bucket layout and sample data."""
