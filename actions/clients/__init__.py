"""One client per city backend service; each takes the service's base URL
from the per-city registry and returns typed dataclasses."""
