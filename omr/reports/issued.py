"""The register of issued reports: what was sent upward, and whether its figures still hold.

Issuing a report (``issue``) computes the tally once (``omr.services.tally.compute``, at a fixed as-of day),
writes the document from that very result through the reports' public entry (``omr.reports.export``),
keeps the file under ``OMR_HOME/issued/`` (it downloads again byte for byte) and records its number
("12/BC-UBND"), date, signer, unit, period, form filter and every figure of the tally.

A later review decision, correction or late scan may change a figure of a report already sent:
``check`` computes the same tally again and compares it with the figures recorded, figure by figure
(``differences``), so the web pages and ``omr export`` can say which report changed and how.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import IssuedReport, Unit, local_today, utcnow
from omr import config
from omr.services import NotFound, ServiceError, audit, tally

ISSUE_FORMATS = ("pdf", "xlsx")
ISSUED_DIR = "issued"
SHOWN_CHANGES = 3  # differences written out in one line; the rest are counted

# the name of each figure of a tally (TallyResult.as_dict keys), as a report writes it
_FIGURES = {
    "responses": "số phiếu",
    "pending_responses": "số phiếu còn câu chờ duyệt",
    "satisfied": "số trả lời hài lòng",
    "answered": "số trả lời",
    "value": "chỉ số hài lòng",
    "previous": "chỉ số kỳ trước",
    "blank": "để trống",
    "pending": "chờ duyệt",
    "count": "số lượt chọn",
    "printed": "phiếu in trong kỳ",
    "returned": "phiếu thu về trong kỳ",
    "year_printed": "phiếu in từ đầu năm",
    "year_returned": "phiếu thu về từ đầu năm",
    "response_rate": "tỉ lệ thu về",
    "yearly_quota": "chỉ tiêu năm",
    "quota_progress": "tiến độ chỉ tiêu năm",
    "period_quota": "chỉ tiêu của kỳ",
    "period_progress": "tiến độ chỉ tiêu của kỳ",
    "comments": "số ý kiến viết tay",
}
# what is not a figure of its own: descriptions, and what follows from the figures kept (shares of
# counts, changes of an index, whether it meets the target) or from the as-of day (always the same)
_NOT_FIGURES = {
    "generated_at",
    "warnings",
    "period",
    "unit",
    "form_id",
    "target",
    "share",
    "change",
    "meets_target",
    "expected_progress",
    "period_expected",
    "quota_applies",
    "version",
    "page",
    "kind",
    "own",
    "element",
    "fields",
}
_CONTAINERS = {"index": None, "sheets": "phiếu", "pages_by_status": "trang quét", "trend": "xu hướng"}
_HEADLINE = ("index/value", "responses", "index/answered")
_IDS = ("form_id", "field", "code", "period", "element", "value")  # what names an item of a list
_NAMES = ("title", "label", "name", "element")


@dataclass
class Change:
    """One figure of an issued report that is no longer what was sent."""

    key: str  # where it sits in the tally: "forms/kien-hung-2020/index/value"
    figure: str  # in words: "Phiếu khảo sát … › chỉ số hài lòng"
    old: Any
    new: Any

    @property
    def text(self) -> str:
        return f"{self.figure}: {_shown(self.old)} → {_shown(self.new)}"


def _shown(v: Any) -> str:
    from omr.reports.fmt import num, pct

    if isinstance(v, float):
        return pct(v)
    return num(v) if isinstance(v, int) or v is None else str(v)


def figures(result: tally.TallyResult) -> dict:
    """What the register keeps of a tally: all of it but the moment it was computed."""
    d = result.as_dict()
    d.pop("generated_at", None)
    return d


def _flatten(d: Any, key: tuple[str, ...] = (), name: tuple[str, ...] = ()) -> dict[str, tuple[str, Any]]:
    """key -> (figure in words, value) for every figure of a tally's ``as_dict``, in reading order."""
    out: dict[str, tuple[str, Any]] = {}
    if isinstance(d, dict):
        k: str  # an as_dict's keys are names
        for k, v in d.items():
            if k in _NOT_FIGURES or k in _NAMES or (k in _IDS and isinstance(v, str)):
                continue
            if isinstance(v, dict | list):
                label = _CONTAINERS.get(k, k if key and key[-1] in ("pages_by_status", "form_index") else None)
                out.update(_flatten(v, (*key, k), (*name, label) if label else name))
            elif v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
                out["/".join((*key, k))] = (_words(name, _FIGURES.get(k, k)), v)
    elif isinstance(d, list):
        for i, item in enumerate(d):
            if not isinstance(item, dict):
                continue
            ident = next((str(item[k]) for k in _IDS if isinstance(item.get(k), str)), str(i))
            label = next((str(item[k]) for k in _NAMES if item.get(k)), ident)
            out.update(_flatten(item, (*key, ident), (*name, label)))
    return out


def _words(name: tuple[str, ...], figure: str) -> str:
    return " › ".join((*name, figure)) if name else figure.capitalize()


def differences(old: dict, new: dict) -> list[Change]:
    """Every figure of ``old`` (an issued report's figures) whose value ``new`` no longer has, and
    every figure only one of them has (a unit or an option that appeared or vanished)."""
    a, b = _flatten(old), _flatten(new)
    changes = []
    for key in list(a) + [k for k in b if k not in a]:
        (fa, va), (fb, vb) = a.get(key, (None, None)), b.get(key, (None, None))
        if va != vb and not (isinstance(va, float) and isinstance(vb, float) and abs(va - vb) < 1e-12):
            changes.append(Change(key, fa or fb or key, va, vb))
    # the headline first: the index, then the number of sheets, then the rest in reading order
    return sorted(changes, key=lambda c: _HEADLINE.index(c.key) if c.key in _HEADLINE else len(_HEADLINE))


def summary_line(report: IssuedReport, changes: list[Change]) -> str:
    """One line for a report whose figures changed: its number, date and the first differences."""
    shown = "; ".join(c.text for c in changes[:SHOWN_CHANGES])
    more = f" (và {len(changes) - SHOWN_CHANGES} số liệu khác)" if len(changes) > SHOWN_CHANGES else ""
    return (
        f"Báo cáo số {report.number} ngày {report.issued_on:%d/%m/%Y} ({report.unit_code}, kỳ {report.period}) "
        f"đã gửi có số liệu nay đã khác: {shown}{more}"
    )


# --------------------------------------------------------------------------- issuing


def _clean(text: str | None, what: str, limit: int) -> str:
    value = " ".join((text or "").split())
    if not value:
        raise ServiceError(f"Thiếu {what} của báo cáo")
    if len(value) > limit:
        raise ServiceError(f"{what.capitalize()} dài quá {limit} ký tự: {value[:40]!r}…")
    return value


def _file_name(unit_code: str, period: str, number: str, fmt: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", number).strip("-") or "bao-cao"
    return f"bao-cao-{unit_code}-{period}-so-{slug}.{fmt}"


def issue(
    session: Session,
    *,
    period: str,
    unit_code: str,
    number: str,
    signer: str,
    form_id: str | None = None,
    issued_on: date | None = None,
    as_of: date | str | None = None,
    target: float = tally.DEFAULT_TARGET,
    fmt: str = "pdf",
    user: str | None = None,
) -> IssuedReport:
    """Issue a report: tally, document, file kept, figures recorded; audited. The caller commits
    (if the row is then not stored, the file stays behind unreferenced, named by its content)."""
    from omr import reports

    if fmt not in ISSUE_FORMATS:
        raise ServiceError(f"Định dạng {fmt!r} không ban hành được (chọn: {', '.join(ISSUE_FORMATS)})")
    if session.get(Unit, unit_code) is None:
        raise NotFound(f"Không có đơn vị mã {unit_code!r} (xem: omr units list)")
    number, signer = _clean(number, "số văn bản", 60), _clean(signer, "người ký", 100)
    issued_on = issued_on or local_today()
    if issued_on > local_today():
        raise ServiceError(f"Ngày ban hành {issued_on:%d/%m/%Y} chưa tới")
    same = session.scalar(
        select(IssuedReport).where(
            IssuedReport.unit_code == unit_code, IssuedReport.year == issued_on.year, IssuedReport.number == number
        )
    )
    if same is not None:
        raise ServiceError(
            f"Đơn vị {unit_code} đã ban hành báo cáo số {number} năm {issued_on.year} "
            f"(ngày {same.issued_on:%d/%m/%Y}, kỳ {same.period}): chọn số khác"
        )
    result = tally.compute(session, period, unit_code, form_id, target=target, as_of=as_of)
    folder = config.home() / ISSUED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".new-{os.getpid()}-{id(result)}.{fmt}"
    try:
        # the document carries its number (the "15" of "Số: 15/BC-UBND"), date, signer and as-of day
        options = reports.ExportOptions(
            report_date=issued_on, as_of=result.period.as_of, number=number.split("/")[0], signer=signer
        )
        reports.export(session, result.period.code, unit_code, form_id, fmt, tmp, result=result, options=options)
        data = tmp.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        rel = f"{ISSUED_DIR}/{sha[:2]}/{sha}.{fmt}"  # named by content: never overwritten by another
        (config.home() / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, config.home() / rel)
    finally:
        tmp.unlink(missing_ok=True)
    report = IssuedReport(
        unit_code=unit_code,
        number=number,
        year=issued_on.year,
        issued_on=issued_on,
        signer=signer,
        period=result.period.code,
        form_id=form_id,
        target=target,
        as_of=result.period.as_of,
        fmt=fmt,
        file_path=rel,
        file_name=_file_name(unit_code, result.period.code, number, fmt),
        sha256=sha,
        size=len(data),
        figures=figures(result),
        created_by=user,
        checked_at=utcnow(),
        changes=[],
    )
    session.add(report)
    session.flush()
    audit.record(session, user, "report.issue", f"issued_report:{report.id}", None, _summary(report))
    return report


def _summary(r: IssuedReport) -> dict:
    return {
        "number": r.number,
        "unit": r.unit_code,
        "period": r.period,
        "form": r.form_id,
        "issued_on": r.issued_on.isoformat(),
        "as_of": r.as_of.isoformat(),
        "signer": r.signer,
        "sha256": r.sha256,
    }


def get(session: Session, report_id: int) -> IssuedReport:
    report = session.get(IssuedReport, report_id)
    if report is None:
        raise NotFound(f"Không có báo cáo đã ban hành số thứ tự {report_id}")
    return report


def file_bytes(report: IssuedReport) -> bytes:
    """The file as it was issued; refused if it is missing or no longer the one issued."""
    path = config.home() / report.file_path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ServiceError(f"{path}: không đọc được tệp báo cáo đã ban hành ({e.strerror or e})") from e
    if hashlib.sha256(data).hexdigest() != report.sha256:
        raise ServiceError(f"{path}: tệp đã bị sửa sau khi ban hành (mã băm không khớp)")
    return data


def listed(session: Session, units: set[str] | None = None, period: str | None = None) -> list[IssuedReport]:
    """Issued reports, newest first: of these units (None: all), of one period if given."""
    q = select(IssuedReport).order_by(IssuedReport.issued_on.desc(), IssuedReport.id.desc())
    if units is not None:
        q = q.where(IssuedReport.unit_code.in_(sorted(units)))
    if period is not None:
        q = q.where(IssuedReport.period == tally.Period.parse(period).code)
    return list(session.scalars(q))


# --------------------------------------------------------------------------- checking


def check(session: Session, report: IssuedReport) -> list[Change]:
    """The report's figures computed again as issued (same unit, period, form, target and as-of day)
    and compared with those recorded; the outcome is kept on the report. The caller commits."""
    result = tally.compute(
        session, report.period, report.unit_code, report.form_id, target=report.target, as_of=report.as_of
    )
    changes = differences(report.figures, figures(result))
    report.checked_at = utcnow()
    report.changes = [asdict(c) for c in changes]
    return changes


def changes_of(report: IssuedReport) -> list[Change]:
    """The differences found by the last ``check``."""
    return [Change(**c) for c in report.changes or []]


def changed(session: Session, period: str, unit_code: str | None) -> list[tuple[IssuedReport, list[Change]]]:
    """The reports issued for this unit and period (any form filter) whose figures are no longer those
    sent, each checked now."""
    if unit_code is None:
        return []
    out = []
    for report in listed(session, {unit_code}, period):
        if changes := check(session, report):
            out.append((report, changes))
    return out
