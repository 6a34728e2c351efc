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
    webhooks,
)

# Requests are matched against the routers in this order, route by route: the two hot
# reads' router comes first so they are found after the fewest tries.
ROUTERS = [
    reruns.router,
    health.router,
    auth.router,
    customer_fields.router,
    customers.router,
    customer_groups.router,
    campaigns.router,
    messages.router,
    webhooks.router,
]
