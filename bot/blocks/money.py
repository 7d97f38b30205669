"""What a job cost, as people read it on its card and in `/jobs`."""

from __future__ import annotations

from models.job import Job


def cost_label(job: Job) -> str | None:
    """`$0.26` once the provider has charged anything (a cent's fraction shows as
    `<$0.01`, never as a free `$0.00`); nothing before."""
    cost = float(job.cost_usd or 0)
    if cost <= 0:
        return None
    return "<$0.01" if cost < 0.005 else f"${cost:,.2f}"
