"""Permission checks for views: by permission code, never by role name."""

from functools import wraps

from flask_login import current_user, login_required

from dms.core.errors import Forbidden


def require_permission(*codes: str):
    """Let the view run only for a logged-in user holding every one of `codes` (else 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not all(current_user.can(code) for code in codes):
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapper

    return decorator
