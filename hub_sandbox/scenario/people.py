"""Synthetic people: the payers of pay-ins and the beneficiaries of pay-outs, per currency."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

_COUNTRY: dict[str, tuple[str, str]] = {
    "INR": ("IN", "+91"),
    "EUR": ("DE", "+49"),
    "USD": ("US", "+1"),
    "JPY": ("JP", "+81"),
    "KWD": ("KW", "+965"),
}
"""Currency -> (country, dialling code) of the people paying in it."""

# fmt: off
_FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "INR": (
        "Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Ayaan", "Krishna",
        "Ishaan", "Rohan", "Karan", "Rahul", "Amit", "Priya", "Ananya", "Diya", "Aadhya",
        "Saanvi", "Kavya", "Isha", "Neha", "Pooja", "Sneha", "Meera", "Riya", "Anjali", "Tanvi",
        "Nikhil", "Sandeep", "Deepak", "Manish", "Suresh", "Ramesh", "Lakshmi", "Divya",
        "Harsha", "Varun", "Gaurav", "Pranav",
    ),
    "EUR": ("Lukas", "Anna", "Jonas", "Marie", "Luca", "Sofia", "Mateo"),
    "USD": ("James", "Emma", "Noah", "Olivia", "Liam", "Ava", "Ethan"),
    "JPY": ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto"),
    "KWD": ("Ahmad", "Fatima", "Yousef", "Noura", "Khalid", "Maryam", "Omar"),
}
_LAST_NAMES: dict[str, tuple[str, ...]] = {
    "INR": (
        "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Reddy", "Nair", "Iyer", "Rao",
        "Das", "Bose", "Chatterjee", "Mukherjee", "Joshi", "Mehta", "Shah", "Desai", "Kulkarni",
        "Pillai", "Menon", "Yadav", "Mishra", "Pandey", "Tiwari", "Agarwal", "Jain", "Malhotra",
        "Kapoor", "Chopra", "Saxena", "Bhat", "Naidu", "Gowda", "Thakur",
    ),
    "EUR": ("Muller", "Schmidt", "Rossi", "Garcia", "Dubois", "Novak", "Jansen"),
    "USD": ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore"),
    "JPY": ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"),
    "KWD": ("Al-Sabah", "Al-Mutairi", "Al-Azmi", "Al-Ajmi", "Al-Rashidi", "Al-Enezi"),
}
# fmt: on
_PSP = ("okaxis", "oksbi", "okhdfcbank", "ybl", "paytm", "ibl", "axl")
_IFSC = ("HDFC0", "ICIC0", "SBIN0", "UTIB0", "KKBK0", "PUNB0", "BARB0", "YESB0")
_IP_IN = (49, 103, 106, 117, 122, 157, 182, 223)


@dataclass(slots=True, frozen=True)
class Payer:
    """One synthetic person: payer of pay-ins, beneficiary of pay-outs."""

    user_id: str
    first: str
    last: str
    email: str
    phone: str
    ip: str
    country: str
    vpa: str
    account: str
    ifsc: str


def payer_pool(rng: Random, currency: str, size: int) -> list[Payer]:
    """`size` synthetic people of the country that pays in `currency`."""
    country, dial = _COUNTRY[currency]
    firsts, lasts = _FIRST_NAMES[currency], _LAST_NAMES[currency]
    pool = []
    for _ in range(size):
        first, last = rng.choice(firsts), rng.choice(lasts)
        num = rng.randrange(1, 999)
        handle = f"{first}.{last}".lower().replace("-", "")
        if country == "IN":
            phone = f"+91{rng.randrange(6, 10)}{rng.randrange(10**9):09d}"
            ip = f"{rng.choice(_IP_IN)}.{rng.randrange(256)}.{rng.randrange(256)}"
            ip += f".{rng.randrange(1, 255)}"
        else:
            phone = f"{dial}{rng.randrange(10**9):09d}"
            ip = f"{rng.randrange(2, 223)}.{rng.randrange(256)}.{rng.randrange(256)}"
            ip += f".{rng.randrange(1, 255)}"
        pool.append(
            Payer(
                user_id=str(rng.randrange(10**8, 10**9)),
                first=first,
                last=last,
                email=f"{handle}{num}@mail.example",
                phone=phone,
                ip=ip,
                country=country,
                vpa=f"{first.lower()}{num}@{rng.choice(_PSP)}",
                account=str(rng.randrange(10**10, 10**14)),
                ifsc=f"{rng.choice(_IFSC)}{rng.randrange(10**6):06d}",
            )
        )
    return pool
