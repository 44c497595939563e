"""A one-sheet xlsx written as a stream: the zip goes out while rows are read.

openpyxl's write-only workbook still saves to a file before anything can be
sent; here the worksheet XML is generated row by row into a deflated zip
member, and the zip (``zipfile`` on an unseekable sink, so each member ends
with a data descriptor instead of a header rewritten in place) is yielded as
it is produced. The first bytes leave before the first row is read.

What the sheet holds: a bold, filled header row, frozen; column widths; an
autofilter over the rows; strings inline (never formulas: a value starting
with ``=`` stays text); ints and floats as numbers; dates and datetimes as
serial numbers styled ``yyyy-mm-dd`` / ``yyyy-mm-dd h:mm:ss`` (naive: local
time is the caller's business); ``None`` as no cell.
"""

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

# Characters XML 1.0 does not allow (openpyxl drops the same ones).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_EPOCH = date(1899, 12, 30)
_EPOCH_ORDINAL = _EPOCH.toordinal()
# cellXfs indexes in STYLES
_DATE, _DATETIME, _HEADER = 1, 2, 3
COMPRESS_LEVEL = 4  # zlib: about level 6's size here, at a fraction of its CPU

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="{_PKG}/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"""  # noqa: E501
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"""  # noqa: E501
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>"""  # noqa: E501
STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{_NS}"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="00DDEBF7"/><bgColor indexed="64"/></patternFill></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""  # noqa: E501


def _workbook(sheet: str) -> str:
    name = escape(sheet, {'"': "&quot;"})
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><bookViews><workbookView activeTab="0"/>'
        f'</bookViews><sheets><sheet name="{name}" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>'
    )


_NEEDS_WORK = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")
_TEXT_CACHE: dict[str, str] = {}  # labels, unit names, campaigns repeat row after row
_TEXT_CACHE_MAX = 4096
_STRING_MAX_CACHED = 64


def _text(value: str) -> str:
    """A string's inline-string XML: escaped, XML-illegal characters dropped."""
    if _NEEDS_WORK.search(value):
        value = escape(_ILLEGAL.sub("", value))
    if value[:1].isspace() or value[-1:].isspace():
        return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


def _string_cell(ref: str, value: str) -> str:
    if len(value) > _STRING_MAX_CACHED:
        return f'<c r="{ref}" t="inlineStr">{_text(value)}</c>'
    xml = _TEXT_CACHE.get(value)
    if xml is None:
        if len(_TEXT_CACHE) >= _TEXT_CACHE_MAX:
            _TEXT_CACHE.clear()
        xml = _TEXT_CACHE[value] = _text(value)
    return f'<c r="{ref}" t="inlineStr">{xml}</c>'


def _cell(ref: str, value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string_cell(ref, value)
    if kind is int or kind is float:
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if kind is datetime:
        day = value.toordinal() - _EPOCH_ORDINAL
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        serial = day + (seconds + value.microsecond / 1e6) / 86400
        return f'<c r="{ref}" s="{_DATETIME}"><v>{serial!r}</v></c>'
    if kind is date:
        return f'<c r="{ref}" s="{_DATE}"><v>{value.toordinal() - _EPOCH_ORDINAL}</v></c>'
    if kind is bool:
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    return _cell(ref, str(value))


class _Sink:
    """Where the zip is written: collects bytes until ``take``. It cannot seek
    (no ``seek``/``tell``), so ``zipfile`` writes data descriptors."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Part of the file protocol ``zipfile`` asks for; it never calls it on a passed file."""

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def xlsx_stream(
    sheet: str,
    header: Sequence[str],
    widths: Sequence[float],
    batches: Iterable[Iterable[Sequence[Any]]],
) -> Iterator[bytes]:
    """The workbook's bytes, a chunk per batch of rows (and one before the first)."""
    letters = [get_column_letter(i) for i in range(1, len(header) + 1)]
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", _workbook(sheet))
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", STYLES)
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
            for i, w in enumerate(widths, start=1)
        )
        head = "".join(
            f'<c r="{letter}1" s="{_HEADER}" t="inlineStr">{_text(text)}</c>'
            for letter, text in zip(letters, header, strict=True)
        )
        with zf.open("xl/worksheets/sheet1.xml", "w") as out:
            out.write(
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<worksheet xmlns="{_NS}" xmlns:r="{_REL}"><sheetViews>'
                '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" '
                'activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
                f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
                f'<row r="1">{head}</row>'.encode()
            )
            yield sink.take()
            n = 1
            for batch in batches:
                parts = []
                for values in batch:
                    n += 1
                    r = str(n)
                    parts.append(f'<row r="{r}">')
                    parts.extend(
                        _cell(letter + r, v)
                        for letter, v in zip(letters, values, strict=True)
                        if v is not None
                    )
                    parts.append("</row>")
                out.write("".join(parts).encode())
                if chunk := sink.take():
                    yield chunk
            out.write(
                f'</sheetData><autoFilter ref="A1:{letters[-1]}{n}"/>'
                '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
                'footer="0.5"/></worksheet>'.encode()
            )
    yield sink.take()
