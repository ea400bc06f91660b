"""Fill empty msgstr entries of a .po file from a TSV of `msgid<TAB>translation` lines.

Usage: python scripts/fill_po.py locale/en/LC_MESSAGES/django.po translations.tsv
Only single-line msgids are matched; existing translations are kept.
"""

import re
import sys
from pathlib import Path

po_path, tsv_path = Path(sys.argv[1]), Path(sys.argv[2])
table = dict(line.split("\t", 1) for line in tsv_path.read_text(encoding="utf-8").splitlines() if "\t" in line)


def esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def fill(match: re.Match) -> str:
    msgid = match.group(1).replace('\\"', '"')
    tr = table.get(msgid)
    return f'msgid "{match.group(1)}"\nmsgstr "{esc(tr)}"' if tr else match.group(0)


text = po_path.read_text(encoding="utf-8")
text = re.sub(r'msgid "((?:[^"\\]|\\.)+)"\nmsgstr ""(?!\n")', fill, text)
text = text.replace("#, fuzzy\n", "", 1)
po_path.write_text(text, encoding="utf-8")
missing = re.findall(r'msgid "((?:[^"\\]|\\.)+)"\nmsgstr ""(?!\n")', text)
print(f"untranslated: {len(missing)}")
for m in missing:
    print("  ", m)
