"""What scanners and copiers do to a page: resolution, skew, turned pages, cropping, tint, blur,
noise, JPEG, thresholding to one bit.

``Degrade`` holds the ranges; ``draw_scan`` picks one page's settings from them; ``scan`` applies
them to a clean page raster. Work happens at the output resolution (after one resample), so a
150-dpi page costs a quarter of a 300-dpi one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

from samples.sheet import MASTER_DPI

STANDARD_DPI = (150, 200, 240, 300, 400, 600)


@dataclass(frozen=True)
class Degrade:
    """Ranges and probabilities of scanner damage; ``FULL`` is the worst the reader must handle."""

    skew_deg: float = 10.0  # uniform in ±skew_deg
    p_upside_down: float = 0.12
    p_quarter_turn: float = 0.05  # fed sideways: 90 or 270
    crop_mm: float = 3.5  # each edge loses up to this much (markers are 8.5 mm in)
    p_blur: float = 0.5
    blur_mm: float = 0.08  # Gaussian sigma, at most: a soft scanner's optics (0.5 px at 150 dpi)
    noise: float = 5.0  # Gaussian sigma in grey levels, at most
    tint: float = 30.0  # paper greyer than white by up to this many levels
    contrast: float = 0.15  # contrast varies by ±this
    p_bilevel: float = 0.12
    p_colour: float = 0.08
    jpeg_quality: tuple[int, int] = (50, 90)
    p_specks: float = 0.5  # dust: a few specks of 0.1-0.2 mm
    p_show_through: float = 0.5  # blank backs: the front faintly visible through the paper

    def scaled(self, level: float) -> Degrade:
        """Everything times ``level`` (0: a perfect scan, 1: this)."""
        level = min(max(level, 0.0), 1.0)
        scaled = {f.name: getattr(self, f.name) * level for f in fields(self) if f.name != "jpeg_quality"}
        lo, hi = self.jpeg_quality
        quality = (round(95 - (95 - lo) * level), round(95 - (95 - hi) * level))
        return replace(self, **scaled, jpeg_quality=quality)


FULL = Degrade()
LIGHT = FULL.scaled(0.35)
NONE = FULL.scaled(0.0)
PRESETS = {"none": NONE, "light": LIGHT, "full": FULL, "heavy": FULL}


def resolve(degrade: bool | float | str | Degrade) -> Degrade:
    if isinstance(degrade, Degrade):
        return degrade
    if isinstance(degrade, bool):
        return FULL if degrade else NONE
    if isinstance(degrade, str):
        try:
            return PRESETS[degrade]
        except KeyError:
            raise ValueError(f"unknown degrade level {degrade!r} (one of {', '.join(PRESETS)} or 0..1)") from None
    return FULL.scaled(float(degrade))


@dataclass(frozen=True)
class Scan:
    """One page's scanner settings: recorded in the truth file."""

    dpi: int
    skew: float  # degrees, counter-clockwise as seen on the image
    rotation: int  # 0/90/180/270: how far the sheet was turned clockwise
    crop_mm: tuple[float, float, float, float]  # left, top, right, bottom
    mode: str  # grey | colour | bilevel
    quality: int | None  # JPEG quality; None: lossless
    blur: float  # Gaussian sigma, mm
    noise: float
    paper: float  # paper grey level (255 white)
    contrast: float
    specks: int
    show_through: float  # 0, or the strength of the front showing through a blank back

    def as_dict(self) -> dict:
        d = asdict(self)
        d["skew"] = round(self.skew, 3)
        d["crop_mm"] = [round(v, 2) for v in self.crop_mm]
        for k in ("blur", "noise", "paper", "contrast", "show_through"):
            d[k] = round(d[k], 3)
        return d


def dpi_choices(dpi: int | tuple[int, int]) -> list[int]:
    """A fixed dpi, or the scanner settings people use within a range."""
    if isinstance(dpi, int):
        return [dpi]
    lo, hi = dpi
    within = [d for d in STANDARD_DPI if lo <= d <= hi]
    return within or [lo, hi]


def draw_scan(d: Degrade, dpi: int | tuple[int, int], rng: np.random.Generator, blank: bool = False) -> Scan:
    r = rng.random
    turn = 0
    u = r()
    if u < d.p_upside_down:
        turn = 180
    elif u < d.p_upside_down + d.p_quarter_turn:
        turn = int(rng.choice([90, 270]))
    mode = "grey"
    u = r()
    if u < d.p_bilevel:
        mode = "bilevel"
    elif u < d.p_bilevel + d.p_colour:
        mode = "colour"
    lo, hi = d.jpeg_quality
    quality = None if d == NONE else int(rng.integers(min(lo, hi), max(lo, hi) + 1))
    return Scan(
        dpi=int(rng.choice(dpi_choices(dpi))),
        skew=float(rng.uniform(-d.skew_deg, d.skew_deg)),
        rotation=turn,
        crop_mm=tuple(float(v) for v in rng.uniform(0, d.crop_mm, 4)),
        mode=mode,
        quality=quality,
        blur=float(rng.uniform(0.25, 1.0)) * d.blur_mm if r() < d.p_blur else 0.0,
        noise=float(rng.uniform(0, d.noise)),
        paper=255.0 - float(rng.uniform(0, d.tint)),
        contrast=1.0 + float(rng.uniform(-d.contrast, d.contrast)),
        specks=int(rng.integers(1, 12)) if r() < d.p_specks else 0,
        show_through=float(rng.uniform(0.015, 0.045)) if blank and r() < d.p_show_through else 0.0,
    )


def _place(img: np.ndarray, s: Scan, border: float) -> np.ndarray:
    """Skew and turn the page inside a scan window large enough to hold it, less the scanner's crop."""
    h, w = img.shape
    k = s.dpi / 25.4
    angle = s.skew - s.rotation  # cv2 turns counter-clockwise for positive angles
    if abs(s.skew) < 1e-6:
        out = np.rot90(img, k=s.rotation // 90 * -1 % 4)  # np.rot90 turns counter-clockwise
        cl, ct, cr, cb = (round(c * k) for c in s.crop_mm)
        oh, ow = out.shape
        return np.ascontiguousarray(out[ct : oh - cb, cl : ow - cr])
    M = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(M[0, 0]), abs(M[0, 1])
    bw, bh = w * cos + h * sin, w * sin + h * cos
    left, top, right, bottom = (c * k for c in s.crop_mm)
    M[0, 2] += bw / 2 - w / 2 - left
    M[1, 2] += bh / 2 - h / 2 - top
    size = (max(1, round(bw - left - right)), max(1, round(bh - top - bottom)))
    return cv2.warpAffine(img, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def scan(clean: np.ndarray, s: Scan, rng: np.random.Generator, front: np.ndarray | None = None) -> np.ndarray:
    """A clean grey page (paper 255, at MASTER_DPI) as the scanner delivers it: uint8 grey, RGB, or
    bool (True = white) for bilevel."""
    img = clean
    if s.show_through and front is not None:
        # the front, mirrored, faintly through the paper
        ghost = cv2.GaussianBlur(np.ascontiguousarray(np.fliplr(front)), (0, 0), 3)
        img = cv2.addWeighted(ghost, s.show_through, ghost, 0.0, 255.0 * (1 - s.show_through))
    if s.dpi != MASTER_DPI:
        h, w = img.shape
        f = s.dpi / MASTER_DPI
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    if s.blur:
        img = cv2.GaussianBlur(img, (0, 0), s.blur * s.dpi / 25.4)
    if s.specks:
        img = _specks(img, s, rng)
    img = _place(img, s, 255.0)
    if s.paper < 255 or s.contrast != 1:
        # exposure: paper goes to ``paper``, ink keeps its depth scaled by contrast (saturating)
        gain = s.contrast * s.paper / 255.0
        img = cv2.addWeighted(img, gain, img, 0.0, s.paper - 255.0 * gain)
    if s.noise:
        # sensor noise; cv2's generator (seeded from the page's) is 3x faster than numpy's here
        noise = np.empty(img.shape, np.int16)
        cv2.setRNGSeed(int(rng.integers(2**31)))
        cv2.randn(noise, 0, s.noise)
        img = cv2.add(img, noise, dtype=cv2.CV_8U)
    if s.mode == "bilevel":
        # a scanner's fixed threshold, placed relative to this page's paper
        return img > s.paper * 0.62
    if s.mode == "colour":
        # warm paper and a scanner's slightly uneven channels
        return cv2.merge([img, cv2.convertScaleAbs(img, alpha=0.985), cv2.convertScaleAbs(img, alpha=0.94)])
    return img


def _specks(img: np.ndarray, s: Scan, rng: np.random.Generator) -> np.ndarray:
    """Dust on the glass: single dark pixels (0.1-0.2 mm), never the size of a mark."""
    img = img.copy()
    h, w = img.shape
    side = max(1, round(0.1 * s.dpi / 25.4))
    for _ in range(s.specks):
        x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        img[y : y + side, x : x + side] = int(rng.integers(40, 160))
    return img
