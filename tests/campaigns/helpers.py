"""Campaign test helpers shared by tests/campaigns and tests/orders/test_campaign_*: plans and running campaigns."""

from datetime import timedelta

from dms.campaigns import services
from dms.core.jobs import commit
from dms.core.time import business_today


def plan(products, targets=("440113",), controls=(), **changes) -> dict:
    """A valid plan (10 % off, running from yesterday for a week) for these products and regions."""
    today = business_today()
    data = {"name": "夏季促销", "objective": "拉新", "starts_on": (today - timedelta(days=1)).isoformat(),
            "ends_on": (today + timedelta(days=5)).isoformat(), "mechanism": "percent", "percent_off": "10",
            "budget": "1000.00", "cost": "200.00", "target_regions": list(targets), "control_regions": list(controls),
            "product_ids": [p.id for p in products]}
    data.update(changes)
    return data


def make_campaign(products, status="running", actor=None, **changes):
    """A campaign planned by the service and moved to `status` (draft, approved or running), committed."""
    campaign = services.create_campaign(actor, plan(products, **changes))
    if status in ("approved", "running"):
        services.approve(actor, campaign)
    if status == "running" and campaign.status == "approved":
        services.start(actor, campaign)
    commit()
    return campaign
