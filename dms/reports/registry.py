"""The reports that can be shown, exported and printed: one definition per report kind.

A report module registers its definition on import; the PDF machinery (any report as a queued PDF)
and "my reports" read this registry, so a new report is printable by registering it.

`build` is a dotted function `build(actor, params: dict) -> dict`: the figures of the report for that
actor (scoped to the actor's distributor when it has no HQ scope) and those parameters (the query
string of the report page, as a plain dict of strings); bad parameters raise ValidationError. The
page renders its figures with its own template; the PDF renders the same figures with `pdf_template`
(which extends `reports/pdf/base.html`), summary tables only — full rows go to the XLSX export.
"""

from dataclasses import dataclass

ORIENTATIONS = ("portrait", "landscape")


@dataclass(frozen=True)
class ReportDefinition:
    """What a report is: its kind, title, page, how its figures are built and how it is printed."""

    kind: str
    title: object  # a lazy string
    endpoint: str  # the report's page
    build: str  # dotted name of build(actor, params) -> dict
    pdf_template: str
    orientation: str = "portrait"
    permission: str = "reports.view"


REPORTS: dict[str, ReportDefinition] = {}


def register(definition: ReportDefinition) -> ReportDefinition:
    """Add (or replace, by kind) a report definition."""
    if definition.orientation not in ORIENTATIONS:
        raise ValueError(f"unknown orientation {definition.orientation!r}")
    REPORTS[definition.kind] = definition
    return definition


def get(kind: str) -> ReportDefinition | None:
    """The definition of a kind, or None."""
    return REPORTS.get(kind)
