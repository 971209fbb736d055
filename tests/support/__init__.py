"""Code the tests share that is not a test: harnesses, data helpers, comparisons."""
