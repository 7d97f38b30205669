"""What a job cost, as people read it on its card and in `/jobs`."""

from __future__ import annotations

from models.job import Job

# Tiers worth naming next to the cost: they change the price (flex half, priority double).
NAMED_TIERS = frozenset({"flex", "priority"})


def cost_label(job: Job) -> str | None:
    """`$0.26` once the provider has charged anything (a cent's fraction shows as
    `<$0.01`, never as a free `$0.00`), with the service tier the provider reports when it
    is not the standard one (`$0.13 (flex)`); nothing before."""
    cost = float(job.cost_usd or 0)
    if cost <= 0:
        return None
    label = "<$0.01" if cost < 0.005 else f"${cost:,.2f}"
    return f"{label} ({job.service_tier})" if job.service_tier in NAMED_TIERS else label
