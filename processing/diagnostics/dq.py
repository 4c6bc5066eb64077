"""Names of the data-quality flags set in a DQ value."""

from __future__ import annotations

from functools import cache

_KINDS = ("pixel", "group")


@cache
def _flag_names(kind: str) -> dict[int, str]:
    # Imported here: roman_datamodels takes ~1.5 s to import, and a viewer
    # that imports the diagnostics should not pay it until a DQ value is shown.
    from roman_datamodels import dqflags

    flags = dqflags.pixel if kind == "pixel" else dqflags.group
    return {int(flag.value): flag.name for flag in flags if int(flag.value)}


def decode_dq(value: int, kind: str = "pixel") -> list[str]:
    """Names of the flags set in a pixel or group DQ value.

    Parameters
    ----------
    value : int
        A ``pixeldq`` (uint32) or ``groupdq`` (uint8) value.
    kind : {"pixel", "group"}
        Which flag set of ``roman_datamodels.dqflags`` to decode with.

    Returns
    -------
    list of str
        Flag names in bit order, e.g. ``["DO_NOT_USE", "SATURATED"]`` for
        ``3``; ``["GOOD"]`` for ``0``; a bit with no name in the set appears
        as ``"BIT_<n>"``, so nothing set is ever hidden.

    Raises
    ------
    ValueError
        If ``kind`` is unknown or ``value`` is negative.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}")
    value = int(value)
    if value < 0:
        raise ValueError(f"DQ values are unsigned; got {value}")
    if value == 0:
        return ["GOOD"]
    names = _flag_names(kind)
    return [names.get(1 << bit, f"BIT_{bit}") for bit in range(value.bit_length()) if value >> bit & 1]
