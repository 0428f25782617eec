"""Form plumbing shared by every area: run a service from a valid form, errors back in place."""

from dms.core.errors import DomainError
from dms.core.jobs import commit
from dms.extensions import db


def apply_domain_error(form, exc: DomainError, aliases: dict | None = None) -> None:
    """Put a domain error's field messages on the matching form fields, else on the form itself."""
    placed = False
    for name, messages in exc.fields.items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
            placed = True
    if not placed:
        form.form_errors.append(exc.message)


def submit(form, action, aliases: dict | None = None):
    """On a valid POST run `action()` and commit; return its result, or None (errors are on the form).

    A DomainError rolls the transaction back whole and is shown beside the fields it names.
    """
    if not form.validate_on_submit():
        return None
    try:
        result = action()
        commit()
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc, aliases)
        return None
    return result if result is not None else True


def form_status(form) -> int:
    """400 when the form shows errors, else 200 (so a failed submit is not a success to tools)."""
    return 400 if form.errors or form.form_errors else 200
