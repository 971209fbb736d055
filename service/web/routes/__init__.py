"""One blueprint per module; each view declares its operation for the OpenAPI document."""

from . import docs, health, jobs, models, predict, ui, v2

BLUEPRINTS = [m.bp for m in (health, models, predict, jobs, docs, v2, ui)]
