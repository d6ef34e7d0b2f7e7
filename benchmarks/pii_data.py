"""Span-labelled PII sentences from presidio-evaluator's templates and fake identities (seeded).

The archive is PyPI ``presidio-evaluator==0.3.2`` (one wheel, SHA-256 pinned below),
downloaded once with ``pip download --no-deps`` through ``modelyard.data.fetch`` and
cached under ``$MODELYARD_CACHE`` (else ``$MODELYARD_HOME/cache``, default
``~/.modelyard/cache``); the three files are read straight out of the zip:

* ``templates.txt``: 208 sentences with ``{{placeholders}}`` (customer service, song
  reviews, signatures, addresses);
* ``FakeNameGenerator.com_3000.csv``: 3,000 synthetic people (name, address, email,
  phone, birthday, domain...);
* ``companies_and_organizations.csv``: organisation names.

Each sentence is a template filled from one or more fake people drawn with
``random.Random(seed)``. The k-th occurrence of a placeholder in a template takes the
k-th person of the sentence, so "{{person}} ... {{email}}" belong to one person and
"{{first_name}} said to {{first_name}}" are two. Values the CSV cannot give usable
are made here, seeded:

* card numbers: the CSV's ``CCNumber`` column went through a spreadsheet and holds
  ``5.54563E+15``, so numbers are generated Luhn-valid with the person's card type
  (Visa 16 digits, MasterCard 16, and 10 % American Express 15);
* IBANs (mod-97 check digits computed), US SSNs (valid areas), IP addresses (80 % v4,
  20 % v6 as presidio-evaluator does), URLs (on the person's ``Domain``);
* phone numbers: the CSV has each country's national format without the country
  code (``84 23 30`` in Greenland), which nobody can tell from any other number;
  North American numbers keep their national form (in several spellings), the others
  are written internationally, ``+<TelephoneCountryCode> <national number without
  the trunk 0>``.

Placeholders and our types (``entities``):

===========================================================  ================
placeholders                                                 label
===========================================================  ================
person, name, name_female, name_male, first_name(_male,      PERSON
_female, _nonbinary), last_name(_male, _female)
organization                                                 ORGANIZATION
address; a run of building_number, street_name,              ADDRESS
secondary_address, city, state_abbr, zipcode, postcode,
country separated only by blanks/commas/quote marks that
holds a street part (building_number, street_name,
secondary_address); a following literal "St."/"street" is
part of the span
city, country (outside such a run)                           LOCATION
email / phone_number / credit_card_number / iban / ssn       EMAIL / PHONE / CREDIT_CARD / IBAN / US_SSN
ip_address / url / date_of_birth                             IP_ADDRESS / URL / DATE_OF_BIRTH
===========================================================  ================

Filled but not labelled (no type of ours), listed per sentence under ``unlabelled``
so a scorer can decide what predicting on them means: ``date_time``, ``year``,
``day_of_week`` (dates that are not birth dates), ``age``, ``job``, ``prefix``,
``prefix_male``, ``prefix_female`` (titles), ``nationality``, ``nation_woman``,
``nation_plural`` (nationalities), ``us_driver_license``, and ``zipcode``,
``postcode``, ``state_abbr`` outside an address run.

The presidio templates rarely hold IBANs, SSNs, IPs, URLs or birth dates (2-4
templates each), so a share of the sentences (``EXTRA_SHARE``, 40 %) come from
:data:`EXTRA_TEMPLATES` (customer-service sentences written here), taken round-robin
over the eight pattern types: at n=2,000 every pattern type has support >= 100.

Output: ``generate(n, seed)`` returns ``n`` dicts ``{"text", "entities": [{"start",
"end", "label"}], "unlabelled": [{"start", "end", "placeholder"}], "source":
"presidio" | "extra", "template": index}``.
"""

from __future__ import annotations

import argparse
import csv
import io
import ipaddress
import json
import random
import re
import string
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "presidio-evaluator"
VERSION = "0.3.2"
ARCHIVE = "presidio_evaluator-0.3.2-py3-none-any.whl"
SHA256 = "57614fe604e52b78e6de25b767c59265886b93bbcdc6c7e43ab2657d3f6302be"
_RAW = "presidio_evaluator/data_generator/raw_data/"
MEMBERS = (
    _RAW + "templates.txt",
    _RAW + "FakeNameGenerator.com_3000.csv",
    _RAW + "companies_and_organizations.csv",
)
SEED = 20250505
EXTRA_SHARE = 0.4

PATTERN_LABELS = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "URL", "DATE_OF_BIRTH")
LABELS = (*PATTERN_LABELS, "ADDRESS", "PERSON", "LOCATION", "ORGANIZATION")

PERSON_PLACEHOLDERS = {
    "person", "name", "name_female", "name_male",
    "first_name", "first_name_male", "first_name_female", "first_name_nonbinary",
    "last_name", "last_name_male", "last_name_female",
}  # fmt: skip
DIRECT_LABELS: dict[str, str] = {
    **dict.fromkeys(PERSON_PLACEHOLDERS, "PERSON"),
    "organization": "ORGANIZATION",
    "address": "ADDRESS",
    "email": "EMAIL",
    "phone_number": "PHONE",
    "credit_card_number": "CREDIT_CARD",
    "iban": "IBAN",
    "ssn": "US_SSN",
    "ip_address": "IP_ADDRESS",
    "url": "URL",
    "date_of_birth": "DATE_OF_BIRTH",
}
STREET_PARTS = {"building_number", "street_name", "secondary_address"}
ADDRESS_PARTS = STREET_PARTS | {"city", "state_abbr", "zipcode", "postcode", "country"}
LOCATION_PLACEHOLDERS = {"city", "country"}
# Filled but never labelled: no type of ours (see the module docstring).
UNLABELLED = {
    "date_time", "year", "day_of_week", "age", "job", "prefix", "prefix_male", "prefix_female",
    "nationality", "nation_woman", "nation_plural", "us_driver_license", "zipcode", "postcode", "state_abbr",
}  # fmt: skip
_RUN_GAP = re.compile(r"[\s,>?]*")
_STREET_WORD_AFTER = re.compile(r" (?:St\.?|[Ss]treet)\b")
_STREET_TYPE_AT_END = re.compile(
    r"\s+(St\.?|Street|Str\.?|Strasse|Straße|Rd\.?|Road|Ave\.?|Avenue|Drive|Court|Lane|Way|Sq|Square|Place)$"
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")

EXTRA_TEMPLATES: dict[str, tuple[str, ...]] = {
    "EMAIL": (
        "Please send the invoice to {{email}} instead of my old address.",
        "Hi, this is {{person}}, my email changed to {{email}}",
        "Can you cc {{email}} on the next statement?",
        "Contact: {{email}}",
        "I never received the reset link at {{email}}, can you resend it?",
        "{{email}} is the login I use for online banking.",
    ),
    "PHONE": (
        "You can reach me at {{phone_number}} after 5pm.",
        "Please call {{person}} on {{phone_number}} about the refund.",
        "My new mobile number is {{phone_number}}",
        "Tel: {{phone_number}}",
        "I tried calling {{phone_number}} three times and nobody picked up.",
        "Update my phone to {{phone_number}} please",
    ),
    "CREDIT_CARD": (
        "The charge on card {{credit_card_number}} was declined twice today.",
        "Please refund the payment to {{credit_card_number}}",
        "{{person}} paid with {{credit_card_number}} but the order was cancelled",
        "I see two transactions on {{credit_card_number}} that I did not make",
        "Use my other card, {{credit_card_number}}, for the subscription.",
        "Card number: {{credit_card_number}}",
    ),
    "IBAN": (
        "Please wire the refund to my account {{iban}}",
        "My IBAN changed, the new one is {{iban}}.",
        "Transfer 200 EUR from {{iban}} to {{iban}} on Monday",
        "Beneficiary: {{person}}, IBAN {{iban}}",
        "The direct debit should come out of {{iban}}",
        "Can you confirm that {{iban}} is registered under {{person}}?",
    ),
    "US_SSN": (
        "My social security number is {{ssn}}",
        "SSN: {{ssn}}",
        "For the tax form I gave them {{ssn}} as my social security number.",
        "{{person}}, SSN {{ssn}}, would like to open a joint account",
        "The application was rejected although my SSN {{ssn}} is correct",
        "Please verify my identity: social security {{ssn}}, born {{date_of_birth}}",
    ),
    "IP_ADDRESS": (
        "The login attempts came from {{ip_address}}",
        "My router is at {{ip_address}} and I can't reach your server.",
        "Please whitelist {{ip_address}} for the API.",
        "Access denied for client {{ip_address}} at 10:42",
        "Our office connects through {{ip_address}}, can you check the firewall?",
        "Blocked IP {{ip_address}} again, third time this week",
    ),
    "URL": (
        "The payment page {{url}} shows an error.",
        "I found this offer on {{url}}, is it legit?",
        "Please check my profile at {{url}}",
        "Link: {{url}}",
        "Your app redirects me to {{url}} after login",
        "{{person}} sent me {{url}} and asked for my card details",
    ),
    "DATE_OF_BIRTH": (
        "My date of birth is {{date_of_birth}}",
        "DOB: {{date_of_birth}}",
        "I was born on {{date_of_birth}} in {{city}}",
        "{{person}}, born {{date_of_birth}}, is the account holder.",
        "The birth date on file should be {{date_of_birth}}, not the one you have.",
        "Date of birth {{date_of_birth}}, name {{person}}",
    ),
}

# IBAN layouts (country, BBAN as (kind, length) parts: n digits, a upper-case letters, c alphanumerics).
_IBAN_LAYOUTS: dict[str, tuple[tuple[str, int], ...]] = {
    "DE": (("n", 18),),
    "GB": (("a", 4), ("n", 14)),
    "FR": (("n", 10), ("c", 11), ("n", 2)),
    "NL": (("a", 4), ("n", 10)),
    "ES": (("n", 20),),
    "IT": (("a", 1), ("n", 10), ("c", 12)),
    "CH": (("n", 5), ("c", 12)),
    "BE": (("n", 12),),
    "PL": (("n", 24),),
    "AT": (("n", 16),),
}
_US_STATES = ("CA", "CO", "FL", "GA", "IL", "MA", "MI", "NJ", "NY", "OH", "PA", "TX", "VA", "WA")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_JOBS = ("accountant", "nurse", "software engineer", "teacher", "sales manager", "pharmacist", "electrician")
_NATIONALITIES = ("American", "Italian", "French", "German", "Japanese", "Mexican", "Indian", "Brazilian")
_NATION_WOMEN = ("an American woman", "an Italian woman", "a French woman", "a German woman")
_NATION_PLURAL = ("Americans", "Italians", "Canadians", "Germans", "Spaniards", "Danes")
_URL_PATHS = ("login", "account/settings", "offers/summer", "photos/2291", "share/f8k2a", "support/ticket")


# ---------------------------------------------------------------- check digits


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def _luhn_complete(prefix: str) -> str:
    """``prefix`` plus the Luhn check digit."""
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError("unreachable")


def _iban_number(text: str) -> int:
    return int("".join(str(int(c, 36)) for c in text))


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    return len(compact) > 4 and _iban_number(compact[4:] + compact[:4]) % 97 == 1


def make_iban(country: str, bban: str) -> str:
    check = 98 - _iban_number(bban + country + "00") % 97
    return f"{country}{check:02d}{bban}"


# ---------------------------------------------------------------- the archive


@dataclass(frozen=True)
class Person:
    gender: str
    title: str
    first: str
    middle: str
    last: str
    street: str
    city: str
    state: str
    zipcode: str
    country_code: str
    country: str
    email: str
    phone: str
    calling_code: str
    birthday: str
    card_type: str
    domain: str
    parts: tuple[str, str] | None = field(default=None)
    """(building number, street name) when the street address splits that way."""


@dataclass(frozen=True)
class Source:
    templates: tuple[str, ...]
    people: tuple[Person, ...]
    organizations: tuple[str, ...]


def _not_a_split_reader(archive: zipfile.ZipFile, entry: Any, seed: int | None) -> Any:
    raise NotImplementedError("the PII templates are read by pii_data.load_source, not made into splits")


def archive_path() -> Path:
    """The verified wheel, downloaded once (``pip download --no-deps``) into the modelyard archive cache."""
    from modelyard.data import fetch

    entry = fetch.KnownDataset(
        name="presidio-evaluator-pii",
        package=PACKAGE,
        version=VERSION,
        archive=ARCHIVE,
        sha256=SHA256,
        members=MEMBERS,
        reader=_not_a_split_reader,
        description="PII templates and fake identities (benchmarks/pii_data.py)",
    )
    return fetch.ensure_archive(entry)


_CITY_WIKI = re.compile(r"\[\[w:[^|\]]*\|([^\]]*)\]+")
_LEADING_NUMBER = re.compile(r"^(\d+[A-Za-z]?)\s+(\D.*)$")
_TRAILING_NUMBER = re.compile(r"^(\D*\D)\s+(\d+[A-Za-z]?)\.?$")
_COUNTRY_FIXES = {"Greenlander": "Greenland", "Cyprus (Greek)": "Cyprus"}


def _clean_city(city: str) -> str:
    city = _CITY_WIKI.sub(r"\1", city).strip()
    return city.title() if city.isupper() else city


def _split_street(street: str) -> tuple[str, str] | None:
    if street.lower().startswith(("p.o.", "po box", "postbox")):
        return None
    if match := _LEADING_NUMBER.match(street):
        return match.group(1), match.group(2)
    if match := _TRAILING_NUMBER.match(street):
        return match.group(2), match.group(1)
    return None


def load_source(path: Path | None = None) -> Source:
    path = path or archive_path()
    with zipfile.ZipFile(path) as archive:
        raw_templates, raw_people, raw_orgs = (archive.read(member) for member in MEMBERS)
    templates = []
    for line in raw_templates.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        # The file writes line breaks as "\n"; one template uses single braces ("{street_name}").
        line = line.replace("\\n", "\n").replace("\\,", ",").replace("\ufffd", "-")
        line = re.sub(r"(?<!\{)\{([a-z_]+)\}(?!\})", r"{{\1}}", line)
        templates.append(line)
    people = []
    for raw_row in csv.DictReader(io.StringIO(raw_people.decode("utf-8-sig"), newline="")):
        row = {key: (value or "").replace("\ufeff", "").strip() for key, value in raw_row.items()}
        street = row["StreetAddress"]
        zipcode = row["ZipCode"]
        if row["Country"] == "US" and zipcode.isdigit():
            zipcode = zipcode.zfill(5)  # the CSV went through a spreadsheet that dropped leading zeros
        people.append(
            Person(
                gender=row["Gender"],
                title=row["Title"],
                first=row["GivenName"],
                middle=row["MiddleInitial"],
                last=row["Surname"],
                street=street,
                city=_clean_city(row["City"]),
                state=row["State"],
                zipcode=zipcode,
                country_code=row["Country"],
                country=_COUNTRY_FIXES.get(row["CountryFull"], row["CountryFull"]),
                email=row["EmailAddress"],
                phone=row["TelephoneNumber"],
                calling_code=row["TelephoneCountryCode"],
                birthday=row["Birthday"],
                card_type=row["CCType"],
                domain=row["Domain"].strip().lower(),
                parts=_split_street(street),
            )
        )
    reader = csv.DictReader(io.StringIO(raw_orgs.decode("utf-8-sig"), newline=""), delimiter="\t")
    organizations = sorted(
        {name for row in reader if (name := (row.get("organization") or "").strip()) and not re.search(r"[%\d]", name)}
    )
    return Source(templates=tuple(templates), people=tuple(people), organizations=tuple(organizations))


# ---------------------------------------------------------------- values


class _Values:
    """Every placeholder's value for one person, drawn from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random, source: Source) -> None:
        self.rng = rng
        self.source = source
        self._split = [p for p in source.people if p.parts is not None]
        self.by_gender = {g: [p for p in source.people if p.gender == g] for g in ("female", "male")}

    def name(self, p: Person) -> str:
        if self.rng.random() < 0.2 and p.middle:
            return f"{p.first} {p.middle}{self.rng.choice(('. ', ' '))}{p.last}"
        return f"{p.first} {p.last}"

    def phone(self, p: Person) -> str:
        digits = re.sub(r"\D", "", p.phone)
        if p.calling_code == "1" and len(digits) == 10:
            a, b, c = digits[:3], digits[3:6], digits[6:]
            return self.rng.choice(
                (f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"{a} {b} {c}")
            )
        national = p.phone.replace("(", "").replace(")", "")
        if p.calling_code != "39":  # Italy keeps its leading 0 after the country code
            national = national.removeprefix("0")
        return f"+{p.calling_code} {national}"

    def card(self, p: Person) -> str:
        rng = self.rng
        if rng.random() < 0.1:
            number = _luhn_complete(rng.choice(("34", "37")) + "".join(rng.choices(string.digits, k=12)))
            groups = [number[:4], number[4:10], number[10:]]
        else:
            start = "4" if p.card_type == "Visa" else f"5{rng.randint(1, 5)}"
            number = _luhn_complete(start + "".join(rng.choices(string.digits, k=15 - len(start))))
            groups = [number[i : i + 4] for i in range(0, 16, 4)]
        assert luhn_valid(number)
        return rng.choice((" ", "-", "")).join(groups)

    def iban(self) -> str:
        rng = self.rng
        country = rng.choice(sorted(_IBAN_LAYOUTS))
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
        bban = "".join("".join(rng.choices(alphabet[kind], k=k)) for kind, k in _IBAN_LAYOUTS[country])
        iban = make_iban(country, bban)
        assert iban_valid(iban)
        if rng.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def ssn(self) -> str:
        rng = self.rng
        area = rng.choice([a for a in range(1, 900) if a != 666])
        number = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        sep = "-" if rng.random() < 0.85 else " "
        return sep.join((number[:3], number[3:5], number[5:]))

    def ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.8:
            return ".".join(
                str(o) for o in (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
            )
        groups = [rng.choice((0x2001, 0x2A02, 0x2600, 0xFE80))] + [rng.randint(0, 0xFFFF) for _ in range(7)]
        if rng.random() < 0.5:  # a run of zero groups, written "::"
            start = rng.randint(2, 5)
            for g in range(start, start + 2):
                groups[g] = 0
        return str(ipaddress.IPv6Address(int("".join(f"{g:04x}" for g in groups), 16)))

    def url(self, p: Person) -> str:
        rng = self.rng
        path = rng.choice(_URL_PATHS)
        return rng.choice(
            (
                f"https://www.{p.domain}",
                f"https://{p.domain}/{path}",
                f"http://{p.domain}/{path}?id={rng.randint(100, 99999)}",
                f"https://www.{p.domain}/{path}",
                f"www.{p.domain}/{path}",
                p.domain,
            )
        )

    def email(self, p: Person) -> str:
        return p.email.lower() if self.rng.random() < 0.5 else p.email

    def birthday(self, p: Person) -> str:
        month, day, year = (int(x) for x in p.birthday.split("/"))
        return self.rng.choice(
            (
                f"{month}/{day}/{year}",
                f"{month:02d}/{day:02d}/{year}",
                f"{year}-{month:02d}-{day:02d}",
                f"{_MONTHS[month - 1]} {day}, {year}",
                f"{day} {_MONTHS[month - 1]} {year}",
                f"{day:02d}.{month:02d}.{year}",
            )
        )

    def date_time(self) -> str:
        rng = self.rng
        year, month, day = rng.randint(1990, 2024), rng.randint(1, 12), rng.randint(1, 28)
        return rng.choice(
            (f"{_MONTHS[month - 1]} {day}, {year}", f"{year}-{month:02d}-{day:02d} {rng.randint(8, 20)}:00")
        )

    def secondary(self) -> str:
        rng = self.rng
        return rng.choice(
            (f"Apt. {rng.randint(1, 999)}", f"Suite {rng.randint(100, 999)}", f"Unit {rng.randint(1, 40)}B")
        )

    def street_parts(self, p: Person) -> tuple[str, str]:
        return p.parts if p.parts is not None else self.rng.choice(self._split).parts  # type: ignore[return-value]

    def address(self, p: Person) -> str:
        rng = self.rng
        street = p.street
        if p.country_code in ("US", "CA"):
            state = p.state or rng.choice(_US_STATES)
            unit = f" {self.secondary()}" if rng.random() < 0.3 else ""
            return rng.choice(
                (f"{street}{unit}, {p.city}, {state} {p.zipcode}", f"{street}{unit}\n{p.city}, {state} {p.zipcode}")
            )
        return rng.choice(
            (
                f"{street}, {p.zipcode} {p.city}, {p.country}",
                f"{street}\n{p.zipcode} {p.city}\n{p.country}",
                f"{street}, {p.city} {p.zipcode}",
                f"{street}, {p.city}, {p.country}",
            )
        )

    def value(self, placeholder: str, p: Person, *, street_word_follows: bool = False) -> str:
        """The text for one placeholder; ``street_word_follows`` drops the street's own "St"/"Street"."""
        rng = self.rng
        simple: dict[str, Callable[[], str]] = {
            "person": lambda: self.name(p),
            "name": lambda: self.name(p),
            "name_female": lambda: self.name(p),
            "name_male": lambda: self.name(p),
            "first_name": lambda: p.first,
            "first_name_male": lambda: p.first,
            "first_name_female": lambda: p.first,
            "first_name_nonbinary": lambda: p.first,
            "last_name": lambda: p.last,
            "last_name_male": lambda: p.last,
            "last_name_female": lambda: p.last,
            "prefix": lambda: p.title,
            "prefix_male": lambda: p.title,
            "prefix_female": lambda: p.title,
            "organization": lambda: rng.choice(self.source.organizations),
            "address": lambda: self.address(p),
            "building_number": lambda: self.street_parts(p)[0],
            "secondary_address": self.secondary,
            "city": lambda: p.city,
            "country": lambda: p.country,
            "state_abbr": lambda: p.state or rng.choice(_US_STATES),
            "zipcode": lambda: p.zipcode,
            "postcode": lambda: p.zipcode,
            "email": lambda: self.email(p),
            "phone_number": lambda: self.phone(p),
            "credit_card_number": lambda: self.card(p),
            "iban": self.iban,
            "ssn": self.ssn,
            "ip_address": self.ip,
            "url": lambda: self.url(p),
            "date_of_birth": lambda: self.birthday(p),
            "date_time": self.date_time,
            "year": lambda: str(rng.randint(1950, 2023)),
            "day_of_week": lambda: rng.choice(_DAYS),
            "age": lambda: str(rng.randint(18, 95)),
            "job": lambda: rng.choice(_JOBS),
            "nationality": lambda: rng.choice(_NATIONALITIES),
            "nation_woman": lambda: rng.choice(_NATION_WOMEN),
            "nation_plural": lambda: rng.choice(_NATION_PLURAL),
            "us_driver_license": lambda: rng.choice(string.ascii_uppercase) + "".join(rng.choices(string.digits, k=7)),
        }
        if placeholder == "street_name":
            street = self.street_parts(p)[1]
            if street_word_follows:
                street = _STREET_TYPE_AT_END.sub("", street)
            return street
        if placeholder not in simple:
            raise KeyError(f"no value for placeholder {{{{{placeholder}}}}}; add it to pii_data.py")
        return simple[placeholder]()


# ---------------------------------------------------------------- filling


_FEMALE = {"name_female", "first_name_female", "last_name_female", "prefix_female"}
_MALE = {"name_male", "first_name_male", "last_name_male", "prefix_male"}


def fill(template: str, values: _Values) -> dict[str, Any]:
    """One sentence from one template: text, labelled spans and unlabelled placeholder spans."""
    rng = values.rng
    crowd = {g: [rng.choice(group) for _ in range(8)] for g, group in values.by_gender.items()}
    anyone = [rng.choice(values.source.people) for _ in range(12)]
    seen: Counter[str] = Counter()
    pieces = list(_PLACEHOLDER.finditer(template))
    text = ""
    pos = 0
    filled: list[tuple[str, int, int]] = []  # (placeholder, start, end)
    for i, match in enumerate(pieces):
        text += template[pos : match.start()]
        placeholder = match.group(1).lower()
        k = seen[placeholder]
        seen[placeholder] += 1
        pool = crowd["female"] if placeholder in _FEMALE else crowd["male"] if placeholder in _MALE else anyone
        following = template[match.end() : pieces[i + 1].start() if i + 1 < len(pieces) else len(template)]
        value = values.value(
            placeholder, pool[k % len(pool)], street_word_follows=bool(_STREET_WORD_AFTER.match(following))
        )
        filled.append((placeholder, len(text), len(text) + len(value)))
        text += value
        pos = match.end()
    text += template[pos:]
    entities, unlabelled = _label(text, filled)
    return {"text": text, "entities": entities, "unlabelled": unlabelled}


def _label(text: str, filled: list[tuple[str, int, int]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entities: list[dict[str, Any]] = []
    unlabelled: list[dict[str, Any]] = []
    i = 0
    while i < len(filled):
        placeholder, start, end = filled[i]
        if placeholder in ADDRESS_PARTS:
            j = i
            while (
                j + 1 < len(filled)
                and filled[j + 1][0] in ADDRESS_PARTS
                and _RUN_GAP.fullmatch(text[filled[j][2] : filled[j + 1][1]])
            ):
                j += 1
            run = filled[i : j + 1]
            if any(name in STREET_PARTS for name, _, _ in run):
                run_end = run[-1][2]
                if word := _STREET_WORD_AFTER.match(text, run_end):
                    run_end = word.end()
                entities.append({"start": start, "end": run_end, "label": "ADDRESS"})
            else:
                for name, s, e in run:
                    if name in LOCATION_PLACEHOLDERS:
                        entities.append({"start": s, "end": e, "label": "LOCATION"})
                    else:
                        unlabelled.append({"start": s, "end": e, "placeholder": name})
            i = j + 1
            continue
        if placeholder in DIRECT_LABELS:
            entities.append({"start": start, "end": end, "label": DIRECT_LABELS[placeholder]})
        else:
            assert placeholder in UNLABELLED, placeholder
            unlabelled.append({"start": start, "end": end, "placeholder": placeholder})
        i += 1
    return entities, unlabelled


def generate(n: int = 2000, seed: int = SEED, source: Source | None = None) -> list[dict[str, Any]]:
    """``n`` span-labelled sentences: ``EXTRA_SHARE`` of them from the extra templates (round-robin over
    the pattern types), the rest from presidio-evaluator's templates drawn uniformly; shuffled."""
    source = source or load_source()
    rng = random.Random(seed)
    values = _Values(rng, source)
    n_extra = round(n * EXTRA_SHARE)
    plan: list[tuple[str, int, str]] = []
    for i in range(n_extra):
        label = PATTERN_LABELS[i % len(PATTERN_LABELS)]
        index = rng.randrange(len(EXTRA_TEMPLATES[label]))
        plan.append(("extra", index, EXTRA_TEMPLATES[label][index]))
    for _ in range(n - n_extra):
        index = rng.randrange(len(source.templates))
        plan.append(("presidio", index, source.templates[index]))
    rng.shuffle(plan)
    sentences = []
    for origin, index, template in plan:
        sentence = fill(template, values)
        for span in sentence["entities"]:
            assert sentence["text"][span["start"] : span["end"]].strip(), (template, span)
        sentences.append(sentence | {"source": origin, "template": index})
    return sentences


def support(sentences: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(span["label"] for s in sentences for span in s["entities"])
    return {label: counts.get(label, 0) for label in LABELS}


def main() -> None:
    parser = argparse.ArgumentParser(description="Print a few generated PII sentences and the support per type.")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--show", type=int, default=5)
    args = parser.parse_args()
    sentences = generate(args.n, args.seed)
    for sentence in sentences[: args.show]:
        print(json.dumps(sentence, ensure_ascii=False))
    print(json.dumps(support(sentences)))


if __name__ == "__main__":
    main()
