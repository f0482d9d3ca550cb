"""A second, independent source of scan damage: named, seeded *damage families* built on the
``augraphy`` package (document-degradation pipelines written outside this project) plus a few of
our own where augraphy has none (a sheet folded to go into the ballot box, paper that is not flat,
a copier's speckle at 150 dpi, smudged pens).

``damage(clean, family, rng)`` turns a clean page raster (``samples.generate.Page.clean``: grey,
paper 255, MASTER_DPI) into what the scanner delivers, and returns the parameters it drew, which the
truth file keeps under ``"augment"``. Every random choice comes from ``rng``; augraphy draws from
Python's and NumPy's global generators, so those are seeded from ``rng`` before each call, and so is
the generator numba-compiled code keeps apart. The same page and seed therefore give the same bytes.

Each recipe is moderate on purpose: the page must still look like a real office scan, with its
four corner markers and QR code readable — damage a person could not read through is no test.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from samples.sheet import MASTER_DPI
from samples.writers import PageImage

Params = dict[str, object]
Effect = Callable[[np.ndarray, np.random.Generator, int, Params], np.ndarray]


@dataclass(frozen=True)
class Recipe:
    """One damage family: the scanner settings it is scanned with and its effects, in order."""

    name: str
    dpi: tuple[int, ...]
    effects: tuple[Effect, ...]
    bilevel: bool = False
    quality: tuple[int, int] | None = (70, 90)  # JPEG quality range; None: lossless
    skew_deg: float = 1.5
    p_upside_down: float = 0.1
    version: int = 1  # bumped when the recipe changes: its cached stacks are made again


# --------------------------------------------------------------------------- augraphy, seeded


def _augraphy(aug_name: str, img: np.ndarray, rng: np.random.Generator, p: Params, **kw: object) -> np.ndarray:
    """Run one augraphy augmentation on a grey page, its global generators seeded from ``rng``."""
    try:
        import augraphy  # imported here: ~1.5 s, paid only by families that use it
    except ImportError:
        raise RuntimeError("augraphy is missing: pip install --no-deps augraphy==8.2.6 (scripts/setup.sh)") from None
    _replace_worley()

    seed = int(rng.integers(2**31))
    random.seed(seed)
    np.random.seed(seed)
    cv2.setRNGSeed(seed)
    _seed_numba(seed)
    kw = {**kw, "p": 1}
    p[aug_name] = {k: v for k, v in kw.items() if k != "p"} | {"seed": seed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(augraphy, aug_name)(**kw)(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    out = np.asarray(out)
    return cv2.cvtColor(out, cv2.COLOR_BGR2GRAY) if out.ndim == 3 else out


@cache
def _replace_worley() -> None:
    """augraphy 8.2.6 computes Worley noise (one of BadPhotoCopy's masks) in a numba ``parallel``
    loop that today's numba fails to compile (a type-inference assertion) once other kernels have
    been compiled in the process: on a cold numba cache the stack cannot be made. The same noise
    (each pixel's distance to the nearest of ``npoints`` random points) is one exact Euclidean
    distance transform, from Python's seeded generator."""
    from augraphy.utilities.noisegenerator import NoiseGenerator

    NoiseGenerator.generate_worley_noise = staticmethod(_worley_noise)


def _worley_noise(width: int, height: int, npoints: float, option: int, noise_background: int) -> np.ndarray:
    if option != 0:  # augraphy asks only for the nearest point's distance
        raise ValueError(f"Worley noise of the point ranked {option} is not drawn here")
    # augraphy's points may fall one pixel past the right or bottom edge: draw on a canvas one larger
    seeds = np.ones((height + 1, width + 1), np.uint8)
    for _ in range(int(npoints)):
        x, y = random.randint(0, width), random.randint(0, height)
        seeds[y, x] = 0
    if seeds.all():
        return np.full((height, width), float(noise_background))
    dist = cv2.distanceTransform(seeds, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist[:height, :width].astype(np.float64)


@cache
def _numba_seeder() -> Callable[[int], None]:
    from numba import njit

    @njit(cache=False)
    def seed(s: int) -> None:
        np.random.seed(s)
        random.seed(s)

    return seed


def _seed_numba(seed: int) -> None:
    """Numba-compiled code keeps its own generator, which only compiled code can seed."""
    _numba_seeder()(seed)


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def bad_photocopy(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A worn copier: a toner haze from one side, speckle in it."""
    v = int(rng.integers(150, 215))
    return _augraphy(
        "BadPhotoCopy",
        img,
        rng,
        p,
        noise_type=int(rng.choice([1, 2, 5, 7])),
        noise_iteration=(1, 1),
        noise_size=(1, 2),
        noise_value=(v, v + 30),
        noise_sparsity=(0.5, 0.8),
        noise_concentration=(0.05, 0.25),
        blur_noise=0,
        wave_pattern=0,
        edge_effect=0,
    )


def dirty_rollers(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """An automatic document feeder's dirty rollers: grey bands across the page, repeated."""
    w = max(2, round(rng.uniform(1.0, 3.0) * dpi / 25.4))
    out = _augraphy("DirtyRollers", img, rng, p, line_width_range=(w, w + 2), scanline_type=0)
    # augraphy's bands are strong; a real roller leaves a fainter trace: blend it back toward the page
    a = _u(rng, 0.25, 0.5)
    p["DirtyRollers"]["blend"] = a  # type: ignore[index]
    return cv2.addWeighted(out, a, img, 1 - a, 0)


def dirty_drum(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A scratched copier drum or a dirty ADF glass: thin dark streaks along the feed."""
    out = _augraphy(
        "DirtyDrum",
        img,
        rng,
        p,
        line_width_range=(1, 2),
        line_concentration=_u(rng, 0.03, 0.08),
        direction=int(rng.choice([0, 1])),
        noise_intensity=_u(rng, 0.2, 0.5),
        noise_value=(0, 40),
        ksize=(3, 3),
        sigmaX=0,
    )
    a = _u(rng, 0.4, 0.7)
    p["DirtyDrum"]["blend"] = a  # type: ignore[index]
    return cv2.addWeighted(out, a, img, 1 - a, 0)


def lighting(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """Uneven light: a lid left open, a lamp fading toward one edge. Augraphy's gradient is drawn on
    white paper and multiplies the page (light scales what paper and ink reflect), rather than being
    blended over it, which would turn black ink grey."""
    lo = int(rng.integers(175, 215))
    h, w = img.shape
    light = _augraphy(
        "LightingGradient",
        np.full((h // 4, w // 4), 255, np.uint8),  # light varies slowly: drawn at a quarter size
        rng,
        p,
        max_brightness=255,
        min_brightness=lo,
        mode="linear_static",  # augraphy's "gaussian" mode darkens the whole page far past any lamp
        transparency=_u(rng, 0.4, 0.7),
    )
    # augraphy's band reaches far darker than its min_brightness; a lamp's falloff is half of it at most
    light = cv2.resize(cv2.addWeighted(light, 0.5, light, 0.0, 127.5), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(img, light, scale=1 / 255)


def ink_bleed(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """Ink spread into the paper fibres (wet pen, soft paper)."""
    return _augraphy("InkBleed", img, rng, p, intensity_range=(0.3, 0.6), kernel_size=(3, 3), severity=(0.2, 0.4))


def bleed_through(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """The back of thin paper showing through (here: the page itself, mirrored and shifted)."""
    off = int(rng.integers(5, 25))
    return _augraphy(
        "BleedThrough",
        img,
        rng,
        p,
        intensity_range=(0.1, 0.3),
        color_range=(0, 224),
        ksize=(17, 17),
        sigmaX=1,
        alpha=_u(rng, 0.08, 0.18),
        offsets=(off, off),
    )


def paper_texture(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """Recycled or cheap paper: its fibres and grain show as a fine, uneven texture all over."""
    out = _augraphy(
        "NoiseTexturize",
        img,
        rng,
        p,
        sigma_range=(3, 7),
        turbulence_range=(2, 5),
        texture_width_range=(100, 400),
        texture_height_range=(100, 400),
    )
    return _augraphy("SubtleNoise", out, rng, p, subtle_range=int(rng.integers(5, 12)))


def shadow(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A shadow over part of the page: a copier's lid left open, a hand or a book beside the sheet."""
    return _augraphy(
        "ShadowCast",
        img,
        rng,
        p,
        shadow_side=str(rng.choice(["top", "bottom", "left", "right"])),
        shadow_vertices_range=(2, 8),
        shadow_width_range=(0.3, 0.7),
        shadow_height_range=(0.3, 0.7),
        shadow_opacity_range=(0.2, 0.5),
        shadow_iterations_range=(1, 2),
        shadow_blur_kernel_range=(101, 201),
    )


def punch_holes(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A sheet filed in a binder before it was scanned: punch holes along its left edge."""
    return _augraphy(
        "BindingsAndFasteners",
        img,
        rng,
        p,
        overlay_types="darken",
        effect_type="punch_holes",
        ntimes=(2, 3),
        nscales=(0.9, 1.1),
        edge="left",
        edge_offset=(round(dpi * 0.1), round(dpi * 0.25)),
        use_figshare_library=0,
    )


def noisy_lines(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A scanner's sensor or a copier's drum drawing thin broken lines across parts of the page."""
    return _augraphy(
        "NoisyLines",
        img,
        rng,
        p,
        noisy_lines_direction=int(rng.integers(0, 2)),
        noisy_lines_location="random",
        noisy_lines_number_range=(3, 10),
        noisy_lines_color=(0, 0, 0),
        noisy_lines_thickness_range=(1, 2),
        noisy_lines_random_noise_intensity_range=(0.01, 0.1),
        noisy_lines_length_interval_range=(0, 100),
        noisy_lines_gaussian_kernel_value_range=(3, 5),
        noisy_lines_overlay_method="ink_to_paper",
    )


def ink_mottling(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """Ink laid unevenly: print and pen lines mottled, lighter in patches."""
    return _augraphy(
        "InkMottling",
        img,
        rng,
        p,
        ink_mottling_alpha_range=(0.2, 0.3),
        ink_mottling_noise_scale_range=(2, 2),
        ink_mottling_gaussian_kernel_range=(3, 5),
    )


FAX_OTSU_MIN_RANGE = 96  # grey levels between a page's darkest and lightest pixel for Otsu to mean anything


def faxify(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A fax machine: thresholded to black and white (fixed threshold or Otsu), no halftone."""
    method = str(rng.choice(["threshold_otsu", "cv2.threshold"]))
    args: dict = {}
    if method == "threshold_otsu" and int(img.max()) - int(img.min()) < FAX_OTSU_MIN_RANGE:
        # Otsu splits whatever a page holds: on a blank back it would turn the paper's grain black.
        # A fax machine's threshold is fixed; a page without ink stays white through it.
        method = "cv2.threshold"
    if method == "cv2.threshold":
        args = {"thresh": int(rng.integers(150, 190)), "maxval": 255, "type": cv2.THRESH_BINARY}
    return _augraphy(
        "Faxify",
        img,
        rng,
        p,
        scale_range=(1.0, 1.0),
        monochrome=1,
        monochrome_method=method,
        monochrome_arguments=args,
        halftone=0,
        invert=1,
    )


def low_ink(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A printer low on toner: paler lines through the print, periodic or random. Augraphy's lines
    are paper-white; blended half back they fade the print instead of cutting it, as a worn
    cartridge does (white cuts through every marker and QR code would make a sheet no office
    would hand out)."""
    if rng.random() < 0.5:
        out = _augraphy(
            "LowInkPeriodicLines",
            img,
            rng,
            p,
            count_range=(1, 3),
            period_range=(int(dpi * 0.6), int(dpi * 1.2)),
            use_consistent_lines=True,
            noise_probability=0.05,
        )
        name = "LowInkPeriodicLines"
    else:
        out = _augraphy(
            "LowInkRandomLines", img, rng, p, count_range=(3, 10), use_consistent_lines=True, noise_probability=0.05
        )
        name = "LowInkRandomLines"
    a = _u(rng, 0.35, 0.6)
    p[name]["blend"] = a  # type: ignore[index]
    return cv2.addWeighted(out, a, img, 1 - a, 0)


def jpeg_heavy(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A scanner set to its smallest files: augraphy's JPEG at low quality (the stack is then
    written losslessly, so this is the only compression)."""
    q = int(rng.integers(25, 45))
    return _augraphy("Jpeg", img, rng, p, quality_range=(q, q))


# --------------------------------------------------------------------------- our own


def _remap(img: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    h, w = img.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        img,
        xs + dx.astype(np.float32),
        ys + dy.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=255,
    )


def folded(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A sheet folded in two or three to go into the ballot box, unfolded and scanned flat: each crease
    a dark and a bright line, and the paper beside it not quite flat (what lies near the crease is
    displaced by up to 1.5 mm, more at one end of it than the other)."""
    h, w = img.shape
    k = dpi / 25.4
    parts = int(rng.choice([2, 3]))
    ys = [h * i / parts + rng.normal(0, 4 * k) for i in range(1, parts)]
    # the fields change slowly across the page: computed on every row but every 16th column, then resized
    wc = w // 16 + 2
    col = np.linspace(0, w - 1, wc, dtype=np.float32)[None, :]
    row = np.arange(h, dtype=np.float32)[:, None]
    dx = np.zeros((h, wc), np.float32)
    dy = np.zeros((h, wc), np.float32)
    shade = np.zeros((h, wc), np.float32)
    creases = []
    for yc in ys:
        tilt = rng.uniform(-0.01, 0.01)  # a hand fold is not quite square to the page
        amp = rng.uniform(0.5, 1.5) * k
        width = rng.uniform(8, 25) * k
        twist = rng.uniform(-1, 1)
        d = row - (yc + tilt * (col - w / 2))
        bump = np.exp(-((d / width) ** 2))
        along = 1 + twist * (col / w - 0.5)
        # smooth and odd about the crease: the paper there is drawn together (no tear, no overlap)
        dy += amp * 2.33 * (d / width) * bump * along
        dx += 0.3 * amp * bump * np.sin(col / w * np.pi * rng.uniform(1, 3))
        dark = rng.uniform(25, 60)
        shade += np.exp(-((d / (0.35 * k)) ** 2)) * dark - np.exp(-(((d - 1.2 * k) / (0.8 * k)) ** 2)) * dark * 0.4
        creases.append(
            {"y_mm": round(float(yc / k), 1), "amp_mm": round(float(amp / k), 2), "dark": round(float(dark))}
        )
    p["folded"] = {"parts": parts, "creases": creases}
    full = [cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR) for a in (dx, dy, shade)]
    out = _remap(img, full[0], full[1]).astype(np.float32)
    return np.clip(out - full[2], 0, 255).astype(np.uint8)


def wavy(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """Paper that is not flat (damp, curled, a wavy page through the feeder): a smooth displacement
    of up to ~2 mm over the page, which no single homography from the corner markers undoes, and the
    soft shading that goes with it."""
    h, w = img.shape
    k = dpi / 25.4
    ax, ay = rng.uniform(0.5, 2.0, 2) * k
    px, py = rng.uniform(80, 200, 2) * k
    phx, phy = rng.uniform(0, 2 * np.pi, 2)
    col = np.arange(w, dtype=np.float32)[None, :]
    row = np.arange(h, dtype=np.float32)[:, None]
    # zero at the corners' neighbourhood is not enforced: real waves reach the markers too
    dx = ax * np.sin(2 * np.pi * row / py + phx) * np.sin(np.pi * col / w)
    dy = ay * np.sin(2 * np.pi * col / px + phy) * np.sin(np.pi * row / h)
    shade = 10 * np.sin(2 * np.pi * row / py + phx + 1.0)
    p["wavy"] = {
        "amp_mm": [round(float(ax / k), 2), round(float(ay / k), 2)],
        "period_mm": [round(float(px / k)), round(float(py / k))],
    }
    out = _remap(img, np.broadcast_to(dx, (h, w)), np.broadcast_to(dy, (h, w))).astype(np.float32)
    return np.clip(out - np.maximum(shade, 0), 0, 255).astype(np.uint8)


def copier_speckle(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """A cheap copier's grey, mottled toner background with scattered toner specks of 1-2 pixels."""
    h, w = img.shape
    bg = rng.uniform(12, 35)
    mottle = cv2.resize(
        rng.normal(0, 1, (h // 40 + 2, w // 40 + 2)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    density = rng.uniform(0.0005, 0.003)
    specks = (rng.random((h, w)) < density).astype(np.uint8)
    if rng.random() < 0.5:
        specks = cv2.dilate(specks, np.ones((2, 2), np.uint8))
    depth = rng.uniform(90, 170)
    p["copier_speckle"] = {
        "background": round(float(bg), 1),
        "density": round(float(density), 5),
        "speck_depth": round(float(depth)),
    }
    paper = img.astype(np.float32) * (255 - bg) / 255 - bg * 0.15 * mottle  # greyer, unevenly
    paper -= specks * depth
    return np.clip(paper, 0, 255).astype(np.uint8)


def smudge(img: np.ndarray, rng: np.random.Generator, dpi: int, p: Params) -> np.ndarray:
    """Smeared ink (a hand dragged over wet ink, a pen that blots): dark matter drawn out a little in
    one direction."""
    n = max(3, round(rng.uniform(0.4, 1.0) * dpi / 25.4))
    ang = rng.uniform(0, 180)
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2, :] = 1.0
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), ang, 1.0), (n, n))
    kernel /= kernel.sum()
    smear = cv2.filter2D(img, -1, kernel)
    a = _u(rng, 0.3, 0.6)
    p["smudge"] = {"length_px": n, "angle": round(float(ang)), "blend": a}
    return np.minimum(img, cv2.addWeighted(smear, a, img, 1 - a, 0))


# --------------------------------------------------------------------------- the families

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("photocopy", (200, 300), (bad_photocopy,), version=2),
        Recipe("adf-streaks", (200, 300), (dirty_rollers, dirty_drum)),
        Recipe("lighting", (150, 200, 300), (lighting,)),
        Recipe("jpeg-heavy", (200, 240), (jpeg_heavy,), quality=None),
        Recipe("folded", (200, 300), (folded, lighting)),
        Recipe("wavy", (200, 300), (wavy,)),
        Recipe("fax", (200,), (faxify,), bilevel=True, quality=None, version=2),
        Recipe("folded-fax", (200,), (folded, faxify), bilevel=True, quality=None, version=2),
        Recipe("ink-bleed", (200, 300), (ink_bleed, bleed_through)),
        Recipe("low-ink", (200, 300), (low_ink, smudge), version=2),
        Recipe("copier-150", (150,), (copier_speckle,), quality=(55, 75)),
        Recipe("shadow-texture", (200, 300), (paper_texture, shadow)),
        # an ordinary office's stack, every page through several at once: paper not flat, a worn
        # copier's haze, the feeder's rollers, a lamp falling off, a small JPEG, at any resolution
        Recipe(
            "office-mix", (150, 200, 300), (wavy, bad_photocopy, dirty_rollers, lighting), quality=(60, 85), version=2
        ),
        # what no other family does, from augraphy's own repertoire: a binder's punch holes, a sensor's
        # broken lines across the page, mottled ink, under a shadow
        Recipe("office-extra", (150, 200, 300), (ink_mottling, punch_holes, noisy_lines, shadow), quality=(60, 85)),
    )
}


def _place(img: np.ndarray, skew: float, turned: bool) -> np.ndarray:
    """Tilt the page by ``skew`` degrees inside a window that holds it; turn it upside down."""
    if turned:
        img = np.ascontiguousarray(img[::-1, ::-1])
    if abs(skew) < 1e-6:
        return img
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), skew, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    bw, bh = round(w * cos + h * sin), round(w * sin + h * cos)
    m[0, 2] += bw / 2 - w / 2
    m[1, 2] += bh / 2 - h / 2
    return cv2.warpAffine(img, m, (bw, bh), flags=cv2.INTER_LINEAR, borderValue=255)


def damage(clean: np.ndarray, family: str, rng: np.random.Generator) -> tuple[PageImage, dict]:
    """The clean page scanned with damage family ``family``: the image and what was drawn."""
    r = RECIPES[family]
    dpi = int(rng.choice(r.dpi))
    h, w = clean.shape
    f = dpi / MASTER_DPI
    img = clean if dpi == MASTER_DPI else cv2.resize(clean, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    params: Params = {}
    for effect in r.effects:
        img = effect(img, rng, dpi, params)
    skew = float(rng.uniform(-r.skew_deg, r.skew_deg))
    turned = bool(rng.random() < r.p_upside_down)
    img = _place(img, skew, turned)
    quality = None if r.quality is None else int(rng.integers(r.quality[0], r.quality[1] + 1))
    pixels = img > 127 if r.bilevel else img
    truth = {
        "family": family,
        "dpi": dpi,
        "skew": round(skew, 3),
        "rotation": 180 if turned else 0,
        "mode": "bilevel" if r.bilevel else "grey",
        "augment": {"quality": quality, **params},
    }
    return PageImage(pixels, dpi, quality), truth
