"""The CDK constructs of the HR migration service; `stack.HrMigrationStack` puts them together."""
