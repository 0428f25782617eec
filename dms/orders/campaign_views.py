"""The campaign effect page (in the orders area, since it reads order figures; campaigns link to it)."""

from flask_login import current_user

from dms.campaigns import services as campaigns
from dms.core.auth import require_permission
from dms.core.render import render
from dms.orders import bp, campaign_effect


@bp.get("/campaigns/<int:campaign_id>/effect", endpoint="campaign_effect")
@require_permission(campaigns.MANAGE)
def campaign_effect_page(campaign_id: int):
    """A campaign's effect: orders, revenue, units, new customers, uplift vs baseline and control, margin, ROI."""
    campaign = campaigns.get_campaign(current_user, campaign_id)
    effect = campaign_effect.evaluate(campaign)
    response = render("campaigns/effect.html", "campaigns/_effect.html", effect=effect, campaign=campaign,
                      status_label=campaigns.status_label, status_tags=campaigns.STATUS_TAGS)
    response.headers["Cache-Control"] = "no-store"
    return response
