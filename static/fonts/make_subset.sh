#!/usr/bin/env bash
# Rebuild static/fonts/NotoSansSC-DMS-Regular.otf, the CJK font printed reports embed, from the
# system's Noto Sans CJK SC (Debian: fonts-noto-cjk). Needs only fontTools (in requirements via
# weasyprint). Run from the repository root: static/fonts/make_subset.sh [path/to/NotoSansCJK-Regular.ttc]
set -euo pipefail
source_font="${1:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}"
bin="${BIN:-.venv/bin}"
out="static/fonts/NotoSansSC-DMS-Regular.otf"
chars="$(mktemp)"
trap 'rm -f "$chars"' EXIT
"$bin/python" - "$chars" <<'PY'
import sys

chars = set()
ranges = [(0x20, 0x7E), (0xA0, 0xFF),  # ASCII, Latin-1 (¥ × · ° ±)
          (0x2000, 0x206F), (0x20A0, 0x20BF), (0x2100, 0x214F), (0x2150, 0x218F), (0x2190, 0x21FF),
          (0x2200, 0x22FF), (0x2460, 0x24FF), (0x2500, 0x257F), (0x25A0, 0x25FF), (0x2600, 0x26FF),
          (0x3000, 0x303F), (0x3200, 0x32FF),  # CJK symbols and punctuation, enclosed CJK
          (0xFE30, 0xFE4F), (0xFF00, 0xFFEF)]  # CJK compatibility forms, full-width forms
for low, high in ranges:
    chars.update(map(chr, range(low, high + 1)))
for first in range(0xA1, 0xF8):  # every GB2312 character: its symbols and its 6,763 hanzi
    for second in range(0xA1, 0xFF):
        try:
            chars.add(bytes([first, second]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("".join(sorted(chars)))
PY
index="$("$bin/python" -c "
import sys
from fontTools.ttLib import TTCollection
names = [f['name'].getDebugName(6) for f in TTCollection(sys.argv[1]).fonts]
print(names.index('NotoSansCJKsc-Regular'))" "$source_font")"
"$bin/pyftsubset" "$source_font" --font-number="$index" --text-file="$chars" --output-file="$out" \
  --layout-features='*' --name-IDs='*' --name-languages='*' --notdef-outline --no-hinting
ls -l "$out"
