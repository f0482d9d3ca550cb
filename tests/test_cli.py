"""The ``omr`` command as operators and outside checks run it (CONTRACT.md), in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def omr(omr_home):
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "OMR_HOME": str(omr_home), "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [sys.executable, "-m", "omr.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=300,
        )

    return run


def _one_line_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0]


def _json_lines(text: str) -> list[dict]:
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def test_forms_list(omr):
    r = omr("forms", "list", "--json")
    assert r.returncode == 0, r.stderr
    forms = json.loads(r.stdout)
    ids = {f["id"] for f in forms}
    assert {"kien-hung-2020", "sipas-tthc"} <= ids
    assert all({"id", "version", "title"} <= set(f) and isinstance(f["version"], int) for f in forms)
    plain = omr("forms", "list")
    assert "kien-hung-2020" in plain.stdout and plain.returncode == 0


def test_forms_layout_json_shape(omr):
    r = omr("forms", "layout", "kien-hung-2020", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["form"] == "kien-hung-2020" and data["version"] == 1 and data["title"]
    assert data["page_size_mm"] == [210, 297] and data["pages"] == 1
    kinds = {f["kind"] for f in data["fields"]}
    assert kinds == {"single", "multi", "text"}
    for f in data["fields"]:
        assert {"id", "page", "kind", "label"} <= set(f)
        if f["kind"] == "text":
            assert len(f["box_mm"]) == 4
        else:
            for o in f["options"]:
                assert set(o) >= {"value", "label", "box_mm"} and len(o["box_mm"]) == 4
                x, y, w, h = o["box_mm"]
                assert 0 < x < 210 and 0 < y < 297 and 0 < w < 10 and 0 < h < 10
    result = next(f for f in data["fields"] if f["id"] == "q_result")
    assert [o["label"] for o in result["options"]][0] == "Rất hài lòng"


def test_print_json_manifest(omr, tmp_path):
    out = tmp_path / "phieu.pdf"
    r = omr("print", "--form", "kien-hung-2020", "--unit", "09552", "--count", "3", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    lines = _json_lines(r.stdout)
    assert lines == [
        {"pdf_page": n, "form": "kien-hung-2020", "unit": "09552", "serial": f"00000{n}", "sheet_page": 1}
        for n in (1, 2, 3)
    ]
    assert out.read_bytes().startswith(b"%PDF")
    r2 = omr("print", "--form", "sipas-tthc", "--unit", "09552", "--count", "1", "--out", str(tmp_path / "b.pdf"))
    assert r2.returncode == 0 and "000004" in r2.stdout


def test_units_list_and_add(omr):
    r = omr("units", "list", "--json", "--province", "01")
    assert r.returncode == 0, r.stderr
    units = {u["code"]: u for u in json.loads(r.stdout)}
    assert units["01"]["name"] == "Thành phố Hà Nội"
    assert units["09552"]["name"] == "Phường Kiến Hưng" and units["09552"]["parent"] == "01"
    assert all(u["code"] == "01" or u["parent"] == "01" for u in units.values())
    add = omr("units", "add", "VPDK-HN-1", "Chi nhánh Văn phòng đăng ký đất đai", "--parent", "01", "--counters", "4")
    assert add.returncode == 0, add.stderr
    units = {u["code"]: u for u in json.loads(omr("units", "list", "--json", "--province", "01").stdout)}
    assert units["VPDK-HN-1"]["kind"] == "service_point" and units["VPDK-HN-1"]["counters"] == 4
    everything = json.loads(omr("units", "list", "--json").stdout)
    assert len(everything) == 34 + 3321 + 1
    _one_line_error(omr("units", "add", "VPDK-HN-1", "Lần nữa"), "VPDK-HN-1")
    _one_line_error(omr("units", "add", "X9", "Không có cấp trên", "--parent", "77777"), "77777")


def test_users_add_from_stdin(omr):
    r = omr(
        "users",
        "add",
        "chi.nguyen",
        "--role",
        "reviewer",
        "--unit",
        "09552",
        "--password-stdin",
        stdin="mật-khẩu-đủ-dài\n",
    )
    assert r.returncode == 0, r.stderr
    from sqlalchemy import select

    from db.models import User
    from db.session import session
    from omr.services.users import authenticate

    with session() as s:
        user = s.scalars(select(User)).one()
        assert (user.username, user.role, user.unit_code) == ("chi.nguyen", "reviewer", "09552")
        assert user.password_hash.startswith("$argon2")
        assert authenticate(s, "chi.nguyen", "mật-khẩu-đủ-dài") is not None
        assert authenticate(s, "chi.nguyen", "sai") is None
    _one_line_error(
        omr(
            "users", "add", "chi.nguyen", "--role", "staff", "--unit", "09552", "--password-stdin", stdin="abcdefgh12\n"
        )
    )
    _one_line_error(
        omr("users", "add", "b", "--role", "boss", "--unit", "09552", "--password-stdin", stdin="abcdefgh12\n")
    )
    _one_line_error(
        omr("users", "add", "bo", "--role", "staff", "--unit", "99999", "--password-stdin", stdin="abcdefgh12\n")
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("print", "--form", "khong-co", "--unit", "09552", "--count", "2", "--out", "x.pdf"), ("khong-co",)),
        (("print", "--form", "kien-hung-2020", "--unit", "99999", "--count", "2", "--out", "x.pdf"), ("99999",)),
        (("print", "--form", "kien-hung-2020", "--unit", "09552", "--count", "-1", "--out", "x.pdf"), ()),
        (("print", "--form", "kien-hung-2020", "--unit", "09552", "--count", "x", "--out", "x.pdf"), ()),
        (("print", "--form", "kien-hung-2020", "--unit", "09552", "--count", "1", "--out", "/no/such/dir/x.pdf"), ()),
        (("forms", "layout", "khong-co"), ("khong-co",)),
        (("units", "list", "--province", "99"), ("99",)),
        (("scan", "/no/such/file.pdf"), ("/no/such/file.pdf",)),
        (("nonsense",), ()),
    ],
)
def test_bad_input_is_one_line_error(omr, tmp_path, args, words):
    _one_line_error(omr(*args), *words)


def test_scan_bad_files(omr, tmp_path, scan_tools):
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    r = omr("scan", "--json", str(empty))
    _one_line_error(r, "empty.pdf")
    (line,) = _json_lines(r.stdout)
    assert line["status"] == "error" and line["source"] == "empty.pdf" and line["page"] == 1 and line["error"]
    r = omr("scan", "--json", str(corrupt))
    _one_line_error(r, "corrupt.pdf")
    assert _json_lines(r.stdout)[0]["status"] == "error"
    # a photo that is not a survey sheet is not an error: it is kept and queued for a person
    rng = np.random.default_rng(3)
    cat = tmp_path / "cat.jpg"
    from PIL import Image

    Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8)).save(cat, quality=80)
    r = omr("scan", "--json", str(cat))
    assert r.returncode == 0 and "Traceback" not in r.stderr
    (line,) = _json_lines(r.stdout)
    assert line["status"] == "unidentified" and line["source"] == "cat.jpg"


def test_print_then_scan_json(omr, tmp_path, scan_tools):
    out = tmp_path / "phieu.pdf"
    assert (
        omr("print", "--form", "kien-hung-2020", "--unit", "09552", "--count", "2", "--out", str(out)).returncode == 0
    )
    imgs = scan_tools.render(out)
    scan_tools.cross(imgs[0], "kien-hung-2020", "q_result", "4")
    stack = scan_tools.jpeg_pdf(imgs, tmp_path / "scan.pdf")
    r = omr("scan", "--json", str(stack))
    assert r.returncode == 0, r.stderr
    lines = _json_lines(r.stdout)
    assert [(x["page"], x["status"], x["serial"]) for x in lines] == [
        (1, "accepted", "000001"),
        (2, "accepted", "000002"),
    ]
    assert lines[0]["answers"]["q_result"] == {
        "value": "4",
        "state": "marked",
        "confidence": lines[0]["answers"]["q_result"]["confidence"],
    }
    again = omr("scan", "--json", str(stack))
    assert [x["status"] for x in _json_lines(again.stdout)] == ["duplicate", "duplicate"]
    human = omr("scan", str(stack))
    assert human.returncode == 0 and "Tổng cộng 2 trang" in human.stdout


def test_init(omr, omr_home):
    r = omr("init")
    assert r.returncode == 0, r.stderr
    assert (omr_home / "secret.key").is_file() and str(omr_home) in r.stdout


def test_help_lists_every_command(omr):
    r = omr("--help")
    assert r.returncode == 0, r.stderr
    for command in ("scan", "units", "export", "serve", "worker", "backup"):
        assert command in r.stdout


@pytest.mark.parametrize("command", [(), ("scan",), ("units", "add"), ("export",), ("reports", "issue")])
def test_help_is_in_vietnamese(omr, command):
    """Ward staff read the help: argparse's own English words (headings, -h, the usage line) are not in it."""
    r = omr(*command, "--help")
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout.startswith("cách dùng: omr") and "tùy chọn:" in r.stdout and "in hướng dẫn này rồi thoát" in r.stdout
    )
    for english in ("usage:", "options:", "positional arguments", "show this help message"):
        assert english not in r.stdout


def test_builtin_command_starts_without_the_others(omr, omr_home):
    """A built-in command imports neither the other commands' modules (Flask, the tally) nor, once the
    database is at the newest revision, Alembic: every run would pay for them."""
    assert omr("init").returncode == 0
    code = (
        "import sys; from omr.cli import main; main(['units', 'list', '--json']); "
        "others = {'flask', 'omr.services.tally', 'omr.cli.worker', 'omr.cli.serve', 'alembic'}; "
        "print(sorted(others & set(sys.modules)), file=sys.stderr)"
    )
    env = {**os.environ, "OMR_HOME": str(omr_home), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "[]"


def test_units_set_changes_what_is_printed(omr, tmp_path):
    r = omr("units", "set", "09552", "--counters", "4", "--personal", "--quota", "420", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["code"], data["counters"], data["personal_fields"], data["yearly_quota"]) == ("09552", 4, True, 420)
    layout = json.loads(omr("forms", "layout", "kien-hung-2020", "--unit", "09552", "--json").stdout)
    counter = next(f for f in layout["fields"] if f["id"] == "q_counter")
    assert [o["label"] for o in counter["options"]] == ["Quầy 1", "Quầy 2", "Quầy 3", "Quầy 4"]
    _one_line_error(omr("units", "set", "09552", "--counters", "99"), "1")


def test_repeated_wrong_passwords_lock_the_account(omr):
    from db.session import transaction
    from omr.services import users

    with transaction() as s:
        users.add_user(s, "lan", "đúng-mật-khẩu", "staff", "09552")
    for _ in range(users.MAX_FAILED_LOGINS):
        with transaction() as s:
            assert users.authenticate(s, "lan", "sai-mật-khẩu") is None
    with transaction() as s:
        assert users.authenticate(s, "lan", "đúng-mật-khẩu") is None  # locked, even with the right one
        assert users.is_locked(users.get_user(s, "lan"))
        assert users.authenticate(s, "không-có", "x") is None


def test_version():
    import re

    r = subprocess.run([sys.executable, "-m", "omr.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and re.fullmatch(r"omr \d+\.\d+\.\d+\n", r.stdout), r.stdout
