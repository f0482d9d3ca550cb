"""Stack files to pages (omr.detect.sources): every TIFF variant offices make, read by the real reader
under the right page number, directly and inside ZIP files; ZIP entries, folders and PDFs that are
damaged become their own error pages while the rest is read."""

from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from omr.detect import sources
from omr.detect.read import read_page_bytes
from omr.detect.sources import iter_pages, load
from omr.services import signing_key

FORM = "kien-hung-2020"
MARKED = ("5", "3")  # q_result crossed on the first and on the second sheet


@pytest.fixture
def sheets(printed, scan_tools) -> tuple[list[str], list[np.ndarray]]:
    """Two printed sheets (serials), scanned at 200 dpi in grey, one answer crossed on each."""
    manifest, imgs = printed(FORM, "09552", 2)
    for img, value in zip(imgs, MARKED, strict=True):
        scan_tools.cross(img, FORM, "q_result", value)
    return [m["serial"] for m in manifest], imgs


def _pil_variants(imgs: list[np.ndarray]) -> dict[str, tuple[list[Image.Image], dict]]:
    """name -> (frames, Pillow save options): every compression, depth and colour model asked for."""
    grey = [Image.fromarray(a) for a in imgs]
    bw = [Image.fromarray(a).point(lambda v: 255 if v >= 128 else 0).convert("1") for a in imgs]
    rgb = [g.convert("RGB") for g in grey]
    grey16 = [Image.fromarray(a.astype(np.uint16) * 257) for a in imgs]
    palette = [g.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16) for g in grey]
    cmyk = [g.convert("CMYK") for g in grey]
    out: dict[str, tuple[list[Image.Image], dict]] = {}
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
        out[f"grey8-{comp}"] = (grey, {"compression": comp})
        out[f"rgb-{comp}"] = (rgb, {"compression": comp})
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "group3", "group4"):
        out[f"bw1-{comp}"] = (bw, {"compression": comp})
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate"):
        out[f"grey16-{comp}"] = (grey16, {"compression": comp})
    for comp in ("raw", "tiff_lzw", "packbits"):
        out[f"palette-{comp}"] = (palette, {"compression": comp})
    for comp in ("raw", "tiff_lzw", "jpeg"):
        out[f"cmyk-{comp}"] = (cmyk, {"compression": comp})
    out["grey8-single-page"] = (grey[:1], {"compression": "tiff_lzw"})
    out["bw1-single-page-g4"] = (bw[:1], {"compression": "group4"})
    return out


def _tiffcp_variants(src: dict[str, Path], folder: Path) -> list[Path]:
    """The same pages rewritten by libtiff's own tiffcp: LZW and Deflate with the differencing predictor,
    tiles, big-endian byte order, G3 two-dimensional coding, one row per strip."""
    tiffcp = shutil.which("tiffcp")
    if tiffcp is None:
        pytest.skip("tiffcp (libtiff-tools) not installed")
    out = []
    for name, opts, which in (
        ("tiffcp-lzw-predictor", ["-c", "lzw:2"], "grey"),
        ("tiffcp-zip-predictor-tiled", ["-c", "zip:2", "-t", "-w", "256", "-l", "256"], "grey"),
        ("tiffcp-bigendian-packbits", ["-B", "-c", "packbits"], "grey"),
        ("tiffcp-g3-2d", ["-c", "g3:2d:fill"], "bw"),
        ("tiffcp-g4-rows-per-strip-1", ["-c", "g4", "-r", "1"], "bw"),
    ):
        dst = folder / f"{name}.tif"
        subprocess.run([tiffcp, *opts, str(src[which]), str(dst)], check=True, capture_output=True)
        out.append(dst)
    return out


def _read(raw) -> tuple[int, str | None, str | None, str | None]:
    """A page through the real reader: its page number, serial, q_result value and any error."""
    page = load(raw)
    if page.error:
        return page.page, None, None, page.error
    read = read_page_bytes(page.data, signing_key.secret_key())
    value = next((a.value for a in read.answers if a.field == "q_result"), None)
    return page.page, read.identity.serial if read.identity else None, value, None


def test_every_tiff_variant_reads_with_its_page_numbers_directly_and_inside_a_zip(sheets, tmp_path):
    serials, imgs = sheets
    folder = tmp_path / "tiffs"
    folder.mkdir()
    files: list[Path] = []
    for name, (frames, opts) in _pil_variants(imgs).items():
        path = folder / f"{name}.tif"
        frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], **opts)
        files.append(path)
    files += _tiffcp_variants({"grey": folder / "grey8-raw.tif", "bw": folder / "bw1-raw.tif"}, folder)
    archive = tmp_path / "tiffs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.write(f, f"scans/{f.name}")

    expected = {}
    for f in files:
        with Image.open(f) as im:
            n = getattr(im, "n_frames", 1)
        expected[f.name] = [(i + 1, serials[i], MARKED[i], None) for i in range(n)]
    assert len(expected) >= 30

    direct: dict[str, list] = {}
    for raw in iter_pages(files, by_reference=True):
        direct.setdefault(raw.source, []).append(_read(raw))
    assert direct == expected
    zipped: dict[str, list] = {}
    for raw in iter_pages([archive]):
        zipped.setdefault(raw.source.removeprefix("scans/"), []).append(_read(raw))
    assert zipped == expected


def _pages_of(folder: Path, name: str, data: bytes) -> list[sources.RawPage]:
    """The pages the reader gets from a file of these bytes."""
    path = folder / name
    path.write_bytes(data)
    return list(iter_pages([path]))


def test_a_sixteen_bit_page_keeps_its_grey_levels(tmp_path):
    """Pillow's conversion clips 16-bit samples at 255: a whole 16-bit scan would come out white."""
    levels = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (4, 1))
    buf = io.BytesIO()
    Image.fromarray(levels).save(buf, "TIFF", compression="tiff_lzw")
    (page,) = _pages_of(tmp_path, "x.tif", buf.getvalue())
    decoded = np.asarray(Image.open(io.BytesIO(page.data)))
    assert np.array_equal(decoded[0], np.arange(256, dtype=np.uint8))


def _tiff_bytes(n: int) -> bytes:
    frames = [Image.new("L", (60, 40), 20 * i) for i in range(n)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw")
    return buf.getvalue()


def test_a_tiff_frame_whose_data_is_damaged_is_its_own_page_error(tmp_path):
    data = bytearray(_tiff_bytes(3))
    im = Image.open(io.BytesIO(bytes(data)))
    im.seek(1)
    offset = im.tag_v2[273][0]  # the second frame's strip
    data[offset : offset + 40] = b"\xff" * 40  # LZW codes that do not decode
    path = tmp_path / "three.tif"
    path.write_bytes(bytes(data))
    for by_ref in (True, False):
        pages = [load(r) for r in iter_pages([path], by_reference=by_ref)]
        assert [(p.page, p.error is None) for p in pages] == [(1, True), (2, False), (3, True)]
        assert pages[1].error == sources.BROKEN_TIFF_PAGE


def _zip(entries: dict[str, bytes], **kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", **kw) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _png_of(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (50, 50), value).save(buf, "PNG")
    return buf.getvalue()


def test_a_bad_zip_entry_is_that_entrys_error_and_the_others_are_read(tmp_path):
    data = bytearray(_zip({"a.png": _png_of(1), "b.png": _png_of(2), "c.png": _png_of(3)}))
    b_at = data.index(_png_of(2))
    data[b_at + 30] ^= 0xFF  # stored, so the CRC catches it when the entry is read
    path = tmp_path / "crc.zip"
    path.write_bytes(bytes(data))
    pages = list(iter_pages([path]))
    assert [(p.source, p.error) for p in pages] == [
        ("a.png", None),
        ("b.png", "Tệp trong ZIP hỏng (sai mã kiểm tra CRC) (trong crc.zip)"),
        ("c.png", None),
    ]


def _patch_headers(data: bytearray, name: str, flag: int = 0, method: int | None = None) -> None:
    """Set a flag bit or the compression method of entry ``name`` in its local and central headers."""
    for sig, name_at, flag_at, method_at in ((b"PK\x03\x04", 30, 6, 8), (b"PK\x01\x02", 46, 8, 10)):
        at = data.find(sig)
        while data[at + name_at : at + name_at + len(name)] != name.encode():
            at = data.find(sig, at + 1)
        data[at + flag_at] |= flag
        if method is not None:
            data[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")


def test_zip_entries_that_cannot_be_had_say_why(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("locked.png", "odd-method.png"):
            zf.writestr(name, _png_of(9))
        zf.writestr("../../etc/evil.png", _png_of(9))
        zf.writestr("inner.zip", _zip({"x.png": _png_of(1)}))
        zf.writestr("notes.txt", "xin chào")
    data = bytearray(buf.getvalue())
    _patch_headers(data, "locked.png", flag=0x1)
    _patch_headers(data, "odd-method.png", method=9)  # deflate64: not one zipfile decompresses
    path = tmp_path / "odd.zip"
    path.write_bytes(bytes(data))
    errors = {p.source: p.error for p in iter_pages([path])}
    assert errors == {
        "../../etc/evil.png": "Đường dẫn không an toàn trong ZIP, bỏ qua (trong odd.zip)",
        "inner.zip": "Tệp ZIP lồng trong odd.zip: hãy giải nén ra trước, bỏ qua",
        "locked.png": "Tệp trong ZIP có đặt mật khẩu, không giải nén được (trong odd.zip)",
        "notes.txt": f"{sources.NOT_A_STACK} (trong odd.zip)",
        "odd-method.png": "Tệp trong ZIP nén theo cách không hỗ trợ (mã 9), bỏ qua (trong odd.zip)",
    }


def test_a_zip_of_folders_only_and_a_self_extracting_zip(tmp_path):
    folders = tmp_path / "folders.zip"
    with zipfile.ZipFile(folders, "w") as zf:
        zf.mkdir("a")
        zf.mkdir("a/b")
    assert [(p.source, p.error) for p in iter_pages([folders])] == [
        ("folders.zip", "Tệp ZIP không chứa tệp nào (chỉ có thư mục)")
    ]
    sfx = tmp_path / "setup.exe"
    sfx.write_bytes(b"MZ" + os.urandom(3000) + _zip({"p.png": _png_of(5)}))
    assert [(p.source, p.error) for p in iter_pages([sfx])] == [("p.png", None)]


def _pdf(n: int) -> bytes:
    frames = [Image.new("L", (200, 280), 40 * i) for i in range(n)]
    buf = io.BytesIO()
    frames[0].save(buf, "PDF", save_all=True, append_images=frames[1:], resolution=50)
    return buf.getvalue()


@pytest.mark.parametrize("by_reference", [True, False])
def test_damaged_pdfs_keep_what_can_be_read(tmp_path, by_reference):
    whole = _pdf(4)
    (tmp_path / "cut.pdf").write_bytes(whole[:-100])
    (tmp_path / "junk.pdf").write_bytes(b"X-Mailer: gateway\r\n" * 40 + whole)
    empty = io.BytesIO()
    pikepdf.new().save(empty)
    (tmp_path / "none.pdf").write_bytes(empty.getvalue())
    locked = io.BytesIO()
    with pikepdf.open(io.BytesIO(whole)) as p:
        p.save(locked, encryption=pikepdf.Encryption(owner="o", user="u"))
    (tmp_path / "locked.pdf").write_bytes(locked.getvalue())
    (tmp_path / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(5000))

    def pages(name: str) -> list[tuple[int, str | None]]:
        return [(p.page, p.error) for p in map(load, iter_pages([tmp_path / name], by_reference=by_reference))]

    assert pages("cut.pdf") == [(n, None) for n in range(1, 5)]
    assert pages("junk.pdf") == [(n, None) for n in range(1, 5)]
    assert pages("none.pdf") == [(1, "PDF không có trang nào")]
    assert pages("locked.pdf") == [(1, "PDF có đặt mật khẩu, không mở được")]
    assert pages("garbage.pdf") == [(1, "PDF hỏng, không mở được")]


def test_folders_skip_what_is_not_a_file_with_a_word(tmp_path, caplog):
    root = tmp_path / "stack"
    (root / "empty").mkdir(parents=True)
    (root / "locked").mkdir()
    (root / "locked" / "hidden.png").write_bytes(_png_of(1))
    (root / "locked").chmod(0)
    (root / "good.png").write_bytes(_png_of(2))
    os.mkfifo(root / "pipe.pdf")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.png"))
    (root / "zero.jpg").symlink_to("/dev/zero")
    (root / "gone.png").symlink_to(root / "nowhere.png")
    (root / "loop").symlink_to(root)
    (root / "bad\nname.png").write_bytes(_png_of(3))
    try:
        with caplog.at_level(logging.WARNING, "omr.sources"):
            pages = list(iter_pages([root], by_reference=True))
    finally:
        (root / "locked").chmod(0o755)
        sock.close()
    root_reads_all = os.geteuid() == 0  # root reads a folder whatever its mode
    assert [(p.source, p.error) for p in pages] == [
        ("bad\\x0aname.png", None),
        ("gone.png", "Liên kết hỏng: tệp được trỏ tới không tồn tại"),
        ("good.png", None),
        *([("locked/hidden.png", None)] if root_reads_all else []),
        ("pipe.pdf", "Không phải tệp thường (ống FIFO), bỏ qua"),
        ("sock.png", "Không phải tệp thường (socket), bỏ qua"),
        ("zero.jpg", "Không phải tệp thường (thiết bị), bỏ qua"),
    ]
    said = [r.getMessage() for r in caplog.records]
    assert "Bỏ qua thư mục empty: thư mục rỗng, không có tệp nào" in said
    assert "Bỏ qua loop: liên kết tới một thư mục khác" in said
    if not root_reads_all:
        assert "Bỏ qua thư mục locked: không có quyền đọc" in said


def test_a_png_cut_short_or_damaged_is_refused_before_decoding(tmp_path):
    good = _png_of(7)
    flipped = bytearray(good)
    flipped[45] ^= 0x10
    assert [p.error for p in _pages_of(tmp_path, "a.png", good)] == [None]
    assert [p.error for p in _pages_of(tmp_path, "b.png", good[:-20])] == [sources.TRUNCATED_PNG]
    assert [p.error for p in _pages_of(tmp_path, "c.png", bytes(flipped))] == [sources.TRUNCATED_PNG]


def test_errors_of_pages_inside_a_zip_name_the_zip(tmp_path):
    path = tmp_path / "stack.zip"
    path.write_bytes(_zip({"a.pdf": _pdf(2)[:400], "b.png": _png_of(1)[:30], "c.pdf": _pdf(2)}))
    assert [(p.source, p.page, p.error) for p in iter_pages([path])] == [
        ("a.pdf", 1, "PDF hỏng, không mở được (trong stack.zip)"),
        ("b.png", 1, f"{sources.BROKEN_IMAGE} (trong stack.zip)"),  # cut inside its header
        ("c.pdf", 1, None),
        ("c.pdf", 2, None),
    ]
