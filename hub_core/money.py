"""Money helpers: ISO 4217 exponents and exact minor/major unit conversion with `Decimal`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents that differ from the default of 2.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    # zero-decimal currencies
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    # three-decimal currencies
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four-decimal currencies
    "CLF": 4, "UYW": 4,
}  # fmt: skip

DEFAULT_EXPONENT = 2


def currency_exponent(currency: str) -> int:
    """ISO 4217 exponent of `currency` (2 when the code has no exception in the table)."""
    return _EXPONENT_EXCEPTIONS.get(currency.strip().upper(), DEFAULT_EXPONENT)


def minor_to_major(value: int | str | Decimal, currency: str) -> Decimal:
    """Convert an integer amount in minor units to major units, exactly.

    Raises `ValueError` when `value` is not an integral number.
    """
    try:
        minor = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"amount {value!r} is not a number") from None
    if not minor.is_finite() or minor != minor.to_integral_value():
        raise ValueError(f"amount {value!r} is not an integer number of minor units")
    return minor.scaleb(-currency_exponent(currency))


def major_to_minor(value: Decimal, currency: str) -> int:
    """Convert a major-unit amount to integer minor units; raises if it has more precision."""
    scaled = value.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more decimals than {currency} allows")
    return int(scaled)


def to_decimal(value: object) -> Decimal:
    """A `Decimal` from a JSON number or numeric string, never through a binary float repr.

    Raises `ValueError` naming the value for anything else.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"amount {value!r} is not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"amount {value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    return result
