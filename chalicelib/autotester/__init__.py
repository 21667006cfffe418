"""The auto-tester: scheduled checks of the deployed API, published as CloudWatch metrics."""
