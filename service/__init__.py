"""Prediction service for small NumPy neural networks."""

import os

# Pin BLAS to one thread per process before NumPy loads: the API runs one worker per core and
# the trainer sits beside them, so extra BLAS threads only oversubscribe the cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
