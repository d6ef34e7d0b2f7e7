"""Find PII in text: pattern recognizers, the ``Finding`` they report, and a ``Detector`` that joins them.

A recognizer is anything with a ``name``, the ``types`` it reports and ``find(text) -> list[Finding]``;
:func:`pattern_recognizers` gives one small regex recognizer per pattern type (e-mail, phone, card, IBAN,
SSN, IP, URL, date of birth, street address). The street-address matching is large enough to live in
:mod:`modelyard.privacy.recognizers.address`. The NER recognizer for names lives elsewhere and plugs in
the same way; a recognizer that also has ``find_many(texts)`` is called once per batch.

Each pattern finds candidates with a regex compiled once at import, then a validator rejects what is not
PII (Luhn, IBAN mod-97, SSN area rules, ``ipaddress``, calendar dates) and scores the rest. Scores rank
types against each other when spans overlap: checksummed types (card, IBAN) and e-mails outrank phones,
so a card number is never also a phone number. Cue words nearby ("born", "call") raise a score.

Deliberately not handled: phone numbers of fewer than six digits, six-digit numbers without a phone cue,
street names with neither a number, a unit, a corner nor a street-type word after a preposition ("Elm"),
dates without a year or in a future year, two-digit years without a birth cue, and IBANs of countries
outside the table.
"""

from __future__ import annotations

import abc
import bisect
import ipaddress
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Protocol

from modelyard.errors import ConfigError
from modelyard.privacy.recognizers.address import find_addresses

__all__ = [
    "NAME_TYPES",
    "PATTERN_TYPES",
    "TYPES",
    "Detector",
    "Finding",
    "Recognizer",
    "iban_valid",
    "luhn_valid",
    "pattern_recognizers",
    "resolve_overlaps",
]

PATTERN_TYPES = (
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "IP_ADDRESS",
    "URL",
    "DATE_OF_BIRTH",
    "ADDRESS",
)
NAME_TYPES = ("PERSON", "LOCATION", "ORGANIZATION")
TYPES = PATTERN_TYPES + NAME_TYPES


@dataclass(frozen=True)
class Finding:
    """``text[start:end]`` is PII of kind ``type``, found by ``recognizer`` with confidence ``score`` (0..1)."""

    type: str
    start: int
    end: int
    score: float
    recognizer: str


class Recognizer(Protocol):
    """Finds PII of its ``types`` in one text. May also offer ``find_many(texts)`` for batches."""

    name: str
    types: frozenset[str]

    def find(self, text: str) -> list[Finding]: ...


# --------------------------------------------------------------------------------------------------
# Checksums


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (spaces and dashes ignored) pass the Luhn check used by payment cards."""
    compact = digits.replace(" ", "").replace("-", "")
    if len(compact) < 2 or not compact.isascii() or not compact.isdigit():
        return False
    total = 0
    for i, char in enumerate(reversed(compact)):
        d = int(char)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# ISO 13616 registry lengths; a country outside this table is not accepted.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")


def iban_valid(text: str) -> bool:
    """True when ``text`` (spaces ignored, any case) is an IBAN of the right length for its country and mod-97 == 1."""
    compact = text.replace(" ", "").upper()
    if not _IBAN_SHAPE.fullmatch(compact) or IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    # int(c, 36) maps 0-9 to themselves and A-Z to 10-35, as ISO 7064 asks.
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --------------------------------------------------------------------------------------------------
# Pattern recognizers

_Hit = tuple[int, int, float]  # start, end, score


def _cue_before(text: str, start: int, cue: re.Pattern[str], window: int = 40) -> bool:
    return cue.search(text, max(0, start - window), start) is not None


class _RegexRecognizer(abc.ABC):
    """One type, one compiled pattern; ``_judge`` rejects a match (None) or scores it, maybe moving its ends."""

    name: str
    types: frozenset[str]
    pattern: re.Pattern[str]

    def find(self, text: str) -> list[Finding]:
        (kind,) = self.types
        findings = []
        pos = 0
        # Not finditer: a match that ``_judge`` cuts short ("BE66 4380 1092 9014 to NL69…" read as one IBAN)
        # must not hide what follows its real end, so the search restarts there.
        while pos <= len(text) and (match := self.pattern.search(text, pos)) is not None:
            hit = self._judge(text, match)
            if hit is None:
                pos = self._resume_after_reject(match)
                continue
            start, end, score = hit
            findings.append(Finding(kind, start, end, score, self.name))
            pos = max(end, match.start() + 1)
        return findings

    def _resume_after_reject(self, match: re.Match[str]) -> int:
        return max(match.end(), match.start() + 1)

    @abc.abstractmethod
    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        """Each recognizer's own check of a candidate match (checksum, context, shape)."""


class EmailRecognizer(_RegexRecognizer):
    name = "email-pattern"
    types = frozenset({"EMAIL"})
    pattern = re.compile(
        r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[a-z]{2,24}(?![\w-])",
        re.IGNORECASE,
    )

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        return match.start(), match.end(), 0.95


class CreditCardRecognizer(_RegexRecognizer):
    """Visa/Mastercard/Amex/Discover/Diners/JCB/Maestro numbers: 12-19 digits that pass Luhn."""

    name = "card-luhn"
    types = frozenset({"CREDIT_CARD"})
    # Grouped forms only as printed on cards (4-4-4-4[-3], Amex 4-6-5, Diners 4-6-4), so a phone number
    # written in groups of two or three is never read as a card. A leading "+" marks a phone number.
    pattern = re.compile(
        r"""
        (?<![\w+.-])
        (?:
            \d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,4})?(?:(?P=sep)\d{1,3})?
          | \d{4}(?P<amex>[ -])\d{6}(?P=amex)\d{4,5}
          | \d{12,19}
        )
        (?![\w]|[.-]\d)
        """,
        re.VERBOSE,
    )

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        digits = re.sub(r"\D", "", match.group())
        if not 12 <= len(digits) <= 19 or not luhn_valid(digits):
            return None
        # Only Maestro is 12 digits long; a 12-digit Luhn pass is more often chance than a card.
        return match.start(), match.end(), 0.9 if len(digits) >= 13 else 0.75


class IbanRecognizer(_RegexRecognizer):
    name = "iban-checksum"
    types = frozenset({"IBAN"})
    # A space may sit between any two characters; the match may run into the next words ("… 32 from",
    # "BE66 4380 1092 9014 to NL69…"), so the country's length decides where the IBAN really ends and the
    # search goes on from there. A rejected run is searched again from its next word: an IBAN may sit in it.
    pattern = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}", re.IGNORECASE)

    def _resume_after_reject(self, match: re.Match[str]) -> int:
        return match.start() + 1

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        length = IBAN_LENGTHS.get(match.group()[:2].upper())
        if length is None:
            return None
        seen = 0
        end = match.start()
        for offset, char in enumerate(match.group()):
            if char != " ":
                seen += 1
                if seen == length:
                    end = match.start() + offset + 1
                    break
        if seen < length or (end < len(text) and text[end].isalnum()):
            return None
        return (match.start(), end, 0.95) if iban_valid(text[match.start() : end]) else None


class UsSsnRecognizer(_RegexRecognizer):
    name = "ssn-pattern"
    types = frozenset({"US_SSN"})
    pattern = re.compile(
        r"(?<![\w.-])(?P<area>\d{3})(?P<sep>[- ]?)(?P<group>\d{2})(?P=sep)(?P<serial>\d{4})(?![\w]|[-.]\d)"
    )
    _CUE = re.compile(r"\b(?:ssn|social\s+security)\b", re.IGNORECASE)

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        area, group, serial = match["area"], match["group"], match["serial"]
        # Never issued: area 000, 666 or 900-999, group 00, serial 0000; one repeated digit is a placeholder.
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            return None
        if len(set(area + group + serial)) == 1:
            return None
        cue = _cue_before(text, match.start(), self._CUE)
        if not match["sep"]:
            # Nine bare digits are as often an account or licence number; only a cue makes them an SSN.
            return (match.start(), match.end(), 0.7) if cue else None
        score = 0.85 if match["sep"] == "-" else 0.7
        return match.start(), match.end(), 0.95 if cue else score


class IpAddressRecognizer(_RegexRecognizer):
    """IPv4 dotted quads and IPv6 (full or compressed), validated by :mod:`ipaddress`.

    A dotted quad after a version word or specifier ("version 1.2.3.4", "lz4>=1.7.4.2") scores 0.4,
    below the default cut-off: it is a version number, not an address. Without one it is reported,
    since "1.2.3.4" is as valid an address as any.
    """

    name = "ip-pattern"
    types = frozenset({"IP_ADDRESS"})
    pattern = re.compile(
        r"""
        (?<![\w.:])(?P<v4>\d{1,3}(?:\.\d{1,3}){3})(?![\w:]|\.\d)
      | (?<![\w:])(?P<v6>(?=[0-9a-f]*:[0-9a-f]*:)[0-9a-f:]{2,39}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:]|\.\d)
        """,
        re.VERBOSE | re.IGNORECASE,
    )
    _VERSION_CUE = re.compile(r"(?:\b(?:version|ver\.?|release|build|firmware|v)|[<>~!=]=)\s*$", re.IGNORECASE)

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        if match["v4"] is not None:
            try:
                ipaddress.IPv4Address(match["v4"])
            except ValueError:
                return None
            version = self._VERSION_CUE.search(text, max(0, match.start() - 12), match.start()) is not None
            return match.start(), match.end(), 0.4 if version else 0.9
        candidate = match["v6"]
        # "::", "a::b" parse as addresses but read as code or punctuation in prose.
        if sum(c not in ":." for c in candidate) < 4:
            return None
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            return None
        return match.start(), match.end(), 0.9


# Bare domains ("example.com/path", no scheme, no "www."): these TLDs with any label in front ...
_BARE_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|co|us|uk|de|fr|ca|au|nl|es|ch|se|dk|fi|pl|pt|ru|jp|cn|br|"
    "mx|nz|ie|gr|cz|hu|ro|eu|tv|app|dev|xyz|online|site|shop|store|tech|cloud"
)
# ... and every other country code, with a label of two or more characters ("securegap.uy"). Country codes
# that are also file extensions (.py, .md, .rs, .sh, .so, .cc, .ps ...) are left out, so "script.py" and
# "README.md" are not URLs; with a scheme or "www." any TLD is fine.
_MORE_CCTLDS = frozenset(
    str.split(
        "ac ad ae af ag al am ao aq ar as at aw ax az ba bb bd be bf bg bh bi bj bm bn bo bs bt bw by cd cf cg ci "
        "ck cl cm cr cu cv cw cx cy dj dm do dz ec ee eg er et fj fk fm fo ga gd ge gf gg gh gi gl gm gn gp gq gs "
        "gt gu gw gy hk hm hn hr ht id il im in iq ir is it je jm jo ke kg kh ki km kn kp kr kw ky kz la lb lc li "
        "lk lr ls lt lu lv ly ma mc me mg mh mn mp mq mr ms mt mu mv mw my mz na nc ne nf ng ni no np nr nu om pa "
        "pe pf pg ph pk pn pr pw qa re rw sa sb sc sd sg si sk sl sm sn sr ss st sx sy sz tc td tg th tj tk tl tm "
        "tn to tr tt tw tz ua ug uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
    )
)
# Country codes that are also English words: "did it.it was", "so done.is that" are typing slips, so such a
# domain needs a label of three or more characters and must not run on into a lower-case word.
_WORD_CCTLDS = frozenset({"am", "as", "at", "be", "by", "do", "id", "in", "is", "it", "me", "my", "no", "to"})


class UrlRecognizer(_RegexRecognizer):
    """http(s)/ftp URLs, ``www.`` hosts and bare domains with a common TLD (``example.com/path``).

    An e-mail's domain is not a URL: a domain right after ``@`` or before ``@`` is skipped. Trailing
    sentence punctuation and an unbalanced closing bracket are not part of the URL.
    """

    name = "url-pattern"
    types = frozenset({"URL"})
    pattern = re.compile(
        rf"""
        (?<![\w@.-])
        (?:
            (?P<scheme>(?i:(?:https?|ftp)://[a-z0-9][a-z0-9.-]*[^\s<>"'`]*))
          | (?P<www>(?i:www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:[/?#:][^\s<>"'`]*)?))
          | (?P<bare>
                (?P<host>(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_BARE_TLDS}|{"|".join(sorted(_MORE_CCTLDS))}))
                (?![\w@-])(?P<path>[/?#][^\s<>"'`]*)?
            )
        )
        """,
        re.VERBOSE,
    )
    _LOWER_WORD_AFTER = re.compile(r"[ \t]+[a-z]")
    _TRAILING = ".,;:!?'\""
    _OPENER_OF: ClassVar[dict[str, str]] = {")": "(", "]": "[", "}": "{"}

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        start, end = match.start(), match.end()
        while end > start and (text[end - 1] in self._TRAILING or self._unbalanced(text, start, end)):
            end -= 1
        if end < len(text) and text[end] == "@":
            return None
        if match["host"] is not None and not self._plausible_host(text, match):
            return None
        score = 0.9 if match["scheme"] else 0.85 if match["www"] else 0.6
        return start, end, score

    def _plausible_host(self, text: str, match: re.Match[str]) -> bool:
        *labels, tld = match["host"].split(".")
        if tld not in _MORE_CCTLDS:
            return True
        if tld in _WORD_CCTLDS and len(labels) == 1 and not match["path"]:
            return len(labels[0]) >= 3 and not self._LOWER_WORD_AFTER.match(text, match.end("host"))
        return len(labels[-1]) >= 2

    def _unbalanced(self, text: str, start: int, end: int) -> bool:
        last = text[end - 1]
        opener = self._OPENER_OF.get(last)
        return opener is not None and text.count(last, start, end) > text.count(opener, start, end)


_MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTHS = {name: i for i, name in enumerate(_MONTH_ABBREVIATIONS, start=1)}


class DateOfBirthRecognizer(_RegexRecognizer):
    """Calendar dates with a year: 03/14/1985, 1985-03-14, 14.03.1985, March 14, 1985, 14 March 1985.

    Near a birth cue (born, birth, birthday, DOB) a date scores 0.85; elsewhere 0.55, still above the
    default cut-off, since a bare date in personal text is most often a birth date. Without a cue, a
    date followed by a time of day ("2003-01-15 12:34:56") is an event's timestamp and is not reported.
    """

    name = "dob-pattern"
    types = frozenset({"DATE_OF_BIRTH"})
    pattern = re.compile(
        rf"""
        (?<![\w/.-])
        (?:
            (?P<a>\d{{1,2}})(?P<sep>[/.-])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|(?<=/)\d{{2}})
          | (?P<iy>\d{{4}})(?P<isep>[/.-])(?P<im>\d{{1,2}})(?P=isep)(?P<id>\d{{1,2}})
          | (?P<mm>{_MONTH})\.?[ ]+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?[ ]+(?P<my>\d{{4}})
          | (?P<dd>\d{{1,2}})(?:st|nd|rd|th)?[ ]+(?:of[ ]+)?(?P<dm>{_MONTH})\.?,?[ ]+(?P<dy>\d{{4}})
        )
        (?![\w/]|[.-]\d)
        """,
        re.VERBOSE | re.IGNORECASE,
    )
    _CUE = re.compile(r"\b(?:born|birth|birthday|b-?day|dob|d\.o\.b)\b", re.IGNORECASE)
    _TIME_AFTER = re.compile(r"(?:T|,?[ ]+(?:at[ ]+)?)\d{1,2}:\d{2}")

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        born = self._date_of(match)
        # Nobody is born in the future; a date after this year is a deadline or an appointment.
        if born is None or born.year > date.today().year:
            return None
        if _cue_before(text, match.start(), self._CUE):
            return match.start(), match.end(), 0.85
        if self._TIME_AFTER.match(text, match.end()) or (match["y"] is not None and len(match["y"]) == 2):
            return None
        return match.start(), match.end(), 0.55

    @staticmethod
    def _date_of(match: re.Match[str]) -> date | None:
        if match["a"] is not None:
            year = int(match["y"]) if len(match["y"]) == 4 else 1900 + int(match["y"])
            a, b = int(match["a"]), int(match["b"])
            return _to_date(year, a, b) or _to_date(year, b, a)  # M/D/Y or D/M/Y
        if match["iy"] is not None:
            return _to_date(int(match["iy"]), int(match["im"]), int(match["id"]))
        if match["mm"] is not None:
            return _to_date(int(match["my"]), _MONTHS[match["mm"][:3].lower()], int(match["md"]))
        return _to_date(int(match["dy"]), _MONTHS[match["dm"][:3].lower()], int(match["dd"]))


def _to_date(year: int, month: int, day: int) -> date | None:
    if not 1900 <= year <= 2099:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


class PhoneRecognizer(_RegexRecognizer):
    """Phone numbers in US, UK and international layouts, with or without a ``+``/``00`` country code.

    Digit groups are joined by one space, dash or dot; the country code ("+44", "0044", "(+44)"), an
    area code or a trunk prefix may sit in parentheses ("(555) 123-4567", "+41 (0)44 123 45 67"); an
    extension ("x123", "ext. 12") is kept. Slashes ("030/1234567") are not read as separators.
    Digit counts keep other numbers out: 8-15 with a country code, 10-11 as one bare run, 7-12 in
    groups; six digits in groups ("84 23 30") only near a phone cue. Shapes that belong to another type
    are rejected here rather than left to overlap resolution, so a ``types=["PHONE"]`` detector does
    not report them: SSNs (3-2-4), ZIP+4 (5-4), dates, dotted quads, decimals and year ranges.
    Amounts after a currency sign or before a unit, and numbers after "licence", "account", "order"
    and the like, are not phones.
    """

    name = "phone-pattern"
    types = frozenset({"PHONE"})
    pattern = re.compile(
        r"""
        (?<![\w+./@-])
        (?P<number>
            (?P<intl>(?:\+|00)\d{1,3}[ .-]?|\(\+\d{1,3}\)[ ]?)?
            (?P<paren>\(\d{1,5}\)[ .-]?)?
            \d{1,12}(?:[ .-]\d{1,12}){0,5}
        )
        (?P<ext>[ ]?(?:x|ext\.?|extension)[ ]?\d{1,5})?
        (?![\w+@]|[.,/:-]\d)
        """,
        re.VERBOSE | re.IGNORECASE,
    )
    _CUE_BEFORE = re.compile(
        r"\b(?:phone|tel|telephone|call|calls|mobile|cell|fax|desk|office|contact|reach|text|sms|whatsapp|"
        r"number|answering|messages|registered)\b",
        re.IGNORECASE,
    )
    _CUE_AFTER = re.compile(r"[ ]?[-(]?[ ]?(?:office|fax|mobile|cell|home|work|phone)\b", re.IGNORECASE)
    # Only right before the number ("licence number is", "order #", "Apt. 12"), so "in order to call" still counts.
    _NOT_PHONE_BEFORE = re.compile(
        r"\b(?:licen[cs]e|passport|account|acct|order|invoice|ticket|tracking|serial|policy|ssn|id|zip|postal|postcode"
        r"|apt|apartment|suite|ste|unit|room|box)"
        r"(?:[ ]+(?:number|num|no|nr|id|is|was))*[ ]*[:#.]?[ ]*$",
        re.IGNORECASE,
    )
    _CURRENCY_BEFORE = re.compile(r"[$€£¥][ ]?$")
    _UNIT_AFTER = re.compile(
        r"[ ]?(?:%|[$€£¥]|(?:usd|eur|gbp|dollars?|euros?|pounds?|percent|kg|km|miles?)\b)", re.IGNORECASE
    )
    _WORD_AFTER = re.compile(r"[ \t]+([^\W\d_]+)")
    _DIGIT_RUN = re.compile(r"\d+")

    def _judge(self, text: str, match: re.Match[str]) -> _Hit | None:
        number = match["number"]
        groups = self._DIGIT_RUN.findall(number)
        n = sum(len(g) for g in groups)
        intl, paren = match["intl"] is not None, match["paren"] is not None
        start, end = match.start(), match.end()
        if intl:
            plausible = 8 <= n <= 15
        elif len(groups) == 1:
            plausible = 10 <= n <= 11
        else:
            plausible = 6 <= n <= 12 and (
                paren or not (self._other_shape(number, groups) or self._name_follows(text, end))
            )
        if not plausible or self._not_a_phone_here(text, start, end):
            return None
        if intl or paren:
            score = 0.7
        elif len(groups) == 1:
            score = 0.55
        else:
            score = 0.65
        cue = _cue_before(text, start, self._CUE_BEFORE, 30) or self._CUE_AFTER.match(text, end)
        if n == 6:
            return (start, end, 0.55) if cue else None
        return start, end, min(score + 0.15, 0.85) if cue else score

    def _not_a_phone_here(self, text: str, start: int, end: int) -> bool:
        """An amount ("$1 234 567", "12 345 678 USD") or an identifier named just before ("order #")."""
        return bool(
            self._CURRENCY_BEFORE.search(text, max(0, start - 2), start)
            or self._UNIT_AFTER.match(text, end)
            or self._NOT_PHONE_BEFORE.search(text, max(0, start - 30), start)
        )

    def _name_follows(self, text: str, end: int) -> bool:
        """A capitalised word right after ("Suite 921 3066 Elm Road") makes the digits a unit and a house number."""
        after = self._WORD_AFTER.match(text, end)
        word = after.group(1) if after else ""
        return len(word) > 1 and word[0].isupper() and word[1].islower()

    @staticmethod
    def _other_shape(number: str, groups: list[str]) -> bool:
        seps = set(re.sub(r"\d", "", number))
        sizes = [len(g) for g in groups]
        if min(sizes) < 2 and sizes != [1, 3, 3, 4]:
            return True  # a version or a range ("0.3.33.1", "7-10 23-25"); only US "1-800-555-0199" starts with 1
        if len(groups) == 2 and (sizes[1] < 4 or seps == {"."}):
            return True  # a decimal number or a postcode ("4580-857"); two-part phones end in 4+ digits
        if seps == {"."} and len(groups) == 4 and max(sizes) <= 3:
            return True  # a dotted quad (IPv4)
        if sizes == [3, 2, 4] and len(seps) == 1:
            return True  # an SSN
        if sizes == [5, 4] and seps == {"-"}:
            return True  # a ZIP+4 code
        if len(groups) == 3 and len(seps) == 1 and (sizes[0] == 4 or sizes[2] == 4) and max(sizes[:2]) <= 4:
            first, second, third = (int(g) for g in groups)
            if sizes[0] == 4:
                return _to_date(first, second, third) is not None
            return (_to_date(third, first, second) or _to_date(third, second, first)) is not None
        return sizes == [4, 4] and all(g[:2] in ("19", "20") for g in groups)  # years: "1990-2000", "2019 2020"


class AddressRecognizer:
    """Street addresses, US style and international, with the city / postcode / country parts that
    follow them as one span: see :mod:`modelyard.privacy.recognizers.address`."""

    name = "address-pattern"
    types = frozenset({"ADDRESS"})

    def find(self, text: str) -> list[Finding]:
        return [Finding("ADDRESS", start, end, score, self.name) for start, end, score in find_addresses(text)]


def pattern_recognizers() -> list[Recognizer]:
    """A fresh instance of every pattern recognizer, one per type in :data:`PATTERN_TYPES`."""
    return [
        EmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpAddressRecognizer(),
        UrlRecognizer(),
        DateOfBirthRecognizer(),
        AddressRecognizer(),
    ]


# --------------------------------------------------------------------------------------------------
# Combining recognizers


def resolve_overlaps(findings: Collection[Finding]) -> list[Finding]:
    """Keep non-overlapping findings, sorted by start: of two that overlap, a pattern finding beats a name,
    then the higher score wins, then the longer.

    Patterns first because they are checked structurally (a checksum, a street-and-postcode shape),
    while a name model often tags the city inside an address or the person inside an email.
    Spans are half-open, so findings that only touch ("ab" at 0-2 and "cd" at 2-4) both stay.
    """
    ranked = sorted(
        findings, key=lambda f: (f.type in NAME_TYPES, -f.score, -(f.end - f.start), f.start, f.type, f.recognizer)
    )
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in ranked:
        i = bisect.bisect_left(starts, finding.start)
        if i > 0 and kept[i - 1].end > finding.start:
            continue
        if i < len(kept) and kept[i].start < finding.end:
            continue
        starts.insert(i, finding.start)
        kept.insert(i, finding)
    return kept


class Detector:
    """Runs recognizers over text and returns their findings of the wanted ``types`` scoring at least
    ``min_score``, with overlaps resolved (:func:`resolve_overlaps`).

    ``types=None`` keeps every type the recognizers report; an unknown type name is a ``ConfigError``.
    """

    def __init__(
        self,
        recognizers: Sequence[Recognizer],
        *,
        types: Collection[str] | None = None,
        min_score: float = 0.5,
    ) -> None:
        if types is not None:
            unknown = sorted(set(types) - set(TYPES))
            if unknown:
                raise ConfigError(
                    f"unknown PII type(s) {', '.join(map(repr, unknown))}; allowed types: {', '.join(TYPES)}"
                )
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"min_score must be between 0 and 1, got {min_score!r}")
        self.types: frozenset[str] | None = frozenset(types) if types is not None else None
        self.min_score = min_score
        # A recognizer that can report none of the wanted types is not run at all.
        self.recognizers: list[Recognizer] = [r for r in recognizers if self.types is None or r.types & self.types]

    def find(self, text: str) -> list[Finding]:
        """Findings in ``text``, sorted by start, never two overlapping."""
        return self._select([f for r in self.recognizers for f in r.find(text)])

    def find_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """``[self.find(t) for t in texts]``, but a recognizer with its own ``find_many`` sees the whole batch."""
        per_text: list[list[Finding]] = [[] for _ in texts]
        for recognizer in self.recognizers:
            if hasattr(recognizer, "find_many"):
                batch: list[list[Finding]] = recognizer.find_many(texts)
            else:
                batch = [recognizer.find(text) for text in texts]
            for collected, found in zip(per_text, batch, strict=True):
                collected.extend(found)
        return [self._select(found) for found in per_text]

    def _select(self, findings: list[Finding]) -> list[Finding]:
        wanted = [f for f in findings if f.score >= self.min_score and (self.types is None or f.type in self.types)]
        return resolve_overlaps(wanted)
