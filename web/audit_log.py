"""The audit log as people read it: what was done in words, on what, and each changed value as
old → new (option values as their printed labels, roles and statuses in words, passwords never shown),
with the filters of the administration page (who, what, when, unit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, or_, select

from db.models import Answer, AuditLog, Page, ReviewItem, User
from omr.sheet.layout import layout_for
from omr.sheet.templates import UnknownForm, Variant
from omr.values import split_values
from omr.vocab import ROLE_LABELS, VN_TZ
from web.access import unit_name
from web.i18n import _
from web.labels import STATE, STATUS

ACTIONS = {
    "review.answer": "Duyệt câu trả lời",
    "review.undo": "Hoàn tác quyết định",
    "review.conflict": "Chọn bản quét của phiếu trùng số",
    "review.identify": "Nhận dạng trang",
    "review.not_a_sheet": "Xác nhận không phải phiếu",
    "user.add": "Tạo người dùng",
    "user.role": "Đổi vai trò, đơn vị",
    "user.password": "Đặt lại mật khẩu",
    "user.unlock": "Mở khóa người dùng",
    "user.disable": "Khóa tài khoản",
    "user.enable": "Mở lại tài khoản",
    "login.throttled": "Chặn đăng nhập sai nhiều lần",
    "unit.add": "Thêm đơn vị",
    "unit.create": "Thêm đơn vị",  # entries written before the web used the command line's names
    "unit.set": "Sửa đơn vị",
    "unit.update": "Sửa đơn vị",
    "unit.report_settings": "Sửa thông tin báo cáo của đơn vị",
    "batch.period": "Đổi kỳ khảo sát của xấp phiếu",
    "report.issue": "Phát hành báo cáo",
    "reread": "Đọc lại các trang đã lưu",
    "reread.store_again": "Lưu lại trang sau khi đọc lại",
}
FIELDS = {
    "final_value": "Câu trả lời",
    "final_state": "Trạng thái câu trả lời",
    "decided_by": "Người quyết định",
    "role": "Vai trò",
    "unit": "Đơn vị",
    "password": "Mật khẩu",
    "locked_until": "Khóa đến",
    "name": "Tên",
    "parent": "Trực thuộc",
    "counters": "Số quầy",
    "personal_fields": "In ô cá nhân",
    "yearly_quota": "Chỉ tiêu phiếu mỗi năm",
    "usual_form": "Mẫu thường dùng",
    "retired": "Ngừng sử dụng",
    "status": "Trạng thái trang",
    "note": "Ghi chú",
    "serial": "Số phiếu",
    "sheet_page": "Trang của phiếu",
    "form": "Mẫu phiếu",
    "page_id": "Trang",
    "statuses": "Trạng thái các trang",
    "kept": "Trang được tính",
}
HIDDEN = {"item", "machine_value", "accepted_machine"}  # bookkeeping for undo, not a change


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class Entry:
    at: datetime
    user: str
    action: str
    action_label: str
    target: str
    changes: list[Change] = field(default_factory=list)


@dataclass
class Filters:
    who: str = ""
    what: str = ""
    unit: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, args) -> Filters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        return cls(args.get("who", "").strip(), args.get("what", ""), args.get("unit", ""), day("since"), day("until"))

    def apply(self, q: Select, units_below) -> Select:
        if self.who:
            q = q.where(AuditLog.user == self.who)
        if self.what:
            # one label may stand for an old and a new action name
            same = [a for a, words in ACTIONS.items() if words == ACTIONS.get(self.what)] or [self.what]
            q = q.where(AuditLog.action.in_(same))
        if self.unit:
            codes = sorted(units_below(self.unit))
            people = select(User.username).where(User.unit_code.in_(codes))
            q = q.where(or_(AuditLog.user.in_(people), AuditLog.object.in_([f"unit:{c}" for c in codes])))
        if self.since:
            q = q.where(AuditLog.at >= _day_start(self.since))
        if self.until:
            q = q.where(AuditLog.at < _day_start(self.until + timedelta(days=1)))
        return q

    def query_args(self) -> dict[str, str]:
        return {
            k: v
            for k, v in {
                "who": self.who,
                "what": self.what,
                "unit": self.unit,
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else "",
            }.items()
            if v
        }


def _day_start(d: date) -> datetime:
    """Midnight of a day in Vietnam, as the instant it is (the log is stored in UTC)."""
    return datetime.combine(d, time(), VN_TZ)


def action_choices() -> list[tuple[str, str]]:
    """(action, words) for the filter, one per label."""
    seen: dict[str, str] = {}
    for a, words in ACTIONS.items():
        seen.setdefault(words, a)
    return [(a, _(w)) for w, a in seen.items()]


def _answer_object(s, obj: str | None) -> str | None:
    """An undo names the review item; the answer it is about is named like a decision's entry."""
    if not obj or not obj.startswith("item:") or not obj[5:].isdigit():
        return obj
    item = s.get(ReviewItem, int(obj[5:]))
    ans = s.get(Answer, item.answer_id) if item is not None and item.answer_id is not None else None
    return f"page:{ans.page_id}/{ans.field}" if ans is not None else obj


def entry(s, row: AuditLog) -> Entry:
    old = row.old if isinstance(row.old, dict) else {}
    new = row.new if isinstance(row.new, dict) else {}
    obj = _answer_object(s, row.object)
    options = _option_labels(s, obj)
    changes = []
    for key in [k for k in {**old, **new} if k not in HIDDEN]:
        a, b = old.get(key), new.get(key)
        if a == b and row.old is not None:
            continue
        changes.append(Change(_(FIELDS.get(key, key)), _value(key, a, options), _value(key, b, options)))
    return Entry(
        row.at,
        row.user or _("(lệnh omr)"),
        row.action,
        _(ACTIONS.get(row.action, row.action)),
        _target(s, row.object),
        changes,
    )


def _target(s, obj: str | None) -> str:
    if not obj or ":" not in obj:
        return obj or ""
    kind, _sep, rest = obj.partition(":")
    if kind == "page":
        page_id, _sep, fld = rest.partition("/")
        page = s.get(Page, int(page_id)) if page_id.isdigit() else None
        serial = f" · {_('phiếu')} {page.serial}" if page is not None and page.serial else ""
        question = f" · {_question(page, fld)}" if fld else ""
        return f"{_('Trang')} #{page_id}{serial}{question}"
    if kind == "unit":
        return f"{_('Đơn vị')} {unit_name(rest)} ({rest})"
    if kind == "user":
        return f"{_('Người dùng')} {rest}"
    if kind == "item":
        return f"{_('Mục duyệt')} #{rest}"
    return obj


def _question(page: Page | None, fld: str) -> str:
    from web.labels import short_label

    fl = _layout(page)
    if fl is None:
        return fld
    try:
        return short_label(fl.placement(fld).field.label)
    except KeyError:
        return fld


def _layout(page: Page | None):
    if page is None or not page.form_id or page.form_version is None:
        return None
    try:
        return layout_for(page.form_id, page.form_version, Variant.parse(page.variant or Variant().code()))
    except (UnknownForm, ValueError):
        return None


def _option_labels(s, obj: str | None) -> dict[str, str]:
    """A reviewed answer's option values -> printed labels."""
    if not obj or not obj.startswith("page:") or "/" not in obj:
        return {}
    page_id, fld = obj[5:].split("/", 1)
    fl = _layout(s.get(Page, int(page_id)) if page_id.isdigit() else None)
    try:
        return {o.value: o.label for o in fl.placement(fld).options} if fl else {}
    except KeyError:
        return {}


def _value(key: str, v, options: dict[str, str]) -> str:
    if key == "password":
        return _("(không hiển thị)")
    if v is None or v == "":
        return "—"
    if isinstance(v, bool):
        return _("có") if v else _("không")
    if key == "final_value":
        return ", ".join(options.get(x, x) for x in split_values(str(v)))
    if key == "final_state":
        return _(STATE.get(v, v))
    if key == "role":
        return _(ROLE_LABELS.get(v, v))
    if key in ("unit", "parent"):
        return f"{unit_name(v)} ({v})"
    if key == "status":
        return _(STATUS.get(v, v))
    if key == "statuses" and isinstance(v, dict):
        statuses: dict[str, str] = v  # page id -> status code
        return ", ".join(f"#{p}: {_(STATUS.get(st, st))}" for p, st in statuses.items())
    if key == "decided_by" and v == "machine":
        return _("máy")
    if isinstance(v, dict | list):
        return ", ".join(f"{k}: {x}" for k, x in v.items()) if isinstance(v, dict) else ", ".join(map(str, v))
    return str(v)
