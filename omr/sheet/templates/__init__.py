"""Form templates: one declarative TOML file per form, loaded and validated here.

A template says *what* is asked (sections, fields, options, labels). Where each box lands on
paper is computed from it by ``omr.sheet.layout`` — printing, reading and review all ask that module.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

FORMS_DIR = Path(__file__).parent / "forms"
SCALES_FILE = Path(__file__).parent / "scales.toml"

FIELD_KINDS = ("single", "multi", "text")
SECTION_LAYOUTS = ("list", "matrix")
MAX_COUNTERS = 12


class TemplateError(ValueError):
    """A template file is not valid; the message names the file and line."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Scale:
    id: str
    options: tuple[Option, ...]
    satisfied: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Variant:
    """Per-unit choices that change what is printed, so they travel in the sheet's QR code.

    counters: how many "Quầy" options a counter question offers.
    personal: whether the name / phone / address areas are printed (Decree 13/2023/NĐ-CP:
    off unless the unit turns them on; kept only as images).
    """

    counters: int = 6
    personal: bool = False

    def code(self) -> str:
        return f"c{self.counters}p{int(self.personal)}"

    @classmethod
    def parse(cls, code: str) -> Variant:
        m = re.fullmatch(r"c(\d{1,2})p([01])", code)
        if not m or not 1 <= int(m.group(1)) <= MAX_COUNTERS:
            raise ValueError(f"không hiểu mã biến thể phiếu: {code!r}")
        return cls(counters=int(m.group(1)), personal=m.group(2) == "1")


@dataclass(frozen=True)
class Field:
    id: str
    kind: str  # single | multi | text
    label: str
    page: int
    options: tuple[Option, ...] = ()
    element: str | None = None  # SIPAS element / group of questions, for the index per element
    satisfied: frozenset[str] = frozenset()  # option values counted as satisfied; empty: not an index question
    columns: int = 0  # options per row in a list section; 0: as many as fit
    height_mm: float = 20.0  # text areas only
    personal: bool = False  # printed only when Variant.personal
    options_from: str | None = None  # "counters": options generated per unit

    @property
    def is_index_question(self) -> bool:
        return bool(self.satisfied)


@dataclass(frozen=True)
class Section:
    heading: str
    page: int
    layout: str  # list | matrix
    fields: tuple[Field, ...]
    scale: Scale | None = None  # matrix sections: the shared columns


@dataclass(frozen=True)
class Form:
    id: str
    version: int
    title: str
    subtitle: str
    intro: str
    pages: int
    sections: tuple[Section, ...]
    source: Path = field(compare=False)

    @property
    def full_title(self) -> str:
        """Title and subtitle: several forms share a title and differ in the subtitle (the service)."""
        return f"{self.title} {self.subtitle}".strip()

    def resolved(self, variant: Variant) -> Form:
        """The form as printed for a unit: counter options generated, personal fields kept or dropped."""
        sections = []
        for s in self.sections:
            fields = tuple(_resolve_field(f, variant) for f in s.fields if variant.personal or not f.personal)
            if fields:
                sections.append(replace(s, fields=fields))
        return replace(self, sections=tuple(sections))

    def fields(self) -> list[Field]:
        return [f for s in self.sections for f in s.fields]

    def field(self, field_id: str) -> Field:
        for f in self.fields():
            if f.id == field_id:
                return f
        raise KeyError(field_id)


def _resolve_field(f: Field, variant: Variant) -> Field:
    if f.options_from == "counters":
        opts = tuple(Option(str(i), f"Quầy {i}") for i in range(1, variant.counters + 1))
        return replace(f, options=opts)
    return f


# --------------------------------------------------------------------------- loading


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return 1


class _Ctx:
    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def fail(self, msg: str, near: str = "") -> TemplateError:
        line = _line_of(self.text, near) if near else 1
        return TemplateError(f"{self.path.name}:{line}: {msg}")


def _parse_toml(path: Path) -> tuple[dict, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"{path.name}: không đọc được tệp mẫu phiếu ({e})") from e
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise TemplateError(f"{path.name}: {e}") from e


@cache
def scales() -> dict[str, Scale]:
    data, text = _parse_toml(SCALES_FILE)
    ctx = _Ctx(SCALES_FILE, text)
    out = {}
    for sid, body in data.items():
        opts = _options(ctx, body.get("options"), sid)
        sat = frozenset(str(v) for v in body.get("satisfied", []))
        if not sat <= {o.value for o in opts}:
            raise ctx.fail(f"thang đo {sid!r}: 'satisfied' có giá trị không có trong options", f"[{sid}]")
        out[sid] = Scale(sid, opts, sat)
    return out


def _options(ctx: _Ctx, raw: object, where: str) -> tuple[Option, ...]:
    if not isinstance(raw, list) or not raw:
        raise ctx.fail(f"{where}: cần danh sách 'options' không rỗng", where)
    opts = []
    for o in raw:
        if not isinstance(o, dict) or "value" not in o or "label" not in o:
            raise ctx.fail(f"{where}: mỗi lựa chọn cần 'value' và 'label'", where)
        opts.append(Option(str(o["value"]), str(o["label"])))
    values = [o.value for o in opts]
    if len(set(values)) != len(values):
        raise ctx.fail(f"{where}: giá trị lựa chọn bị trùng", where)
    if any("," in v for v in values):
        raise ctx.fail(f"{where}: giá trị lựa chọn không được chứa dấu phẩy", where)
    return tuple(opts)


def _field(ctx: _Ctx, raw: dict, page: int, element: str | None, scale: Scale | None) -> Field:
    fid = raw.get("id")
    if not isinstance(fid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", fid):
        raise ctx.fail(f"mã câu hỏi không hợp lệ: {fid!r} (chữ thường, số, dấu _)", f"{fid}")
    near = f'"{fid}"'
    kind = raw.get("kind", "single")
    if kind not in FIELD_KINDS:
        raise ctx.fail(f"câu {fid}: kiểu {kind!r} không hợp lệ (single, multi, text)", near)
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ctx.fail(f"câu {fid}: thiếu 'label'", near)
    options: tuple[Option, ...] = ()
    satisfied: frozenset[str] = frozenset()
    options_from = raw.get("options_from")
    if kind != "text":
        if options_from is not None:
            if options_from != "counters":
                raise ctx.fail(f"câu {fid}: options_from chỉ nhận 'counters'", near)
        elif "scale" in raw or scale is not None:
            sid = raw.get("scale")
            sc = scales().get(sid) if sid else scale
            if sc is None:
                raise ctx.fail(f"câu {fid}: không có thang đo {sid!r}", near)
            options, satisfied = sc.options, sc.satisfied
        else:
            options = _options(ctx, raw.get("options"), f"câu {fid}")
        if options_from is None and kind == "single" and len(options) < 2:
            raise ctx.fail(f"câu {fid}: câu chọn một cần ít nhất 2 lựa chọn", near)
    return Field(
        id=fid,
        kind=kind,
        label=label.strip(),
        page=page,
        options=options,
        element=raw.get("element", element),
        satisfied=satisfied,
        columns=int(raw.get("columns", 0)),
        height_mm=float(raw.get("height_mm", 20.0)),
        personal=bool(raw.get("personal", False)),
        options_from=options_from,
    )


def load_form(path: Path) -> Form:
    data, text = _parse_toml(path)
    ctx = _Ctx(path, text)
    for key in ("id", "version", "title", "sections"):
        if key not in data:
            raise ctx.fail(f"thiếu khóa bắt buộc {key!r}")
    if path.stem != data["id"]:
        raise ctx.fail(f"mã mẫu {data['id']!r} phải trùng tên tệp {path.stem!r}", "id")
    pages = int(data.get("pages", 1))
    sections = []
    seen: set[str] = set()
    for s in data["sections"]:
        heading = str(s.get("heading", ""))
        page = int(s.get("page", 1))
        if not 1 <= page <= pages:
            raise ctx.fail(f"mục {heading!r}: trang {page} ngoài 1..{pages}", heading or "page")
        layout = s.get("layout", "list")
        if layout not in SECTION_LAYOUTS:
            raise ctx.fail(f"mục {heading!r}: layout {layout!r} không hợp lệ", heading)
        scale = None
        if layout == "matrix":
            scale = scales().get(s.get("scale", ""))
            if scale is None:
                raise ctx.fail(f"mục {heading!r}: mục dạng bảng cần 'scale' hợp lệ", heading)
        fields = tuple(_field(ctx, f, page, s.get("element"), scale) for f in s.get("fields", []))
        if layout == "matrix" and any(f.kind != "single" for f in fields):
            raise ctx.fail(f"mục {heading!r}: mục dạng bảng chỉ gồm câu chọn một", heading)
        for f in fields:
            if f.id in seen:
                raise ctx.fail(f"mã câu hỏi {f.id!r} bị trùng", f'"{f.id}"')
            seen.add(f.id)
        sections.append(Section(heading, page, layout, fields, scale))
    return Form(
        id=data["id"],
        version=int(data["version"]),
        title=str(data["title"]),
        subtitle=str(data.get("subtitle", "")),
        intro=str(data.get("intro", "")).strip(),
        pages=pages,
        sections=tuple(sections),
        source=path,
    )


@cache
def all_forms() -> dict[str, Form]:
    """Every built-in form, validated; a broken file stops start-up with its name and line."""
    forms = {}
    for path in sorted(FORMS_DIR.glob("*.toml")):
        f = load_form(path)
        forms[f.id] = f
    return forms


class UnknownForm(KeyError):
    def __str__(self) -> str:
        known = ", ".join(all_forms())
        return f"không có mẫu phiếu {self.args[0]!r} (các mẫu có: {known})"


def get_form(form_id: str, version: int | None = None) -> Form:
    form = all_forms().get(form_id)
    if form is None or (version is not None and form.version != version):
        raise UnknownForm(form_id if version is None else f"{form_id} v{version}")
    return form
