"""My reports also lists the user's commission statements with their PDF (made on the statement's own page)."""

from datetime import datetime

from dms.commissions import ledger, settlement
from dms.extensions import db
from tests.commissions.conftest import chain, completed_order, publish_rules  # noqa: F401 - fixtures


def test_my_reports_lists_own_statements_only(client, english, login_as, make_user, chain, completed_order,  # noqa: F811
                                              publish_rules):  # noqa: F811
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5)).id)
    db.session.commit()
    settlement.run_now("2026-10")
    login_as(make_user("distributor", distributor_id=seller.id))
    html = client.get("/reports/mine").get_data(as_text=True)
    assert 'data-testid="statement-pdfs"' in html
    assert f"ST202610-{seller.id:06d}" in html and f"ST202610-{city.id:06d}" not in html
    assert "Generate PDF" in html
