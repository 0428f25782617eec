"""The catalogue of permissions. Roles (data) grant them; code checks them, never role names."""

from flask_babel import lazy_gettext as _l

# code -> label. Areas still to come are listed so that roles can be prepared and navigation shown.
PERMISSIONS: dict[str, object] = {
    "users.manage": _l("Manage users and reset passwords"),
    "roles.manage": _l("Edit roles and their permissions"),
    "audit.view": _l("Browse the audit log"),
    "clients.manage": _l("Manage API integration clients"),
    "jobs.view_all": _l("See every background job"),
    "scope.all_distributors": _l("See every distributor's records (headquarters scope)"),
    "territories.view": _l("View territories and regions"),
    "territories.manage": _l("Grant and revoke territories"),
    "distributors.view": _l("View distributors"),
    "distributors.manage": _l("Edit distributors"),
    "distributors.reveal_id": _l("Reveal national ID numbers"),
    "applications.review": _l("Review distributor applications"),
    "catalog.view": _l("View the product catalog"),
    "catalog.manage": _l("Edit products, categories and prices"),
    "inventory.view": _l("View stock"),
    "inventory.manage": _l("Count, receive and move stock"),
    "orders.view": _l("View orders"),
    "orders.manage": _l("Create and process orders"),
    "deliveries.own": _l("See and update one's own deliveries"),
    "customers.view": _l("View customers"),
    "customers.manage": _l("Edit customers and log visits"),
    "customers.reveal_phone": _l("See customers' full phone numbers"),
    "campaigns.manage": _l("Plan marketing campaigns"),
    "network.view": _l("View the distributor network and teams"),
    "commissions.view": _l("View commissions"),
    "commissions.manage": _l("Edit commission rules and run settlements"),
    "reports.view": _l("View dashboards and reports"),
}

# The default roles created by the first migration (and repaired by `flask dms seed-demo`).
DEFAULT_ROLES: dict[str, dict] = {
    "admin": {"name": "总部管理员", "permissions": sorted(PERMISSIONS)},
    "reviewer": {
        "name": "运营审核",
        "permissions": [
            "audit.view", "scope.all_distributors", "territories.view", "territories.manage",
            "distributors.view", "applications.review", "catalog.view", "inventory.view",
            "orders.view", "orders.manage", "customers.view", "network.view", "commissions.view",
            "reports.view",
        ],
    },
    "distributor": {
        "name": "经销商",
        "permissions": [
            "distributors.view", "catalog.view", "inventory.view", "inventory.manage", "orders.view",
            "orders.manage", "customers.view", "customers.manage", "customers.reveal_phone",
            "network.view", "commissions.view", "reports.view",
        ],
    },
    "courier": {"name": "配送员", "permissions": ["deliveries.own"]},
    "integration": {
        "name": "集成客户端",
        "permissions": ["catalog.view", "orders.view", "orders.manage", "customers.view", "customers.manage"],
    },
}


def label(code: str) -> str:
    """The translated label of a permission code."""
    return str(PERMISSIONS.get(code, code))
