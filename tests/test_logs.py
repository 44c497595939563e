import json
import logging

from app.logs import JsonFormatter


def test_json_log_lines_keep_chinese_and_exceptions():
    try:
        raise ValueError("坏了")
    except ValueError:
        record = logging.LogRecord(
            "rectify",
            logging.ERROR,
            __file__,
            1,
            "扫描失败 %s",
            ("x",),
            exc_info=__import__("sys").exc_info(),
        )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "扫描失败 x" and entry["level"] == "error"
    assert "坏了" in entry["exception"] and "扫描失败" in line
