"""Fill empty msgstr entries of a .po file from a TSV of `msgid<TAB>translation` lines.

Usage: python scripts/fill_po.py locale/en/LC_MESSAGES/django.po locale/en/translations.tsv [more.tsv ...]
Each module may keep its own TSV (locale/en/<module>.tsv); the Makefile passes them all.
Existing translations are kept; plural entries are left alone. Prints what is still untranslated.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"$')


def unquote(s: str) -> str:
    return s.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _parts(lines: list[str], prefix: str) -> list[str]:
    found = []
    for line in lines:
        match = STRING.match(line.removeprefix(prefix))
        if match:
            found.append(unquote(match.group(1)))
    return found


def main(po_path: Path, *tsv_paths: Path) -> int:
    table: dict[str, str] = {}
    for tsv_path in tsv_paths:
        lines = tsv_path.read_text(encoding="utf-8").splitlines()
        table.update(line.split("\t", 1) for line in lines if "\t" in line)
    blocks = po_path.read_text(encoding="utf-8").split("\n\n")
    missing: list[str] = []
    out = []
    for block in blocks:
        lines = block.split("\n")
        try:
            i = next(n for n, line in enumerate(lines) if line.startswith("msgid "))
            j = next(n for n, line in enumerate(lines) if line.startswith("msgstr "))
        except StopIteration:  # header comments, plural entries
            out.append(block)
            continue
        msgid = "".join(_parts(lines[i:j], "msgid "))
        current = "".join(_parts(lines[j:], "msgstr "))
        if msgid and not current:
            if msgid in table:
                lines = [*lines[:j], f'msgstr "{quote(table[msgid])}"']
                lines = [line for line in lines if line != "#, fuzzy"]
            else:
                missing.append(msgid)
        out.append("\n".join(lines))
    po_path.write_text("\n\n".join(out), encoding="utf-8")
    print(f"untranslated: {len(missing)}")
    for m in missing:
        print("  ", m)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), *(Path(a) for a in sys.argv[2:])))
