"""Rendering helpers: full page or the page's own fragment for htmx (DESIGN.md convention 3)."""

from flask import make_response, render_template, request


def is_htmx() -> bool:
    """True for an htmx request that is not a history restore (those want the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render(page: str, fragment: str | None = None, /, status: int = 200, **ctx):
    """Render `fragment` for htmx requests aimed at it, else `page`; always `Vary: HX-Request`."""
    template = fragment if (fragment and is_htmx() and not request.headers.get("HX-Boosted")) else page
    response = make_response(render_template(template, **ctx), status)
    response.vary.add("HX-Request")
    return response


def htmx_redirect(url: str):
    """Redirect an htmx request by header (a 3xx would be followed inside the swap)."""
    from flask import redirect

    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)
