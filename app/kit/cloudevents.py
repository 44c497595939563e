"""The CloudEvents 1.0 JSON envelope of every event the service sends or serves."""

from datetime import datetime

SOURCE = "/rectify"


def envelope(event_id: str, type_: str, time: datetime, subject: str, data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": type_,
        "time": time.isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }
