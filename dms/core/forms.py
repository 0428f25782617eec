"""Form plumbing shared by every area: the base forms that guard text input, run a service from a valid
form, errors back in place."""

from flask_wtf import FlaskForm
from wtforms import Form as WTForm
from wtforms import StringField, TextAreaField
from wtforms.validators import StopValidation

from dms.core.errors import DomainError
from dms.core.jobs import commit
from dms.core.text import CONTROL_MESSAGE, has_control_characters
from dms.extensions import db


class NoControlCharacters:
    """Refuse text holding control characters (and line breaks, unless `multiline`) with a clear message."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, form, field):
        value = field.data
        if not isinstance(value, str):
            return
        if has_control_characters(value, self.multiline):
            raise StopValidation(CONTROL_MESSAGE)


class GuardedTextMeta:
    """Form meta that puts NoControlCharacters first on every text-like field (StringField and its kinds)."""

    def bind_field(self, form, unbound_field, options):
        """Bind the field as usual; a text field also gets the guard before its own validators."""
        field = super().bind_field(form, unbound_field, options)
        if isinstance(field, StringField):
            field.validators = [NoControlCharacters(multiline=isinstance(field, TextAreaField)),
                                *field.validators]
        return field


class AppForm(FlaskForm):
    """The base of every form of the app: a FlaskForm (CSRF) whose text fields refuse control characters."""

    class Meta(GuardedTextMeta):
        pass


class AppSubForm(WTForm):
    """The base of the forms nested in another (FormField, FieldList): the same guard, no CSRF of its own."""

    class Meta(GuardedTextMeta):
        pass


def apply_domain_error(form, exc: DomainError, aliases: dict | None = None, place=None) -> None:
    """Put a domain error's field messages on the matching form fields, else on the form itself.

    `place(fields)`, when given, first puts the messages of fields it knows (lines of a multi-line
    form, say) beside their inputs and returns the names it placed; the others go as usual.
    """
    placed_names = set(place(exc.fields)) if place else set()
    placed = bool(placed_names)
    for name, messages in exc.fields.items():
        if name in placed_names:
            continue
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
            placed = True
    if not placed:
        form.form_errors.append(exc.message)


def submit(form, action, aliases: dict | None = None, place=None):
    """On a valid POST run `action()` and commit; return its result, or None (errors are on the form).

    A DomainError rolls the transaction back whole and is shown beside the fields it names; its
    status (409 for a conflict, ...) is kept on the form for `form_status`, and a conflict's message
    is also shown above the form, since the fields it names may not say what happened.
    """
    if not form.validate_on_submit():
        return None
    try:
        result = action()
        commit()
    except DomainError as exc:
        db.session.rollback()
        apply_domain_error(form, exc, aliases, place)
        form.error_status = exc.status
        if exc.status == 409 and exc.message not in form.form_errors:
            form.form_errors.append(exc.message)
        return None
    return result if result is not None else True


def form_status(*forms, invalid: int = 400) -> int:
    """The status of a page re-showing `forms`: a domain error's own (409, ...), `invalid` for field
    errors, else 200 (so a failed submit is not a success to tools)."""
    shown = [f for f in forms if f is not None]
    for form in shown:
        if getattr(form, "error_status", None):
            return form.error_status
    return invalid if any(f.errors or f.form_errors for f in shown) else 200
