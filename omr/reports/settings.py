"""How a unit signs and sends its PDF report (Nghị định 30/2020/NĐ-CP, Phụ lục I and III).

Stored per unit in ``unit_report_settings`` (``omr units set CODE --signer-name … --sign-as kt …``);
every value has a default drawn from the unit itself, so a unit that set nothing still gets a report
in the official form:

- the place of the date line is the administrative place ("Kiến Hưng"), never a school's name: a
  service point takes the place of the ward or commune it belongs to;
- a People's Committee signs collectively: "TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH", "TM. ỦY BAN NHÂN DÂN /
  KT. CHỦ TỊCH / PHÓ CHỦ TỊCH" for a deputy, "TM. ỦY BAN NHÂN DÂN / Q. CHỦ TỊCH" for an acting
  chairman; another office signs with its head's title alone;
- "Nơi nhận:" ends with "Lưu: VT." (the decree's archive line), added when missing.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from omr.services import ServiceError

if TYPE_CHECKING:  # the parser of ``omr units set`` is built on every command: no database modules for it
    from sqlalchemy.orm import Session

    from db.models import Unit, UnitReportSettings

ADMIN_KINDS = ("province", "ward", "commune", "special")
SIGN_AS = ("tm", "kt", "q", "none")
COLLECTIVE = "ỦY BAN NHÂN DÂN"
HEAD = "CHỦ TỊCH"
DEPUTY = "PHÓ CHỦ TỊCH"
ARCHIVE = "Lưu: VT."
_PREFIXES = ("Thành phố ", "Tỉnh ", "Phường ", "Xã ", "Đặc khu ", "Thị trấn ", "Quận ", "Huyện ")


@dataclass
class ReportSettings:
    place: str
    plan: str | None
    sign_as: str
    signer_title: str
    signer_name: str | None
    symbol: str
    recipients: list[str] = field(default_factory=list)
    main_form: str | None = None
    collective: str = COLLECTIVE

    def signature_lines(self) -> list[str]:
        """The authority lines above the signature, in capitals as the decree writes them."""
        title = self.signer_title.upper()
        if self.sign_as == "tm":
            return [f"TM. {self.collective}", title]
        if self.sign_as == "kt":
            return [f"TM. {self.collective}", f"KT. {HEAD}", title]
        if self.sign_as == "q":
            return [f"TM. {self.collective}", f"Q. {title}"]
        return [title]

    def recipient_lines(self) -> list[str]:
        lines = [r.strip() for r in self.recipients if r.strip()]
        if not any(r.startswith("Lưu") for r in lines):
            lines.append(ARCHIVE)
        return lines

    def as_dict(self) -> dict:
        return asdict(self)


def place_of(name: str) -> str:
    """The place in an administrative name: "Phường Kiến Hưng" -> "Kiến Hưng"."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _admin_ancestor(session: Session, unit: Unit) -> Unit | None:
    """The unit itself if it is an administrative division, else the nearest one above it."""
    from db.models import Unit

    seen: set[str] = set()
    u: Unit | None = unit
    while u is not None and u.code not in seen:
        if u.kind in ADMIN_KINDS:
            return u
        seen.add(u.code)
        u = session.get(Unit, u.parent_code) if u.parent_code else None
    return None


def defaults(session: Session, unit: Unit | None) -> ReportSettings:
    from db.models import Unit

    if unit is None:  # the whole installation: no issuing office of its own
        return ReportSettings("", None, "none", "THỦ TRƯỞNG ĐƠN VỊ", None, "BC")
    admin = _admin_ancestor(session, unit)
    if admin is None:
        place = ""
    elif admin is unit:
        place = place_of(unit.name)
    else:  # the place the ward or commune itself writes (configured or not)
        place = load(session, admin.code).place
    parent = session.get(Unit, unit.parent_code) if unit.parent_code else None
    recipients = []
    if parent is not None:
        above = f"UBND {parent.name}" if parent.kind in ADMIN_KINDS else parent.name
        recipients.append(f"{above} (để báo cáo);")
    if unit.kind in ADMIN_KINDS:
        return ReportSettings(place, None, "tm", HEAD, None, "BC-UBND", recipients)
    return ReportSettings(place, None, "none", "THỦ TRƯỞNG ĐƠN VỊ", None, "BC", recipients)


def load(session: Session, unit_code: str | None) -> ReportSettings:
    """The unit's settings, each value not set taken from ``defaults``."""
    from db.models import Unit, UnitReportSettings

    unit = session.get(Unit, unit_code) if unit_code else None
    s = defaults(session, unit)
    row = session.get(UnitReportSettings, unit_code) if unit_code else None
    if row is None:
        return s
    if row.sign_as:
        s.sign_as = row.sign_as
        if row.sign_as == "kt":
            s.signer_title = DEPUTY
    for name in ("place", "plan", "signer_title", "signer_name", "symbol", "main_form"):
        if (value := getattr(row, name)) is not None:
            setattr(s, name, value)
    if row.recipients is not None:
        s.recipients = list(row.recipients)
    return s


# --------------------------------------------------------------------------- omr units set


def add_options(parser: argparse.ArgumentParser) -> None:
    """The report options of ``omr units set``."""
    g = parser.add_argument_group("báo cáo PDF (Nghị định 30/2020/NĐ-CP)")
    g.add_argument("--place", help="địa danh ở dòng ngày tháng, ví dụ: Kiến Hưng")
    g.add_argument("--plan", help="kế hoạch được thực hiện, ví dụ: Kế hoạch số 125/KH-UBND ngày 02/7/2020 của …")
    g.add_argument("--sign-as", choices=SIGN_AS, help="thẩm quyền ký: tm (TM.), kt (KT.), q (Q.), none")
    g.add_argument("--signer-title", help="chức vụ người ký, ví dụ: CHỦ TỊCH, PHÓ CHỦ TỊCH, HIỆU TRƯỞNG")
    g.add_argument("--signer-name", help="họ tên người ký")
    g.add_argument("--symbol", help="ký hiệu văn bản sau số, ví dụ: BC-UBND")
    g.add_argument(
        "--recipient", action="append", help='một dòng “Nơi nhận” (lặp lại cho nhiều dòng; "" để xóa danh sách)'
    )
    g.add_argument("--main-form", help="mẫu phiếu chính, trình bày đầu tiên")


_TEXT_OPTIONS = ("place", "plan", "signer_title", "signer_name", "symbol", "main_form")


def apply_options(session: Session, unit: Unit, args: argparse.Namespace) -> dict | None:
    """Store the report options given on the command line; returns (old, new) for the audit log,
    or None when none was given. An empty value ("") clears a setting back to its default."""
    from db.models import UnitReportSettings

    given = {n: getattr(args, n, None) for n in (*_TEXT_OPTIONS, "sign_as", "recipient")}
    if all(v is None for v in given.values()):
        return None
    row = session.get(UnitReportSettings, unit.code)
    if row is None:
        row = UnitReportSettings(unit_code=unit.code)
        session.add(row)
    old = _row_dict(row)
    for name in _TEXT_OPTIONS:
        value = given[name]
        if value is None:
            continue
        value = " ".join(value.split())
        if len(value) > (2000 if name == "plan" else 100):
            raise ServiceError(f"giá trị của --{name.replace('_', '-')} quá dài")
        if name == "main_form" and value:
            from omr.sheet.templates import UnknownForm, get_form

            try:
                get_form(value)
            except UnknownForm as e:
                raise ServiceError(str(e)) from e
        if name == "plan":
            value = value.removeprefix("Thực hiện ").strip().rstrip(",")
        setattr(row, name, value or None)
    if given["sign_as"] is not None:
        row.sign_as = given["sign_as"]
    if given["recipient"] is not None:
        lines = [" ".join(r.split()).lstrip("-").strip() for r in given["recipient"]]
        row.recipients = [r for r in lines if r] or None
    return {"old": old, "new": _row_dict(row)}


def _row_dict(row: UnitReportSettings) -> dict:
    return {n: getattr(row, n) for n in (*_TEXT_OPTIONS, "sign_as", "recipients")}
