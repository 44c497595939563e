"""外部编号 (``external_ref``) in one written form, so that uniqueness means one order.

Refs are typed by people with Chinese input methods or pasted from other
systems: "HX-2026-０００１" (full-width digits), "ＨＸ-2026-0001", "HX‐2026‐0001"
(a Unicode hyphen), a trailing zero-width space, "é" composed or not. Each is
the same order number to a reader and must not be a second item. The canonical
form: NFKC (full-width to ASCII, composed characters), every dash-like
character a "-", no format characters (zero-width spaces and joiners, BOMs,
direction marks), no surrounding space; empty means none.
"""

import re
import unicodedata

_DASHES = re.compile("[\u2010-\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d]")


def canonical_ref(value: str | None) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return _DASHES.sub("-", text).strip() or None
