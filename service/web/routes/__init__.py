"""One blueprint per module; `BLUEPRINTS` lists them and `OPENAPI_PATHS` their extra paths."""

from . import docs, health, jobs, models, predict, v2

MODULES = [health, models, predict, jobs, docs, v2]
BLUEPRINTS = [m.bp for m in MODULES]
# Modules beyond the core describe their own paths in an `OPENAPI` dict.
OPENAPI_PATHS = [m.OPENAPI for m in MODULES if hasattr(m, "OPENAPI")]
