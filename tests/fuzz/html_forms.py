"""Read the forms of an HTML page as a browser would submit them: each form's action and its default values."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse


@dataclass
class PageForm:
    """One <form>: where it posts, its submitted defaults (name -> list of values) and its select options."""

    action: str
    method: str
    values: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)


class _Parser(HTMLParser):
    """Collects forms; inputs, selects and textareas outside any form are ignored."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[PageForm] = []
        self.form: PageForm | None = None
        self.select: str | None = None
        self.select_chosen = False
        self.option_value: str | None = None
        self.option_text = ""
        self.textarea: str | None = None
        self.textarea_text = ""

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            action = a.get("action") or a.get("hx-post") or self.page_url
            self.form = PageForm(action=urlparse(urljoin(self.page_url, action)).path,
                                 method=(a.get("method") or ("post" if "hx-post" in a else "get")).lower())
            self.forms.append(self.form)
            return
        if self.form is None or "name" not in a and tag != "option":
            return
        name = a.get("name", "")
        if tag == "input":
            kind = a.get("type", "text").lower()
            self.form.names.add(name)
            if kind == "hidden":
                self.form.hidden.add(name)  # no place beside it for a message
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.form.values.setdefault(name, []).append(a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "textarea":
            self.form.names.add(name)
            self.textarea, self.textarea_text = name, ""
        elif tag == "select":
            self.form.names.add(name)
            self.select, self.select_chosen = name, False
            self.form.options[name] = []
        elif tag == "option" and self.select is not None:
            self.option_value = a.get("value")
            self.option_text = ""
            if self.option_value is not None:
                self._option(self.option_value, "selected" in a)
            else:
                self._pending_selected = "selected" in a

    def _option(self, value: str, selected: bool):
        self.form.options[self.select].append(value)
        if selected:
            self.form.values[self.select] = [value]
            self.select_chosen = True
        elif not self.select_chosen and self.select not in self.form.values:
            self.form.values[self.select] = [value]  # a browser submits the first option when none is selected

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea_text += data
        if self.select is not None and self.option_value is None:
            self.option_text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "textarea" and self.textarea is not None and self.form is not None:
            self.form.values[self.textarea] = [self.textarea_text.removeprefix("\n")]
            self.textarea = None
        elif tag == "option" and self.select is not None and self.option_value is None:
            self._option(self.option_text.strip(), getattr(self, "_pending_selected", False))
            self.option_value = ""
        elif tag == "select":
            self.select = None


def page_forms(html: str, page_url: str) -> list[PageForm]:
    """Every form of the page, in document order."""
    parser = _Parser(page_url)
    parser.feed(html)
    return parser.forms


def find_form(html: str, page_url: str, action: str, names: set[str]) -> PageForm:
    """The POST form of the page aimed at `action` that holds most of `names` (a form class's field names)."""
    forms = [f for f in page_forms(html, page_url) if f.method == "post" and f.action == urlparse(action).path]
    if not forms:
        found = sorted({f.action for f in page_forms(html, page_url)})
        raise AssertionError(f"no POST form aimed at {action} on {page_url}; forms there post to {found}")
    return max(forms, key=lambda f: len(f.names & names))
