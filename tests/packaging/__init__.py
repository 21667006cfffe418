"""The artifacts deploy ships (the Lambda package, the Glue zip), run as they run in AWS."""
