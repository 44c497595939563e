"""Hostile files, generated: an xlsx whose shared strings unpack to gigabytes, and
a large legitimate ledger. (Shared by the tests and bench/hostile_rss.py.)"""

import io
import zipfile
import zlib

from openpyxl import Workbook

MB = 1 << 20


def _deflate_repeated(prefix: bytes, block: bytes, times: int, suffix: bytes) -> bytes:
    """Raw deflate of prefix + block*times + suffix, made in milliseconds: ``block``
    is compressed once up to a full flush (byte-aligned, no back references), so
    its compressed form can simply be repeated."""

    def flushed(data: bytes) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    return flushed(prefix) + flushed(block) * times + end.compress(suffix) + end.flush()


def xlsx_bomb(unpacked: int = 2 << 30) -> bytes:
    """A valid xlsx (a header row 标题/来源 referring to shared strings) whose
    ``xl/sharedStrings.xml`` holds one string of ``unpacked`` bytes."""
    wb = Workbook()
    wb.active.append(["标题", "来源"])
    wb.active.append(["x", "审计"])
    plain = io.BytesIO()
    wb.save(plain)
    prefix = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        b'uniqueCount="1"><si><t>'
    )
    suffix = b"</t></si></sst>"
    block = b"A" * MB
    times = max(1, (unpacked - len(prefix) - len(suffix)) // MB)
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + times * MB + len(suffix)
    deflated = _deflate_repeated(prefix, block, times, suffix)

    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "xl/sharedStrings.xml":
                dst.writestr(info.filename, src.read(info.filename))
        bomb = zipfile.ZipInfo("xl/sharedStrings.xml", date_time=(2026, 1, 1, 0, 0, 0))
        bomb.compress_type = zipfile.ZIP_DEFLATED
        bomb.CRC, bomb.file_size, bomb.compress_size = crc, size, len(deflated)
        bomb.header_offset = dst.fp.tell()
        dst.fp.write(bomb.FileHeader())
        dst.fp.write(deflated)
        dst.filelist.append(bomb)
        dst.NameToInfo[bomb.filename] = bomb
        dst.start_dir = dst.fp.tell()
    return out.getvalue()


def ledger_xlsx(rows: int, unit: str | None = None, due: str | None = None) -> bytes:
    """A ledger of ``rows`` valid rows (write-only workbook: fast, small)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    header = ["标题", "来源", "严重程度"] + (["责任单位", "整改时限"] if unit else [])
    ws.append(header)
    for n in range(rows):
        row = [f"问题{n}", "审计", "一般"] + ([unit, due] if unit else [])
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
