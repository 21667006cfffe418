"""Benchmarks: each ``bench/bench_*.py`` has a ``main()`` that prints the project's figure beside a
baseline measured in the same run, and the ratio (these machines are noisy: ratios, not absolutes)."""
