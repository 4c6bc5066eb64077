"""The synthetic data set's layout, names and parameters (:class:`SynthConfig`).

The tutorial's program, activity, time-stamp and detector names, the
detector geometry (4096 x 4096 with a 4-pixel reference border, 32 channels
plus amp33) and the densities of defective pixels.  See :mod:`processing.synth`
for the detector model these parameters drive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Bumped whenever the generator writes different files for the same
#: configuration (physics, layout or file format): a demo set written by an
#: older generator is written again (:func:`processing.synth.manifest_is_current`).
GENERATOR_VERSION = 2

# The tutorial's layout and names ----------------------------------------------
PROGRAM_DIR = "OTP00651_BrightStar_TV2b_R1_MCEB"
ILLUM_ACTIVITY = "Activity_22"
DARK_ACTIVITY = "Activity_40"
ILLUM_STAMP = "20240506204523"
DARK_STAMPS = ("20240506225304", "20240506225611", "20240506225917")
DETECTOR = "WFI11"
FILTER = "F146"
FRAME_TIME = 3.04  # s, WFI full-frame read time
FULL_SIZE = 4096
BORDER = 4  # reference pixels on each edge
N_CHANNELS = 32
AMP33_WIDTH = 128

REFERENCE_TYPES = ("mask", "saturation", "linearity", "inverselinearity", "refpix")

#: Defective pixels: kind -> (fraction of the detector, minimum count).  hot
#: and warm pixels have dark current, dead ones no response, low-QE ones a
#: fraction of it, "nan" ones no saturation threshold (NO_SAT_CHECK), and
#: "ad_floor" ones a bias below 0 DN.  All but ad_floor are flagged in the
#: mask or the saturation reference: 494 of the tutorial's 512 x 512 cutout
#: pixels are flagged, and romancal finds 868 A/D-floor pixels.
_DEFECTS = {
    "hot": (3.0e-4, 3),
    "warm": (9.0e-4, 3),
    "dead": (1.2e-4, 2),
    "low_qe": (5.4e-4, 2),
    "nan": (2.0e-5, 2),
    "ad_floor": (5.2e-5, 2),
}
#: The projector's rings: (radius px at 4096, DN/s, Gaussian width px at 4096).
_RINGS = ((560.0, 36.0, 35.0), (900.0, 27.0, 35.0), (1250.0, 20.0, 35.0))


def exposure_filename(stamp: str, detector: str = DETECTOR) -> str:
    """``TVAC2_TOHOTQUAL_WFISAT_<stamp>_<detector>_uncal.asdf``."""
    return f"TVAC2_TOHOTQUAL_WFISAT_{stamp}_{detector}_uncal.asdf"


@dataclass
class SynthConfig:
    """Parameters of a synthetic data set.

    Attributes
    ----------
    frames : int
        Reads per exposure (the tutorial's have 55).
    size : int
        Detector rows and columns including the reference border (4096 for
        real data; smaller sizes make fast tests, but refpix needs 4096).
    seed : int
        Seeds every random number; the same seed gives the same files.
    compression : {"none", "lz4", "zlib", "bzp2"}
        Block compression of the exposures.
    star_center : (int, int) or None
        Row and column of the star; default scales the tutorial's
        (1900, 1900) to ``size``.
    star_peak : float
        Peak flux of the star's Moffat core, DN/s (``star_core_radius`` is
        its alpha in pixels, ``star_beta`` its beta: wings fall as r**-4).
    glow_peak, glow_radius, glow_edge : float
        The projector's out-of-focus ghost, a disc of ``glow_peak`` DN/s
        and radius ``glow_radius`` (pixels at 4096, scaled with ``size``)
        whose rim falls as ``(r / glow_radius) ** -glow_edge``.
    background : float
        Diffuse light over the whole detector, DN/s.
    """

    frames: int = 55
    size: int = FULL_SIZE
    seed: int = 0
    compression: str = "none"
    star_center: tuple[int, int] | None = None
    star_peak: float = 3.6e7
    star_core_radius: float = 4.0  # px, Moffat alpha (the PSF keeps its size on smaller detectors)
    star_beta: float = 2.0
    glow_peak: float = 450.0  # DN/s, the projector's ghost disc
    glow_radius: float = 185.0  # px at 4096 (scaled with size)
    glow_edge: float = 9.5  # steepness of the ghost's rim
    background: float = 0.15  # DN/s, diffuse light over the whole detector
    read_noise: float = 5.0
    channel_noise: float = 6.0
    row_noise: float = 3.0
    full_well: float = 50000.0
    nonlinearity: float = 1.6e-6  # a2 in M = S - a2 S^2, 1/DN
    frame_time: float = FRAME_TIME
    extra: dict = field(default_factory=dict)

    def center(self) -> tuple[int, int]:
        if self.star_center is not None:
            return tuple(self.star_center)  # type: ignore[return-value]
        return (int(round(self.size * 1900 / FULL_SIZE)), int(round(self.size * 1900 / FULL_SIZE)))

    @property
    def channel_width(self) -> int:
        return max(1, self.size // N_CHANNELS)

