"""The reports area's pages, one module per subject."""

from dms.reports import dashboard_views, forecast_views, pdf_views, report_views, scorecard_views  # noqa: F401
