"""PDF reports: HTML to PDF with WeasyPrint, a fetcher that reads only the app's static files, atomic files.

Report HTML is rendered from our templates, but it carries data that users typed (names, reasons), so
nothing in it may make the renderer read a file or call an address: the fetcher serves `file:` URLs
inside the static folder and refuses everything else (other files, http(s), data:, ftp), and a refused
resource is simply left out of the document. Reports are written to a deterministic path under the
instance folder (`<instance>/reports/<kind>/<name>.pdf`, or REPORT_FOLDER), replaced atomically, so a
retried job overwrites its own file and a reader never sees half of one.
"""

import logging
import mimetypes
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup

log = logging.getLogger(__name__)
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


class RefusedURL(ValueError):
    """A report tried to load something outside the static folder."""


def _static_root() -> Path:
    return Path(current_app.static_folder).resolve()


def static_base_url() -> str:
    """The base URL report HTML is resolved against: the static folder, so `css/pdf.css` is found."""
    return _static_root().as_uri() + "/"


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serves files under `root` and refuses every other URL (recorded in `refused`)."""

        def __init__(self, root: Path):
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.root = root
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            """The static file a `file:` URL names; RefusedURL for anything else."""
            path = self._static_path(url)
            if path is None:
                self.refused.append(url)
                log.warning("report rendering refused to fetch %.200s", url)
                raise RefusedURL(f"refused: {url[:200]}")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": mime})

        def _static_path(self, url: str) -> Path | None:
            parts = urlsplit(url)
            if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
                return None
            try:
                path = Path(unquote(parts.path)).resolve()
            except (OSError, ValueError):
                return None
            # resolve() follows symlinks, so a link inside static/ cannot point outside it either
            if not path.is_relative_to(self.root) or not path.is_file():
                return None
            return path

    return StaticOnlyFetcher


def static_fetcher():
    """A new fetcher limited to the app's static folder (its `refused` lists what it turned away)."""
    return _fetcher_class()(_static_root())


def render_pdf(html: str, fetcher=None) -> bytes:
    """The PDF of an HTML document; relative URLs resolve in the static folder, nothing else is fetched."""
    return render_pdf_document(html, fetcher)[0]


def render_pdf_document(html: str, fetcher=None) -> tuple[bytes, int]:
    """The PDF of an HTML document and its number of pages (same rules as render_pdf)."""
    from weasyprint import HTML

    fetcher = fetcher or static_fetcher()
    document = HTML(string=html, base_url=static_base_url(), url_fetcher=fetcher).render()
    return document.write_pdf(), len(document.pages)


def static_url(filename: str) -> str | None:
    """A relative URL (for report HTML) of a file in the static folder, or None when it is not there."""
    path = (_static_root() / filename).resolve()
    if not path.is_relative_to(_static_root()) or not path.is_file():
        return None
    return filename


def _css_string(text: str) -> str:
    """A CSS string literal of `text` (quotes, backslashes and angle brackets escaped: safe in <style>)."""
    escaped = "".join(f"\\{ord(c):x} " if c in '"\\<>\n\r' else c for c in text)
    return f'"{escaped}"'


def page_counter_css() -> Markup:
    """The CSS `content` of a page footer: "Page 1 of 3" (第 1 页，共 3 页) in the current language."""
    label = _("Page %(page)s of %(pages)s", page="\x00page\x00", pages="\x00pages\x00")
    parts = []
    for piece in label.split("\x00"):
        if piece in ("page", "pages"):
            parts.append(f"counter({piece})")
        elif piece:
            parts.append(_css_string(piece))
    # Safe: every piece is a counter() or a string literal whose quotes, backslashes and angle brackets are escaped.
    return Markup(" ".join(parts))  # noqa: S704


def report_root() -> Path:
    """Where reports are kept: REPORT_FOLDER, default `<instance>/reports`."""
    return Path(current_app.config.get("REPORT_FOLDER") or os.path.join(current_app.instance_path, "reports"))


def report_path(kind: str, name: str) -> Path:
    """The fixed path of a report: `<reports>/<kind>/<name>.pdf` (plain names only: no folders, no dots first)."""
    for part in (kind, name):
        if not SAFE_NAME.match(part) or ".." in part:
            raise ValueError(f"not a report name: {part!r}")
    return report_root() / kind / f"{name}.pdf"


def write_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and os.replace; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)  # readers see the old file or the new one, never half of one
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return path


PDF_FONT_FAMILY = "DMS Sans SC, Noto Sans CJK SC, sans-serif"  # static/css/pdf.css's @font-face first


def print_svg(svg) -> Markup:
    """An inline SVG chart with the report font named on its root (WeasyPrint's SVG text ignores page CSS)."""
    text = str(svg)
    if text.startswith("<svg ") and "font-family=" not in text.split(">", 1)[0]:
        text = f'<svg font-family="{PDF_FONT_FAMILY}" ' + text[len("<svg "):]
    # Safe: the input is already markup (a chart from dms.core.charts); only a constant attribute is added.
    return Markup(text)  # noqa: S704
