"""What the tests share, and the benchmarks under scripts/bench reuse: real processes
(harness), S3-compatible servers, a client of a running API, models and data to train on, and
the container files read as data. Nothing here is collected as a test; no test module imports
another test module or `scripts` (tests/test_architecture.py checks it).
"""
