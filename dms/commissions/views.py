"""The commissions area's pages, one module per subject."""

from dms.commissions import ledger_views, rule_views, statement_pdf, statement_views  # noqa: F401
