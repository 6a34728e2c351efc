"""One router per resource."""

from api.routers import (
    auth,
    campaigns,
    customer_fields,
    customer_groups,
    customers,
    health,
    messages,
    reruns,
)

ROUTERS = [
    health.router,
    auth.router,
    customer_fields.router,
    customers.router,
    customer_groups.router,
    campaigns.router,
    messages.router,
    reruns.router,
]
