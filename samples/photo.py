"""What a phone camera does to a sheet lying on a desk: perspective, any rotation, a desk around it,
uneven light (a gradient, vignetting, a soft shadow), blur, sensor noise, colour and JPEG.

``Camera`` holds the ranges; ``draw_shot`` picks one photo's settings from them; ``photograph`` turns
a clean page raster (what ``samples.fill`` paints, before any scanner) into the photo. The sheet is
placed by projecting its corners through a pinhole camera tilted over the desk, so the perspective
is a real camera's, and the page is resampled once, straight to the frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from samples.sheet import MASTER_DPI

# The phone is held about this many page heights above the sheet (a 297 mm page at ~45 cm): it sets
# how strongly a tilt foreshortens the far edge.
CAMERA_DISTANCE_PAGES = 1.6
FRAME_ASPECT = 4 / 3  # phone sensors
# Desk surfaces the sheet lies on, RGB before lighting: dark wood, light wood, grey laminate, a dark cloth.
DESKS = ((92, 60, 38), (150, 110, 72), (118, 118, 112), (48, 50, 58))


@dataclass(frozen=True)
class Camera:
    """Ranges of what a phone photo does to a sheet; the defaults are the worst the reader must handle."""

    megapixels: tuple[float, float] = (8.0, 16.0)
    fill: tuple[float, float] = (0.5, 0.9)  # the sheet's extent over the frame's, on its tighter axis
    tilt_deg: float = 20.0  # camera tilted from straight above by up to this, towards any side
    light: float = 0.35  # one side of the frame darker than the other by up to this share
    vignette: float = 0.25  # corners darker than the centre by up to this share
    p_shadow: float = 0.5
    shadow: float = 0.35  # a soft shadow (a hand, the phone) darkens by up to this share
    blur_px: tuple[float, float] = (0.5, 1.6)  # Gaussian sigma at the frame's resolution: focus and shake
    noise: float = 4.0  # Gaussian sigma in grey levels, at most
    jpeg_quality: tuple[int, int] = (75, 92)
    # a lamp's reflection blown out to white: no reader can see marks under it, so off by default
    p_glare: float = 0.0


PHONE = Camera()
GLARE_SIGMA = 0.05  # the reflection's size (Gaussian sigma) as a share of the frame's long side


@dataclass(frozen=True)
class Shot:
    """One photo's settings: recorded in the truth file."""

    size: tuple[int, int]  # frame width, height in px
    fill: float
    turn_deg: float  # the sheet turned clockwise on the desk (0..360)
    tilt_deg: float
    tilt_towards_deg: float  # direction of the tilt in the sheet's plane
    centre: tuple[float, float]  # where the sheet's middle lands, as a share of the room left in the frame
    exposure: float  # the paper's grey at the brightest spot (255 white)
    white_balance: tuple[float, float, float]  # RGB gains of the paper
    desk: tuple[int, int, int]
    light: float
    light_towards_deg: float
    vignette: float
    shadow: float  # 0: no shadow
    shadow_at: tuple[float, float]  # shadow centre, share of the frame
    glare: float  # 0: none; else the reflection's peak brightness over the paper's, as a share of 255
    glare_at: tuple[float, float]  # on the sheet: its middle plus this share of its extent
    blur: float
    noise: float
    quality: int

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def draw_shot(c: Camera, rng: np.random.Generator) -> Shot:
    r = rng.uniform
    mpx = r(*c.megapixels) * 1e6
    short = round((mpx / FRAME_ASPECT) ** 0.5)
    long = round(short * FRAME_ASPECT)
    # people mostly hold the phone upright for a page, now and then sideways
    size = (short, long) if rng.random() < 0.75 else (long, short)
    warm = r(-0.06, 0.06)  # tungsten-warm to daylight-cool
    return Shot(
        size=size,
        fill=float(r(*c.fill)),
        turn_deg=float(r(0, 360)),
        tilt_deg=float(r(0, c.tilt_deg)),
        tilt_towards_deg=float(r(0, 360)),
        centre=(float(r(0.2, 0.8)), float(r(0.2, 0.8))),
        exposure=float(r(200, 245)),
        white_balance=(1.0, float(1 - abs(warm) / 2), float(1 - warm - 0.04)),
        desk=DESKS[int(rng.integers(len(DESKS)))],
        light=float(r(0, c.light)),
        light_towards_deg=float(r(0, 360)),
        vignette=float(r(0, c.vignette)),
        shadow=float(r(0.1, 1.0)) * c.shadow if rng.random() < c.p_shadow else 0.0,
        shadow_at=(float(r(0, 1)), float(r(0, 1))),
        glare=float(r(0.6, 1.2)) if rng.random() < c.p_glare else 0.0,
        glare_at=(float(r(-0.25, 0.25)), float(r(-0.25, 0.25))),
        blur=float(r(*c.blur_px)),
        noise=float(r(0, c.noise)),
        quality=int(rng.integers(c.jpeg_quality[0], c.jpeg_quality[1] + 1)),
    )


def sheet_corners(page_size: tuple[int, int], s: Shot) -> np.ndarray:
    """Where the page's corners (TL, TR, BR, BL of a ``page_size`` raster) land in the frame, px."""
    w, h = page_size
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) - (w / 2, h / 2)
    a = np.radians(s.turn_deg)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = pts @ turn.T
    # tilt: the sheet's plane turned about an axis through its middle, seen by a pinhole camera
    d = np.radians(s.tilt_towards_deg)
    along = pts @ np.array([np.cos(d), np.sin(d)])
    depth = max(w, h) * CAMERA_DISTANCE_PAGES + along * np.sin(np.radians(s.tilt_deg))
    pts = (pts - np.outer(along * (1 - np.cos(np.radians(s.tilt_deg))), [np.cos(d), np.sin(d)])) / depth[:, None]
    # fit the sheet's extent to ``fill`` of the frame and place it in the room left over
    fw, fh = s.size
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = s.fill * min(fw / (hi[0] - lo[0]), fh / (hi[1] - lo[1]))
    pts = (pts - lo) * scale
    room = np.array([fw, fh]) - pts.max(axis=0)
    return pts + room * np.array(s.centre)


def _lighting(s: Shot) -> np.ndarray:
    """Light falling on the frame (1 = full), float32: gradient x vignetting x shadow."""
    fw, fh = s.size
    # light changes slowly: computed on a small grid and smoothly enlarged
    gw, gh = 64, round(64 * fh / fw)
    y, x = np.mgrid[0:gh, 0:gw].astype(np.float32)
    x, y = x / (gw - 1) - 0.5, y / (gh - 1) - 0.5
    d = np.radians(s.light_towards_deg)
    light = 1 - s.light * (0.5 + x * np.cos(d) + y * np.sin(d))
    light *= 1 - s.vignette * (x * x + y * y) * 2
    if s.shadow:
        sx, sy = s.shadow_at[0] - 0.5, s.shadow_at[1] - 0.5
        blob = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 0.18**2))
        light *= 1 - s.shadow * blob
    return cv2.resize(light.astype(np.float32), (fw, fh), interpolation=cv2.INTER_CUBIC)


def _glare(s: Shot, sheet: np.ndarray) -> np.ndarray:
    """Light reflected off the sheet (grey levels added, float32): a soft spot over part of it."""
    fw, fh = s.size
    (cx, cy), extent = sheet.mean(axis=0), sheet.max(axis=0) - sheet.min(axis=0)
    cx, cy = cx + s.glare_at[0] * extent[0], cy + s.glare_at[1] * extent[1]
    sigma = GLARE_SIGMA * max(fw, fh)
    x = np.exp(-(((np.arange(fw, dtype=np.float32) - cx) / sigma) ** 2) / 2)
    y = np.exp(-(((np.arange(fh, dtype=np.float32) - cy) / sigma) ** 2) / 2)
    return np.outer(y, x) * np.float32(255 * s.glare)


def _desk(s: Shot, rng: np.random.Generator) -> np.ndarray:
    """The desk's brightness texture around the sheet (float32, about 1): grain and blotches."""
    fw, fh = s.size
    grain = rng.normal(0, 1, (8, 96)).astype(np.float32)  # streaks along the desk's length
    grain = cv2.resize(grain, (fw, fh), interpolation=cv2.INTER_CUBIC)
    blotch = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (fw, fh), interpolation=cv2.INTER_CUBIC)
    return 1 + 0.06 * grain + 0.08 * blotch


def photograph(clean: np.ndarray, s: Shot, rng: np.random.Generator) -> np.ndarray:
    """A clean grey page (paper 255, at MASTER_DPI) as a phone photographs it: uint8 RGB."""
    fw, fh = s.size
    dst = sheet_corners((clean.shape[1], clean.shape[0]), s)
    # shrink the page near its size in the frame first: one warp from 300 dpi would alias thin lines
    f = min(1.0, float(np.sqrt(cv2.contourArea(dst.astype(np.float32)) / clean.size)) * 1.2)
    page = cv2.resize(clean, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else clean
    ph, pw = page.shape
    H = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), dst.astype(np.float32))
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_CONSTANT
    sheet = cv2.warpPerspective(page, H, (fw, fh), flags=flags, borderMode=border, borderValue=0)
    mask = cv2.warpPerspective(np.full_like(page, 255), H, (fw, fh), flags=flags, borderMode=border, borderValue=0)
    on = mask.astype(np.float32) / 255
    paper = sheet.astype(np.float32) * (s.exposure / 255)
    texture, light = _desk(s, rng), _lighting(s)
    # each channel: the paper's white balance on the sheet, the desk's colour and grain around it
    rgb = [light * (paper * (s.white_balance[c] * on) + texture * (s.desk[c] * (1 - on))) for c in range(3)]
    img = cv2.merge(rgb)
    if s.glare:
        img += _glare(s, dst)[:, :, None]
    img = cv2.GaussianBlur(img, (0, 0), s.blur)
    if s.noise:
        # sensor noise; cv2's generator (seeded from the photo's) is 3x faster than numpy's here
        noise = np.empty((fh, fw), np.float32)
        cv2.setRNGSeed(int(rng.integers(2**31)))
        cv2.randn(noise, 0, s.noise)
        img += noise[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def effective_dpi(clean: np.ndarray, s: Shot) -> int:
    """The sheet's mean resolution in the photo: how finely its marks are sampled."""
    dst = sheet_corners((clean.shape[1], clean.shape[0]), s)
    return round(MASTER_DPI * float(np.sqrt(cv2.contourArea(dst.astype(np.float32)) / clean.size)))
