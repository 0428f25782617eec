"""Every translatable string in the code and templates has a Chinese translation (zh_CN is the default)."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHOD_MAP = [("dms/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), METHOD_MAP, keywords=KEYWORDS, options_map={"templates/**.html": {}}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(locale: str):
    with open(ROOT / "dms" / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def forms(text) -> list[str]:
    """A message's id or translation as a list: one entry, or one per plural form."""
    return list(text) if isinstance(text, (list, tuple)) else [text or ""]


def translated(message) -> bool:
    """True when every form of the message has a translation that is not fuzzy."""
    return message is not None and not message.fuzzy and all(forms(message.string))


def test_every_source_string_is_translated_to_chinese():
    messages = source_messages()
    assert len(messages) > 150
    zh = catalog("zh_Hans_CN")
    missing = sorted(m for m in messages if not translated(zh.get(m)))
    assert not missing, f"{len(missing)} string(s) lack a zh_CN translation, e.g. {missing[:5]}"


def test_english_catalog_covers_every_string():
    messages = source_messages()
    en = catalog("en")
    assert not sorted(m for m in messages if en.get(m) is None)


def test_placeholders_survive_translation():
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message in catalog("zh_Hans_CN"):
        if message.id and translated(message):
            expected = {p for text in forms(message.id) for p in placeholder.findall(text)}
            for text in forms(message.string):  # Chinese has one plural form: it carries every placeholder
                assert set(placeholder.findall(text)) == expected, message.id
