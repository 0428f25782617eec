"""The navigation: one list of sections, each shown to users holding its permission."""

from dataclasses import dataclass

from flask import url_for
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError


@dataclass(frozen=True)
class NavItem:
    label: object
    endpoint: str
    permission: str | None
    section: object

    def url(self) -> str | None:
        """The item's address, or None while its area is not built yet (shown as coming soon)."""
        return nav_url(self.endpoint)


def nav_url(endpoint: str, **values) -> str | None:
    """The address of `endpoint`, or None while no view serves it yet (templates hide such links)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


S_CHANNEL, S_SUPPLY, S_SALES = _l("Channel"), _l("Supply"), _l("Sales")
S_MONEY, S_ADMIN = _l("Money"), _l("Administration")

NAV = [
    NavItem(_l("Territories"), "distributors.territory_coverage", "territories.view", S_CHANNEL),
    NavItem(_l("Applications"), "distributors.list_applications", "applications.review", S_CHANNEL),
    NavItem(_l("Distributors"), "distributors.list_distributors", "distributors.view", S_CHANNEL),
    NavItem(_l("Network and teams"), "network.tree", "network.view", S_CHANNEL),
    NavItem(_l("Catalog"), "catalog.list_products", "catalog.view", S_SUPPLY),
    NavItem(_l("Inventory"), "inventory.list_stock", "inventory.view", S_SUPPLY),
    NavItem(_l("Orders"), "orders.list_orders", "orders.view", S_SALES),
    NavItem(_l("Dispatch board"), "delivery.dispatch_board", "orders.manage", S_SALES),
    NavItem(_l("My deliveries"), "delivery.my_deliveries", "deliveries.own", S_SALES),
    NavItem(_l("Customers"), "customers.list_customers", "customers.view", S_SALES),
    NavItem(_l("Follow-ups"), "customers.follow_ups", "customers.view", S_SALES),
    NavItem(_l("Campaigns"), "campaigns.list_campaigns", "campaigns.manage", S_SALES),
    NavItem(_l("Commissions"), "commissions.overview", "commissions.view", S_MONEY),
    NavItem(_l("Reports"), "reports.index", "reports.view", S_MONEY),
    NavItem(_l("My reports"), "reports.my_reports", "reports.view", S_MONEY),
    NavItem(_l("Users"), "accounts.list_users", "users.manage", S_ADMIN),
    NavItem(_l("Roles"), "accounts.list_roles", "roles.manage", S_ADMIN),
    NavItem(_l("API clients"), "clients.list_clients", "clients.manage", S_ADMIN),
    NavItem(_l("Background jobs"), "core.list_jobs", "jobs.view_all", S_ADMIN),
    NavItem(_l("Audit log"), "core.list_audit", "audit.view", S_ADMIN),
]


def nav_for(user) -> list[tuple[object, list[NavItem]]]:
    """The sections and items this user may see, in order."""
    sections: dict[str, tuple[object, list[NavItem]]] = {}
    for item in NAV:
        if item.permission is None or user.can(item.permission):
            sections.setdefault(str(item.section), (item.section, []))[1].append(item)
    return list(sections.values())
