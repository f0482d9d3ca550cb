"""Broken, malicious and odd scanner inputs for the hostile-input suite (tests/test_hostile_inputs.py).

``build(root, good)`` writes well over 200 of them under ``root`` and returns one ``Case`` each: the
path to give ``omr scan`` and what must come of it. Every name a case puts on a line (file, folder
or ZIP entry) carries the case's tag ``hNNN-``, so the lines of a mixed batch can be told apart.
What is made: empty files, files cut short and with bytes flipped (PNG, JPEG, TIFF, PDF, ZIP), noise
with a stack file's extension, pictures that are no sheet, decompression bombs and huge declared
sizes, ZIP slip names, nested, encrypted, bad-CRC, unsupported and folder-only ZIPs, wrong
extensions, junk before the header (PDF, ZIP, PNG), damaged TIFF frames (fax data libtiff complains
about), damaged PDF pages, encrypted and page-less PDFs, symbolic links (to devices, nowhere, a
folder), FIFOs, sockets, empty and unreadable folders, and names with markup, control characters,
bytes that are not UTF-8 and unusual Unicode.
"""

from __future__ import annotations

import io
import os
import random
import socket
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image

ERROR = "error"  # one error line per page (and its line on stderr)
READ = "read"  # pages read and stored (any status but error)
ANY = "any"  # what comes of it depends on how much survives; never silence, never a lost page
SKIP = "skip"  # no page: one notice on stderr


@dataclass
class Case:
    tag: str  # hNNN: in every name the case puts on a line
    kind: str
    path: Path  # what to give omr scan
    expect: str
    lines: int | None = 1  # JSON lines it gives (None: at least one)
    reason: str | None = None  # for ERROR: part of the reason its lines must give
    notice: str | None = None  # for SKIP: part of its stderr line
    # for ANY, where known: the pages that must be errors (end of their source, page); all others read
    errors_at: set[tuple[str, int]] | None = None
    sockets: list[socket.socket] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Good:
    """Real pages of printed sheets, the material many broken inputs are made from."""

    pdf: bytes  # a scanner-style PDF of several sheets, one JPEG a page
    pages: int
    png: bytes  # one sheet
    jpeg: bytes  # one sheet
    tiff_g4: bytes  # two sheets, bilevel, CCITT G4


def _png(img: np.ndarray | Image.Image) -> bytes:
    buf = io.BytesIO()
    (img if isinstance(img, Image.Image) else Image.fromarray(img)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", **kw)
    return buf.getvalue()


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _patch_zip(data: bytes, name: str, flag: int = 0, method: int | None = None) -> bytes:
    """Set a flag bit or the compression method of entry ``name`` in its local and central headers."""
    out = bytearray(data)
    for sig, name_at, flag_at, method_at in ((b"PK\x03\x04", 30, 6, 8), (b"PK\x01\x02", 46, 8, 10)):
        at = out.find(sig)
        while out[at + name_at : at + name_at + len(name)] != name.encode():
            at = out.find(sig, at + 1)
        out[at + flag_at] |= flag
        if method is not None:
            out[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
    return bytes(out)


def _flip(data: bytes, rng: random.Random, count: int, start: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        i = rng.randrange(min(start, len(out) - 1), len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _photo(seed: int, shape=(1100, 800)) -> np.ndarray:
    """Something photographed that is not a sheet: smooth blobs and texture."""
    rng = np.random.default_rng(seed)
    small = rng.random((shape[0] // 50, shape[1] // 50)) * 255
    big = np.asarray(Image.fromarray(small.astype(np.uint8)).resize(shape[::-1], Image.Resampling.BICUBIC))
    return np.clip(big + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)


def _bomb_png(w: int, h: int) -> bytes:
    """A valid PNG header declaring w x h pixels, with a few KB of zeros compressed behind it."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100_000, 9))
        + chunk(b"IEND", b"")
    )


def _tiff(frames: list[Image.Image], **kw) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], **kw)
    return buf.getvalue()


def _tiff_strip(data: bytes, frame: int) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.seek(frame)
        return im.tag_v2[273][0], im.tag_v2[279][0]


def _pdf_of(images: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return buf.getvalue()


class _Maker:
    def __init__(self, root: Path):
        self.root = root
        self.cases: list[Case] = []

    def tag(self) -> str:
        return f"h{len(self.cases):03d}"

    def file(self, kind: str, name: str, data: bytes, expect: str, lines: int | None = 1, **kw) -> Case:
        tag = self.tag()
        path = self.root / f"{tag}-{name}"
        path.write_bytes(data)
        case = Case(tag, kind, path, expect, lines, **kw)
        self.cases.append(case)
        return case

    def folder(self, kind: str, fill: Callable[[Path, str], None], expect: str, lines: int | None, **kw) -> Case:
        tag = self.tag()
        path = self.root / f"{tag}-{kind}"
        path.mkdir()
        case = Case(tag, kind, path, expect, lines, **kw)
        fill(path, tag)
        self.cases.append(case)
        return case


def build(root: Path, good: Good) -> list[Case]:
    """Write every hostile input under ``root``; the cases, in a fixed order."""
    root.mkdir(parents=True, exist_ok=True)
    m = _Maker(root)
    rng = random.Random(20261201)
    _empty_and_noise(m, rng)
    _cut_and_flipped(m, good, rng)
    _pictures_and_bombs(m, good)
    _zips(m, good)
    _misnamed_and_prefixed(m, good)
    _tiffs(m, good)
    _pdfs(m, good)
    _names(m, good)
    _special_files(m, good)
    return m.cases


def _empty_and_noise(m: _Maker, rng: random.Random) -> None:
    for ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf", ".zip", ".bmp"):
        m.file("empty file", f"empty{ext}", b"", ERROR, reason="Tệp rỗng")
    for ext in (".png", ".jpg", ".tif", ".pdf", ".zip", ".bmp"):
        m.file("noise", f"noise{ext}", rng.randbytes(3000), ERROR, reason="Không phải tệp ảnh")
    m.file("text", "readme.pdf", "Đây không phải là PDF\n".encode(), ERROR, reason="Không phải tệp ảnh")
    m.file("html", "page.png", b"<html><script>alert(1)</script></html>", ERROR, reason="Không phải tệp ảnh")
    for head in (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"PK\x03\x04", b"BM"):
        m.file("header only", f"header-only-{head[1:3].hex()}.bin", head, ANY)


def _cut_and_flipped(m: _Maker, good: Good, rng: random.Random) -> None:
    def archive() -> bytes:  # a ZIP of two pages whose entries carry the tag of the case about to be made
        return _zip({f"{m.tag()}-in-{n}.png": good.png for n in range(2)}, zipfile.ZIP_STORED)

    makers = {".png": lambda: good.png, ".jpg": lambda: good.jpeg, ".tif": lambda: good.tiff_g4}
    makers |= {".pdf": lambda: good.pdf, ".zip": archive}
    for ext, data in makers.items():
        for share in (0.02, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99):
            whole = data()
            m.file("cut short", f"cut-{int(share * 100)}{ext}", whole[: int(len(whole) * share)], ANY, None)
        m.file("cut short", f"cut-last-100{ext}", data()[:-100], ANY, None)
        for seed in range(10):
            flipped = _flip(data(), rng, count=1 + seed * 3, start=64)
            m.file("bytes flipped", f"flipped-{seed}{ext}", flipped, ANY, None)
    # the PDF's last 100 bytes gone (its cross-reference table and trailer): every page is kept
    m.file("PDF cut at the end", "cut-tail.pdf", good.pdf[:-100], READ, good.pages)


def _pictures_and_bombs(m: _Maker, good: Good) -> None:
    for seed in range(3):
        m.file("photo, no sheet", f"photo-{seed}.jpg", _jpeg(_photo(seed)), READ)
        m.file("photo, no sheet", f"photo-{seed}.png", _png(_photo(seed + 10)), READ)
    m.file("tiny picture", "one-pixel.png", _png(np.zeros((1, 1), np.uint8)), READ)
    m.file("tiny picture", "one-pixel.jpg", _jpeg(np.full((8, 8), 255, np.uint8)), READ)
    m.file("white page", "white.png", _png(np.full((1100, 800), 255, np.uint8)), READ)
    m.file("black page", "black.jpg", _jpeg(np.zeros((1100, 800), np.uint8)), READ)
    rgba = Image.fromarray(_photo(3)).convert("RGBA")
    m.file("RGBA picture", "rgba.png", _png(rgba), READ)
    m.file("16-bit PNG", "deep.png", _png(Image.fromarray(_photo(4).astype(np.uint16) * 257)), READ)
    buf = io.BytesIO()
    Image.fromarray(_photo(5)).convert("CMYK").save(buf, "JPEG")
    m.file("CMYK JPEG", "cmyk.jpg", buf.getvalue(), READ)
    buf = io.BytesIO()
    Image.fromarray(_photo(6)).save(buf, "JPEG", progressive=True)
    m.file("progressive JPEG", "progressive.jpg", buf.getvalue(), READ)
    buf = io.BytesIO()
    Image.fromarray(_photo(7)).save(buf, "BMP")
    m.file("BMP picture", "photo.bmp", buf.getvalue(), READ)
    bad_exif = Image.fromarray(_photo(8))
    buf = io.BytesIO()
    bad_exif.save(buf, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    m.file("JPEG with broken EXIF", "bad-exif.jpg", buf.getvalue(), READ)
    for w, h in ((60_000, 60_000), (100_000, 1_000), (9_000, 9_000), (30_000, 30_000)):
        m.file("decompression bomb", f"bomb-{w}x{h}.png", _bomb_png(w, h), ERROR, reason="quá lớn")
    for w, h in ((200_000, 10), (10, 2_000_000)):  # few pixels in all, but far fewer bytes than they need
        m.file("odd dimensions, data short", f"odd-{w}x{h}.png", _bomb_png(w, h), ERROR, reason="không giải mã được")
    huge_jpeg = bytearray(good.jpeg)
    sof = huge_jpeg.find(b"\xff\xc0")
    huge_jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    m.file("JPEG declaring 65000x65000", "huge.jpg", bytes(huge_jpeg), ERROR, reason="quá lớn")
    big_tiff = bytearray(_tiff([Image.new("1", (64, 64), 1)], compression="group4"))
    with Image.open(io.BytesIO(bytes(big_tiff))) as im:
        del im  # the header's width and length fields: rewritten below
    for tag, value in ((256, 90_000), (257, 90_000)):
        at = _ifd_entry(bytes(big_tiff), tag)
        big_tiff[at + 2 : at + 4] = struct.pack("<H", 4)  # LONG
        big_tiff[at + 8 : at + 12] = struct.pack("<I", value)
    m.file("TIFF declaring 90000x90000", "huge.tif", bytes(big_tiff), ERROR, reason="quá lớn")
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(14_400, 14_400))  # the largest page PDF allows, 200 inches a side
    buf = io.BytesIO()
    pdf.save(buf)
    m.file("PDF page 5 m square", "huge-page.pdf", buf.getvalue(), ERROR, reason="quá lớn")
    bomb_entry = _zip({f"{m.tag()}-bomb.png": b"\0" * 50_000_000})
    m.file("ZIP bomb", "bomb.zip", bomb_entry, ERROR, reason="quá lớn")


def _ifd_entry(data: bytes, tag: int) -> int:
    """Offset of the first IFD's entry for ``tag`` in a little-endian TIFF."""
    (ifd,) = struct.unpack("<I", data[4:8])
    (n,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(n):
        at = ifd + 2 + 12 * i
        if struct.unpack("<H", data[at : at + 2])[0] == tag:
            return at
    raise KeyError(tag)


def _zips(m: _Maker, good: Good) -> None:
    def tagged(entries: dict[str, bytes]) -> dict[str, bytes]:
        t = m.tag()
        return {name.replace("@", f"{t}-"): data for name, data in entries.items()}

    for name in ("../@evil.png", "../../etc/@passwd.png", "/tmp/@abs.png", "a/../../@up.png", "..\\@win.png"):
        m.file("ZIP slip", "slip.zip", _zip(tagged({name: good.png})), ERROR, reason="không an toàn")
    inner = _zip({"p.png": good.png})
    m.file("nested ZIP", "nested.zip", _zip(tagged({"@inner.zip": inner})), ERROR, reason="ZIP lồng")
    m.file("nested ZIP", "nested2.zip", _zip(tagged({"@mid.zip": _zip({"in.zip": inner})})), ERROR, reason="ZIP lồng")
    entries = tagged({"@a.png": good.png, "@b.png": _png(_photo(1)), "@c.png": good.png})
    stored = _zip(entries, zipfile.ZIP_STORED)
    bad_crc = bytearray(stored)
    at = bad_crc.find(entries[next(n for n in entries if n.endswith("b.png"))]) + 500
    bad_crc[at] ^= 0xFF
    m.file("ZIP entry with a bad CRC", "bad-crc.zip", bytes(bad_crc), ANY, 3, errors_at={("b.png", 1)})
    whole = _zip(tagged({"@a.png": good.png}))
    m.file("ZIP cut in half", "cut.zip", whole[: len(whole) // 2], ERROR, reason="ZIP")
    locked = _zip(tagged({"@locked.png": good.png, "@open.png": _png(_photo(2))}))
    t = m.tag()
    m.file("ZIP entry with a password", "locked.zip", _patch_zip(locked, f"{t}-locked.png", flag=1), ANY, 2,
           errors_at={("locked.png", 1)})  # fmt: skip
    odd = _zip(tagged({"@odd.png": good.png, "@fine.png": _png(_photo(3))}))
    t = m.tag()
    m.file("ZIP entry, unknown method", "method.zip", _patch_zip(odd, f"{t}-odd.png", method=9), ANY, 2,
           errors_at={("odd.png", 1)})  # fmt: skip
    folders = io.BytesIO()
    with zipfile.ZipFile(folders, "w") as zf:
        zf.mkdir("scans")
        zf.mkdir("scans/2026")
    m.file("ZIP of folders only", "folders.zip", folders.getvalue(), ERROR, reason="không chứa tệp nào")
    m.file("empty ZIP", "nothing.zip", _zip({}), ERROR, reason="không chứa tệp nào")
    m.file("ZIP of a text file", "text.zip", _zip(tagged({"@notes.txt": b"hello"})), ERROR, reason="Không phải")
    m.file("ZIP of a 0-byte entry", "zero.zip", _zip(tagged({"@zero.png": b""})), ERROR, reason="Tệp rỗng")
    m.file("ZIP of broken pages", "broken.zip", _zip(tagged({"@a.png": good.png[:900], "@b.pdf": good.pdf[:700]})),
           ERROR, 2)  # fmt: skip
    m.file("ZIP with a good PDF", "pdf.zip", _zip(tagged({"@stack.pdf": good.pdf})), READ, good.pages)
    m.file("ZIP with markup names", "markup.zip", _zip(tagged({"@<b>x</b>.png": good.png})), READ)


def _misnamed_and_prefixed(m: _Maker, good: Good) -> None:
    m.file("PNG named .pdf", "really-png.pdf", good.png, READ)
    m.file("PDF named .jpg", "really-pdf.jpg", good.pdf, READ, good.pages)
    m.file("JPEG named .tif", "really-jpeg.tif", good.jpeg, READ)
    m.file("TIFF named .png", "really-tiff.png", good.tiff_g4, READ, 2)
    m.file("ZIP named .png", "really-zip.png", _zip({f"{m.tag()}-in.png": good.png}), READ)
    m.file("PNG without extension", "no-extension", good.png, READ)
    m.file("junk before %PDF", "junk.pdf", b"Content-Type: application/pdf\r\n\r\n" * 30 + good.pdf, READ, good.pages)
    m.file("self-extracting ZIP", "setup.exe", b"MZ" + bytes(4000) + _zip({f"{m.tag()}-p.png": good.png}), READ)
    m.file("junk before a PNG", "junk.png", b"JUNK" * 10 + good.png, ERROR, reason="Không phải")


def _tiffs(m: _Maker, good: Good) -> None:
    frames = [Image.fromarray(_photo(s)).convert("1") for s in range(3)]
    g4 = _tiff(frames, compression="group4")
    broken = bytearray(g4)
    offset, size = _tiff_strip(g4, 1)
    broken[offset : offset + size] = bytes(size)  # fax codes that are no codes: libtiff complains
    m.file("G4 TIFF with a broken frame", "fax-broken.tif", bytes(broken), ANY, 3, errors_at={(".tif", 2)})
    lzw = _tiff([Image.fromarray(_photo(s)) for s in range(3)], compression="tiff_lzw")
    broken = bytearray(lzw)
    offset, size = _tiff_strip(lzw, 1)
    broken[offset : offset + size] = b"\xff" * size
    m.file("LZW TIFF with a broken frame", "lzw-broken.tif", bytes(broken), ANY, 3, errors_at={(".tif", 2)})
    deflate = _tiff([Image.fromarray(_photo(s)) for s in range(2)], compression="tiff_adobe_deflate")
    broken = bytearray(deflate)
    offset, size = _tiff_strip(deflate, 0)
    broken[offset + 10 : offset + size] = b"\x00" * (size - 10)
    m.file("Deflate TIFF with a broken frame", "zip-broken.tif", bytes(broken), ANY, 2, errors_at={(".tif", 1)})
    looped = bytearray(_tiff([Image.new("L", (40, 40), 128)]))
    (ifd,) = struct.unpack("<I", looped[4:8])
    (n,) = struct.unpack("<H", looped[ifd : ifd + 2])
    looped[ifd + 2 + 12 * n : ifd + 6 + 12 * n] = struct.pack("<I", ifd)  # the next frame is this one again
    m.file("TIFF whose frames loop", "loop.tif", bytes(looped), ANY, None)
    m.file("good G4 TIFF", "fax.tif", good.tiff_g4, READ, 2)


def _pdfs(m: _Maker, good: Good) -> None:
    empty = io.BytesIO()
    pikepdf.new().save(empty)
    m.file("PDF without pages", "no-pages.pdf", empty.getvalue(), ERROR, reason="PDF không có trang nào")
    locked = io.BytesIO()
    with pikepdf.open(io.BytesIO(good.pdf)) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="chủ", user="khách"))
    m.file("PDF with a password", "locked.pdf", locked.getvalue(), ERROR, reason="mật khẩu")
    damaged = io.BytesIO()
    with pikepdf.open(io.BytesIO(good.pdf)) as pdf:
        image = next(iter(pdf.pages[1].get_images().values()))
        image.write(image.read_raw_bytes()[:2000], filter=pikepdf.Name.DCTDecode)  # page 2's JPEG cut short
        pdf.save(damaged)
    # the other pages are read, the damaged one is its error line
    m.file("PDF with a damaged page", "damaged-page.pdf", damaged.getvalue(), ANY, good.pages, errors_at={(".pdf", 2)})
    scripted = io.BytesIO()
    with pikepdf.open(io.BytesIO(good.pdf)) as pdf:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        pdf.save(scripted)
    m.file("PDF with JavaScript", "script.pdf", scripted.getvalue(), READ, good.pages)
    m.file("PDF of photos", "photos.pdf", _pdf_of([Image.fromarray(_photo(s)) for s in range(2)]), READ, 2)
    m.file("PDF header, no body", "header.pdf", b"%PDF-1.7\n%%EOF\n", ERROR, reason="PDF hỏng")


def _names(m: _Maker, good: Good) -> None:
    names = (
        "<img src=x onerror=alert(1)>.png",
        "<svg onload=alert('x')>.jpg",
        '"; DROP TABLE pages; --.png',
        "Phiếu khảo sát phường Kiến Hưng.png",
        "\u202egnp.exe.png",  # right-to-left override
        "zero\u200bwidth\ufeff.png",
        "emoji 📄🗳️.png",
        "line\nbreak.png",
        "tab\tand\rreturn.png",
        "ANSI \x1b[31mred\x1b[0m.png",
        "x" * 200 + ".png",
        "%s%n%x.png",
        "$(touch pwned).png",
        "ﬁ ligature and Ⅻ and ½.png",
        "combining e\u0301\u0323.png",
    )
    for name in names:
        m.file("odd name", name, good.png, READ)
    for name in ("<b>broken<b>.png", "line\nbreak-broken.pdf"):
        m.file("odd name, broken file", name, b"\x89PNG\r\n\x1a\n broken", ERROR)
    t = m.tag()
    path = m.root / os.fsdecode(f"{t}-latin1-".encode() + b"caf\xe9.png")  # not UTF-8
    path.write_bytes(good.png)
    m.cases.append(Case(t, "name not UTF-8", path, READ))


def _special_files(m: _Maker, good: Good) -> None:
    def links(folder: Path, t: str) -> None:
        (folder / f"{t}-zero.png").symlink_to("/dev/zero")
        (folder / f"{t}-null.pdf").symlink_to("/dev/null")
        (folder / f"{t}-urandom.jpg").symlink_to("/dev/urandom")
        (folder / f"{t}-nowhere.png").symlink_to(folder / "missing.png")
        (folder / f"{t}-loop").symlink_to(folder)
        (folder / f"{t}-real.png").write_bytes(good.png)
        (folder / f"{t}-alias.png").symlink_to(folder / f"{t}-real.png")

    m.folder("symbolic links", links, ANY, 6, notice="liên kết tới một thư mục khác")

    def pipes(folder: Path, t: str) -> None:
        os.mkfifo(folder / f"{t}-pipe.pdf")
        os.mkfifo(folder / f"{t}-pipe.zip")
        os.mkfifo(folder / f"{t}-pipe.tif")

    m.folder("FIFOs", pipes, ERROR, 3, reason="ống FIFO")
    case = m.folder("socket", lambda f, t: None, ERROR, 1, reason="socket")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(case.path / f"{case.tag}-sock.png"))
    case.sockets.append(sock)
    m.folder("empty folder", lambda f, t: None, SKIP, 0, notice="thư mục rỗng")

    def nested_empty(folder: Path, t: str) -> None:
        (folder / f"{t}-inner").mkdir()
        (folder / f"{t}-page.png").write_bytes(good.png)

    m.folder("empty sub-folder", nested_empty, READ, 1, notice="thư mục rỗng")

    def unreadable(folder: Path, t: str) -> None:
        (folder / f"{t}-locked").mkdir()
        (folder / f"{t}-locked" / f"{t}-hidden.png").write_bytes(good.png)
        (folder / f"{t}-locked").chmod(0)
        (folder / f"{t}-page.png").write_bytes(good.png)

    # root reads every folder whatever its mode: then the hidden page is read too
    m.folder("unreadable sub-folder", unreadable, READ, None if os.geteuid() == 0 else 1,
             notice=None if os.geteuid() == 0 else "không có quyền đọc")  # fmt: skip

    def unreadable_file(folder: Path, t: str) -> None:
        (folder / f"{t}-secret.png").write_bytes(good.png)
        (folder / f"{t}-secret.png").chmod(0)

    m.folder("unreadable file", unreadable_file, READ if os.geteuid() == 0 else ERROR, 1)


def cleanup(cases: list[Case]) -> None:
    """Give back what the cases hold open, and make every folder removable again."""
    for case in cases:
        for sock in case.sockets:
            sock.close()
        if case.path.is_dir() and not case.path.is_symlink():
            for p in case.path.rglob("*"):
                if p.is_dir() and not p.is_symlink():
                    p.chmod(0o755)
