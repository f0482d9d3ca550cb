"""What a sheet's QR code says, and its signature.

The payload is short, plain text so that a small QR symbol (easy to read at 150 dpi) holds it:

    HL1|kien-hung-2020|1|09552|000123|1|c6p0|K3F7Q2M9WX4TZB5A

fields: magic+format version, form id, form version, unit code, sheet serial, page number within
the sheet, layout variant (see ``omr.sheet.templates.Variant``), and a MAC over everything before it made
with this installation's secret key. A photocopy of a real sheet carries a valid MAC (it is caught as
a duplicate serial instead); a sheet whose code was altered or made elsewhere does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

MAGIC = "HL1"
SIGNATURE_CHARS = 16  # 80 bits of HMAC-SHA256, base32


@dataclass(frozen=True)
class SheetIdentity:
    form: str
    version: int
    unit: str
    serial: str
    page: int
    variant: str

    def body(self) -> str:
        return "|".join([MAGIC, self.form, str(self.version), self.unit, self.serial, str(self.page), self.variant])


class BadPayload(ValueError):
    """The text is not one of our sheet codes at all."""


def sign(identity: SheetIdentity, key: bytes) -> str:
    mac = hmac.new(key, identity.body().encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:SIGNATURE_CHARS]


def encode(identity: SheetIdentity, key: bytes) -> str:
    return f"{identity.body()}|{sign(identity, key)}"


def decode(text: str) -> tuple[SheetIdentity, str]:
    """Split a payload into identity and signature; raises BadPayload if it is not ours."""
    parts = text.split("|")
    if len(parts) != 8 or parts[0] != MAGIC:
        raise BadPayload(f"mã QR không phải của phiếu khảo sát: {text[:40]!r}")
    _, form, version, unit, serial, page, variant, sig = parts
    if not (version.isdigit() and page.isdigit() and serial.isdigit()):
        raise BadPayload(f"mã QR sai định dạng: {text[:40]!r}")
    return SheetIdentity(form, int(version), unit, serial, int(page), variant), sig


def verify(identity: SheetIdentity, signature: str, key: bytes) -> bool:
    return hmac.compare_digest(sign(identity, key), signature)
