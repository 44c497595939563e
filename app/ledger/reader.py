"""Reading an uploaded ledger file: xlsx or csv -> numbered rows of the known columns.

The format is sniffed from the bytes (an xlsx is a zip; anything else must
decode as text: UTF-8 with or without BOM, GB18030, which is what Excel in
Chinese saves as "CSV", or UTF-16 with BOM, its "Unicode text"). The header
row is the first row naming at least two known columns, so title rows above
it (merged or not) are skipped. Row numbers are the sheet's own, 1-based, as
the user sees them in Excel.

Workbooks are read with python-calamine (a Rust reader, several times
faster than openpyxl). A sheet with formulas falls back to openpyxl: formula
cells are read as the value the spreadsheet program cached when it saved the
file (``data_only``), nothing is ever evaluated, and a formula with no cached
value -- which calamine cannot tell from an empty cell -- is reported as an
error of that cell.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError, iterparse

from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.exceptions import InvalidFileException
from python_calamine import CalamineError, CalamineWorkbook

from app.errors import Invalid
from app.ledger.columns import IMPORTED_KEYS, MATCH_KEYS, ZH_OF, header_key

HEADER_SEARCH_ROWS = 30
SCANNED_ROWS_FACTOR = 4
TITLE_KEYS = ("title", "description")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s/>]")
_NOT_XLSX, _NOT_XLSX_ZH = "The file is not a valid .xlsx workbook.", "文件不是有效的 .xlsx 工作簿。"
_DAMAGED = "The .xlsx workbook is damaged and cannot be read."
_DAMAGED_ZH = "该 .xlsx 工作簿已损坏，无法读取。"


@dataclass(frozen=True)
class CellError:
    """A cell whose value cannot be used (an Excel error or an uncached formula)."""

    message: str
    zh: str = ""


@dataclass
class LedgerRows:
    """The header row's number and the non-blank data rows: (row number, {key: value})."""

    header_row: int
    columns: dict[str, int]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class FileError(Invalid):
    """A file that is not a usable ledger (422), said in English and Chinese:
    ``in_language`` gives it in the import's ``lang`` (Chinese unless ``lang=en``, as
    its row errors). Its ``errors`` messages are (English, Chinese) pairs."""

    def __init__(self, en: str, zh: str, errors: list[dict] | None = None) -> None:
        self.en, self.zh = en, zh
        self.pairs = errors or [{"row": None, "field": "file", "message": (en, zh)}]
        super().__init__(en, errors=self._errors(0), created=0)

    def _errors(self, which: int) -> list[dict]:
        return [{**e, "message": e["message"][which]} for e in self.pairs]

    def in_language(self, lang: str) -> Invalid:
        which = 0 if lang == "en" else 1
        return Invalid((self.en, self.zh)[which], errors=self._errors(which), created=0)


def file_error(en: str, zh: str) -> FileError:
    return FileError(en, zh)


def read_ledger(
    data: bytes, filename: str | None, max_rows: int, max_inflated: int | None = None
) -> LedgerRows:
    """Parse the upload; raise ``FileError`` (422, in both languages) for anything that is
    not a usable ledger (an xlsx that would unpack to more than ``max_inflated`` bytes
    included)."""
    if not data.strip():
        raise file_error("The file is empty.", "文件为空。")
    name = (filename or "").lower()
    if data.startswith(OLE2_MAGIC) or name.endswith(".xls"):
        raise file_error(
            "Excel 97-2003 (.xls) files are not supported; save the ledger as .xlsx or CSV.",
            "不支持 Excel 97-2003（.xls）文件，请另存为 .xlsx 或 CSV。",
        )
    if data.startswith(b"PK\x03\x04"):
        if max_inflated is not None:
            _check_unpacked_size(data, max_inflated)
        return _read_xlsx(data, max_rows)
    if name.endswith((".xlsx", ".xlsm")):
        raise file_error(_NOT_XLSX, _NOT_XLSX_ZH)
    return _read_csv(data, max_rows)


BOMB_RATIO = 100
"""A member unpacking to more than this many times its packed size (and to more than
``BOMB_FLOOR``) is a zip bomb: a real sheet's XML packs 5-20:1 (every cell names its
own reference), the crafted ones measured 340-1000:1. Refused from the directory,
before parsing: the parser holds the whole sheet (a 60 MB one took 200 MB)."""
BOMB_FLOOR = 4 << 20


def _check_unpacked_size(data: bytes, limit: int) -> None:
    """Refuse a zip whose members would unpack to more than ``limit`` bytes, or one of
    them to ``BOMB_RATIO`` times its packed size (a zip bomb), from its directory
    alone. The sizes it declares hold: ``zipfile`` never returns more than a member's
    declared size (and fails on its checksum)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise file_error(_NOT_XLSX, _NOT_XLSX_ZH) from None
    for info in members:
        if info.file_size > max(BOMB_FLOOR, BOMB_RATIO * info.compress_size):
            ratio = info.file_size // max(info.compress_size, 1)
            raise file_error(
                f"The workbook's {info.filename} unpacks to {ratio} times its packed size, "
                "which no ledger does (a zip bomb); nothing was imported.",
                f"工作簿中的 {info.filename} 解压后是压缩大小的 {ratio} 倍，"
                "正常台账不会如此（疑似压缩炸弹），未导入。",
            )
    unpacked = sum(info.file_size for info in members)
    if unpacked > limit:
        raise file_error(
            f"The workbook unpacks to {unpacked >> 20} MB, more than the {limit >> 20} MB "
            "an import may; split it into smaller files.",
            f"工作簿解压后为 {unpacked >> 20} MB，超过导入上限 {limit >> 20} MB，"
            "请拆分为较小的文件。",
        )


def _collect(numbered: Iterator[tuple[int, list[Any]]], max_rows: int) -> LedgerRows | None:
    """Find the header, then keep the rows with anything in the imported columns (编号
    alone does not count: ``MATCH_KEYS``)."""
    result: LedgerRows | None = None
    for number, values in numbered:
        if number > max_rows * SCANNED_ROWS_FACTOR:
            raise file_error(
                f"The sheet has more than {max_rows * SCANNED_ROWS_FACTOR} rows (blank ones "
                "included); remove the empty rows or split the file.",
                f"工作表超过 {max_rows * SCANNED_ROWS_FACTOR} 行（含空行），请删除空行或拆分文件。",
            )
        if result is None:
            if number > HEADER_SEARCH_ROWS:
                return None
            columns = _header(number, values)
            if columns is not None:
                result = LedgerRows(number, columns)
            continue
        record = {
            key: values[index] if index < len(values) else None
            for key, index in result.columns.items()
        }
        if all(_blank(v) for k, v in record.items() if k not in MATCH_KEYS):
            continue
        if len(result.rows) >= max_rows:
            raise file_error(
                f"The file has more than {max_rows} rows; split it into smaller files.",
                f"文件超过 {max_rows} 行，请拆分为较小的文件。",
            )
        result.rows.append((number, record))
    return result


def _header(number: int, values: list[Any]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    duplicates: list[str] = []
    for index, value in enumerate(values):
        key = header_key(value)
        if key is None:
            continue
        if key in found:
            duplicates.append(key)
        found[key] = index
    if len(found) < 2:
        return None
    if duplicates:
        names = "、".join(ZH_OF[k] for k in dict.fromkeys(duplicates))
        raise FileError(
            f"The header row (row {number}) names a column twice: {names}.",
            f"表头（第 {number} 行）重复列出了：{names}。",
            errors=[
                {
                    "row": number,
                    "field": k,
                    "message": (f"column {ZH_OF[k]} appears twice", f"“{ZH_OF[k]}”列重复"),
                }
                for k in dict.fromkeys(duplicates)
            ],
        )
    if not any(k in found for k in TITLE_KEYS):
        raise FileError(
            f"The header row (row {number}) has no column 标题 (title) or 存在问题 (description).",
            f"表头（第 {number} 行）没有“标题”或“存在问题”列。",
            errors=[
                {
                    "row": number,
                    "field": "title",
                    "message": ("column 标题 is missing", "缺少“标题”列"),
                }
            ],
        )
    return {k: i for k, i in found.items() if k in IMPORTED_KEYS or k in MATCH_KEYS}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _no_header() -> Invalid:
    return file_error(
        f"No header row found in the first {HEADER_SEARCH_ROWS} rows: expected a row naming "
        "at least two ledger columns, e.g. 标题 and 来源 (or title and source).",
        f"前 {HEADER_SEARCH_ROWS} 行中没有表头：表头行应至少列出两个台账列，如“标题”和“来源”。",
    )


def _not_text() -> Invalid:
    return file_error(
        "The file is neither an .xlsx workbook nor CSV text (UTF-8, GB18030 or UTF-16).",
        "文件既不是 .xlsx 工作簿，也不是 CSV 文本（UTF-8、GB18030 或 UTF-16）。",
    )


def _declared(data: bytes, encoding: str, skip: int) -> str:
    """The text of a file whose byte-order mark names its ``encoding``; bytes that are
    not that encoding are the file's error, naming their line (replacing them would
    store U+FFFD in place of the text: "Chinese text round-trips unchanged")."""
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        at = data[skip : skip + exc.start]
        line = (at.count(b"\n") if encoding == "utf-8" else at.decode(encoding).count("\n")) + 1
        name = "UTF-8" if encoding == "utf-8" else "UTF-16"
        raise file_error(
            f"The CSV file starts with a {name} byte-order mark, but line {line} is not "
            f"{name} text; save it again as {name}.",
            f"CSV 文件以 {name} 字节顺序标记开头，但第 {line} 行不是 {name} 文本，"
            f"请重新另存为 {name}。",
        ) from None


def _read_csv(data: bytes, max_rows: int) -> LedgerRows:
    if data.startswith(b"\xef\xbb\xbf"):
        text = _declared(data, "utf-8", 3)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _declared(data, "utf-16", 0)
    elif b"\x00" in data[:65536]:
        raise _not_text()
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise _not_text() from None
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        result = _collect(((n, row) for n, row in enumerate(reader, start=1)), max_rows)
    except csv.Error as exc:
        line, limit = reader.line_num, csv.field_size_limit()
        if "field larger than field limit" in str(exc):
            raise file_error(
                f"Row {line} of the CSV file has a cell of more than {limit} characters.",
                f"CSV 文件第 {line} 行有单元格超过 {limit} 个字符。",
            ) from None
        raise file_error(
            f"The CSV file cannot be read at row {line}: {exc}.",
            f"CSV 文件第 {line} 行无法读取（格式错误）。",
        ) from None
    if result is None:
        raise _no_header()
    return result


def _cell_value(cell, uncached: set[tuple[int, int]]) -> Any:
    value = cell.value
    if value is None:
        position = (getattr(cell, "row", None), getattr(cell, "column", None))
        if position in uncached:
            return CellError(
                "a formula without a saved value; open and save the file in Excel",
                "公式没有保存的结果，请用 Excel 打开并保存后再导入",
            )
        return None
    if cell.data_type == "e":
        return CellError(f"the cell holds the error {value}", f"单元格是错误值 {value}")
    return value


def _read_xlsx(data: bytes, max_rows: int) -> LedgerRows:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            formulas = any(
                _has_formula(archive, name)
                for name in archive.namelist()
                if name.startswith("xl/worksheets/") and name.endswith(".xml")
            )
            active = _active_sheet(archive)
    except (zipfile.BadZipFile, OSError, KeyError):
        raise file_error(_NOT_XLSX, _NOT_XLSX_ZH) from None
    if formulas:
        return _read_xlsx_openpyxl(data, max_rows)
    return _read_xlsx_calamine(data, max_rows, active)


_ACTIVE_TAB = re.compile(rb"<(?:\w+:)?workbookView\b[^>]*\bactiveTab=\"(\d+)\"")


def _active_sheet(archive: zipfile.ZipFile) -> int:
    try:
        with archive.open("xl/workbook.xml") as src:
            match = _ACTIVE_TAB.search(src.read(1 << 20))
    except KeyError:
        return 0
    return int(match.group(1)) if match else 0


def _read_xlsx_calamine(data: bytes, max_rows: int, active: int) -> LedgerRows:
    """The first sheet with a header row, the active one first (as openpyxl reads it)."""
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except (CalamineError, ValueError, OSError):
        raise file_error(_NOT_XLSX, _NOT_XLSX_ZH) from None

    def sheets() -> Iterator[Iterator[tuple[int, list[Any]]]]:
        count = len(wb.sheet_names)
        first = active if active < count else 0
        for index in [first, *(i for i in range(count) if i != first)]:
            sheet = wb.get_sheet_by_index(index)
            top = sheet.start[0] if sheet.start else 0
            yield (
                (top + n, [None if v == "" else v for v in row])
                for n, row in enumerate(sheet.iter_rows(), start=1)
            )

    return _first_sheet_with_header(wb, sheets(), max_rows)


def _read_xlsx_openpyxl(data: bytes, max_rows: int) -> LedgerRows:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError):
        raise file_error(_NOT_XLSX, _NOT_XLSX_ZH) from None
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a broken workbook
        raise file_error(_DAMAGED, _DAMAGED_ZH) from None

    def sheets() -> Iterator[Iterator[tuple[int, list[Any]]]]:
        for ws in [wb.active] + [ws for ws in wb.worksheets if ws is not wb.active]:
            if ws is None or not hasattr(ws, "iter_rows"):
                continue
            ws.reset_dimensions()
            uncached = _uncached_formulas(wb, ws)
            yield (
                (n, [_cell_value(c, uncached) for c in row])
                for n, row in enumerate(ws.iter_rows(), start=1)
            )

    return _first_sheet_with_header(wb, sheets(), max_rows)


def _first_sheet_with_header(
    wb: Any, sheets: Iterator[Iterator[tuple[int, list[Any]]]], max_rows: int
) -> LedgerRows:
    """The rows of the first of ``sheets`` (numbered rows, read lazily) with a header row.

    Both readers share this so that a sheet that breaks while it is read answers 422 the
    same way, and the workbook is closed whatever happens."""
    try:
        for numbered in sheets:
            result = _collect(numbered, max_rows)
            if result is not None:
                return result
    except Invalid:
        raise
    except Exception:  # noqa: BLE001 - a damaged sheet must answer 422, not 500
        raise file_error(_DAMAGED, _DAMAGED_ZH) from None
    finally:
        wb.close()
    raise _no_header()


def _uncached_formulas(wb, ws) -> set[tuple[int, int]]:
    """(row, column) of formula cells saved without a value (openpyxl writes those)."""
    archive, path = getattr(wb, "_archive", None), getattr(ws, "_worksheet_path", None)
    if archive is None or path is None or not _has_formula(archive, path):
        return set()
    found: set[tuple[int, int]] = set()
    try:
        with archive.open(path) as src:
            for _event, element in iterparse(src):
                if not element.tag.endswith("}c") and element.tag != "c":
                    continue
                children = {child.tag.rsplit("}", 1)[-1]: child for child in element}
                value = children.get("v")
                if "f" in children and (value is None or not (value.text or "").strip()):
                    ref = element.get("r")
                    if ref:
                        found.add(coordinate_to_tuple(ref))
                element.clear()
    except (ParseError, KeyError):
        raise file_error(_DAMAGED, _DAMAGED_ZH) from None
    return found


def _has_formula(archive: zipfile.ZipFile, path: str) -> bool:
    tail = b""
    with archive.open(path) as src:
        while chunk := src.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False
