"""The product's vocabulary: every code it stores or prints (page statuses, answer states, roles, kinds
of unit, review items), each with the Vietnamese words people read, defined here once.

The codes are what the database and ``omr scan``'s output lines hold (CONTRACT.md); the words are the
command line's, the exports' and the web's (the web shows them in English through its catalogue,
web/translations/en.json, keyed by these words). This module imports nothing of the product, so the
schema (db/) and every layer above it can use it.
"""

from __future__ import annotations

from datetime import timedelta, timezone

# reports, survey days and the web's dates follow the Vietnamese calendar day (UTC+7, no daylight
# saving), whatever the server's zone
VN_TZ = timezone(timedelta(hours=7), "ICT")

# ---- page statuses (CONTRACT.md)
ACCEPTED, NEEDS_REVIEW, UNIDENTIFIED = "accepted", "needs_review", "unidentified"
DUPLICATE, CONFLICT, INVALID, BLANK_PAGE = "duplicate", "conflict", "invalid", "blank"
PAGE_STATUSES = (ACCEPTED, NEEDS_REVIEW, UNIDENTIFIED, DUPLICATE, CONFLICT, INVALID, BLANK_PAGE)
# pages whose answers count in tallies (through answers.final_value, set by the machine or a reviewer)
COUNTED_STATUSES = (ACCEPTED, NEEDS_REVIEW)
# Page statuses have words of their own that the sheet counts' words (below) do not reuse: an
# ``accepted`` page is "đọc xong" (every answer decided by the machine), not "đã nhận", which is the
# sheets' word. "error" is a scan line's status for a page that could not be read at all (never stored).
PAGE_STATUS = {
    ACCEPTED: "đọc xong",
    NEEDS_REVIEW: "còn câu chờ duyệt",
    UNIDENTIFIED: "chưa nhận dạng",
    DUPLICATE: "trùng",
    CONFLICT: "trùng số, khác câu trả lời",
    INVALID: "không hợp lệ",
    BLANK_PAGE: "trang trắng",
    "error": "lỗi đọc",
}

# ---- answer states (answers.machine_state / final_state)
MARKED, BLANK_ANSWER, MULTIPLE, UNCERTAIN = "marked", "blank", "multiple", "uncertain"
WAITING_STATES = (MULTIPLE, UNCERTAIN)  # a scan line's answer states a person must decide
ANSWER_STATE = {
    MARKED: "Đã đánh dấu",
    BLANK_ANSWER: "Không trả lời",
    MULTIPLE: "Nhiều ô",
    UNCERTAIN: "Không chắc",
}
# why the reader sent an answer to a person (omr.detect.decide's reasons), in words for the reviewer
ANSWER_REASON = {
    "multiple": "nhiều ô được đánh dấu",
    "faint": "dấu mờ hoặc chấm nhỏ",
    "stray": "nét bút lạc, ở ô khác hoặc ngoài ô",  # a weak box beside a mark, or ink just outside a box
    "correction": "có ô tô kín (sửa lại)",
    "circled": "khoanh tròn nhãn thay vì đánh dấu ô",
    "unregistered": "không tìm rõ ô trên phiếu (phiếu gấp, cong)",
    "dirt": "vệt bẩn của máy quét đi qua ô",
    "bilevel_blank": "câu trống trên bản quét đen trắng: dấu bút nhạt có thể đã bị mất",
    "low_confidence": "máy không chắc chắn",
}
MACHINE = "machine"  # answers.decided_by when the machine's decision was accepted as final
PENDING_TEXT = "đang chờ duyệt"  # an answer nobody has decided yet, wherever it is shown

# ---- the three counts people read on every screen (omr.services.sheet_counts counts them)
RECEIVED = "phiếu đã nhận"
WAITING_ANSWERS = "câu chờ duyệt"
WAITING_SHEETS = "phiếu còn câu chờ duyệt"
# a response (one sheet) in the exports' answer tables
RESPONSE_STATUS = {"accepted": "đã nhận", "reviewed": "đã duyệt", "pending": "còn câu đang chờ duyệt"}

# ---- scan batches
SCAN_RUNNING, SCAN_DONE, SCAN_FAILED = "running", "done", "failed"

# ---- review items: kinds and states
REVIEW_ANSWER, REVIEW_UNIDENTIFIED, REVIEW_CONFLICT = "answer", "unidentified", "conflict"
REVIEW_OPEN, REVIEW_DONE = "open", "done"

# ---- roles
ADMIN, STAFF, REVIEWER, VIEWER = "admin", "staff", "reviewer", "viewer"
ROLES = (ADMIN, STAFF, REVIEWER, VIEWER)
ROLE_LABELS = {ADMIN: "Quản trị viên", STAFF: "Cán bộ", REVIEWER: "Người duyệt", VIEWER: "Người xem"}

# ---- unit kinds: the official divisions come built in; offices (a district-level one-stop office, a
# public administration centre) and service points (schools, clinics, branches) are added by users
UNIT_KINDS = ("province", "ward", "commune", "special", "office", "service_point")


def sentence(text: str) -> str:
    """A message as people read it, on the command line and on the web: its first letter a capital."""
    text = text.strip()
    return text[:1].upper() + text[1:]
