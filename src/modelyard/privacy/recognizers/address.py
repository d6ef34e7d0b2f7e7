"""Street addresses: the matching behind ``modelyard.privacy.detect.AddressRecognizer``.

:func:`find_addresses` joins two passes and merges the spans they find where they overlap:

* **US style** (:func:`_us_pattern`): ``<number> <Name words> <US suffix>`` with an optional unit, then
  city / state / ZIP parts; a street name with a unit; P.O. boxes; military APO/FPO/DPO addresses. Text
  without a capital letter is searched case-insensitively, with function words barred from names.
* **International blocks** (:func:`_blocks`): a street line with the house number before or after the
  name ("12 Rue de Penthièvre", "Avenida Liberdade 78", "ul. Elbląska 97", "Rákóczi út 66."), a unit
  first ("Apt. 12 12 Männi") or a P.O. box, then the parts after it, joined by commas or line breaks
  (one space where the shape allows: "Mustoja LV 45429", "45429 Mustoja"): units, postcodes (5 or 4
  digits, 5-3 BR, 4-3 PT, 2-3 PL, 3 2 SE/CZ, "1234 AB" NL, "K1A 0B1" CA, "SW1A 1AA" UK), capitalised
  city or region names, state codes and country names. The whole block is one span.

A street line counts on its own when it has a street-type word: an English suffix ("Road", "St."), a
prefix ("Rua", "Via", "Rue", "Calle", "ul."), a word of its own ("út", "utca", "põik") or a compound ending
("Mattenstrasse", "Beerzerweg", "Degnehøjvej", "Östbygatan"). Without one ("Männi 12", "24 Illoqarfiup
Qeppa") it needs support: a unit, a postcode next to a place, a city followed by a country, or an
address cue before it ("address:", "lives at", "is at"). A street name without a number needs a type word
and a preposition before it ("on Mattenstrasse", "lives on Männi street"). "The corner of X and Y" gives
two streets, X and Y, not one span over both.

A name-first street may hold lower-case words that are no type word ("Velký průhon 426", "Fogd Drejers
gate 93") only when a postcode or a country follows. Number and name that read as something else are not
streets: "World War 2", "Euro 2016", "20 Songs", "10 Main Hall"; nor is a year before a place and a
country ("2019 Census, Ottawa, Canada").

Not handled: number-less streets without a type word outside a corner ("the bus station is on Männi"),
towns whose name holds a number in the middle ("Cite 7 Novembre"), and international addresses in text
without any capital letter (only the US style is searched there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

__all__ = ["find_addresses"]

Hit = tuple[int, int, float]  # start, end, score


def _char_class(keep: Callable[[str], bool], last: int = 0x2000) -> str:
    """A regex character class of the code points below ``last`` that ``keep`` accepts, as ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x41, last):
        if keep(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


def _words(listed: str, sep: str | None = None) -> frozenset[str]:
    """The words of ``listed``, split on ``sep`` (white space by default): long word lists stay readable."""
    return frozenset(listed.split(sep))


# --------------------------------------------------------------------------------------------------
# US style

_STREET_SUFFIXES = (
    "Alley|Annex|Arcade|Avenue|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Branch|Bridge|Brooks?|Burgs?|Bypass|"
    "Camp|Canyon|Cape|Causeway|Centers?|Circles?|Cliffs?|Club|Commons?|Corners?|Course|Courts?|Coves?|Creek|"
    "Crescent|Crest|Crossing|Crossroads?|Curve|Dale|Dam|Divide|Drives?|Estates?|Expressway|Extensions?|Falls?|"
    "Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|Groves?|"
    "Harbors?|Haven|Heights|Highway|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|"
    "Landing|Lane|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|Motorway|Mount|"
    "Mountains?|Neck|Orchard|Oval|Overpass|Parks?|Parkways?|Parade|Pass|Passage|Path|Pike|Pines?|Place|Plains?|"
    "Plaza|Points?|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads?|Route|Row|Rue|Run|Shoals?|"
    "Shores?|Skyway|Springs?|Spurs?|Squares?|Station|Stravenue|Stream|Streets?|Summit|Terrace|Throughway|Trace|"
    "Track|Trafficway|Trail|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Via|Viaduct|Views?|Villages?|Ville|Vista|"
    "Walks?|Wall|Ways?|Wells?"
)
_STREET_ABBREVIATIONS = (
    "St|Str|Ave|Av|Rd|Blvd|Dr|Ln|Ct|Pl|Pkwy|Hwy|Sq|Ter|Terr|Cir|Trl|Cres|Expy|Fwy|Aly|Plz|Pt|Mt|Cv|Xing"
)
_STATE_ABBREVIATIONS = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|AS|FM|GU|MH|MP|PR|PW|VI|AA|AE|AP"
)
_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New[ ]Hampshire|New[ ]Jersey|New[ ]Mexico|New[ ]York|"
    "North[ ]Carolina|North[ ]Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode[ ]Island|South[ ]Carolina|"
    "South[ ]Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West[ ]Virginia|Wisconsin|Wyoming|"
    "District[ ]of[ ]Columbia|Puerto[ ]Rico"
)
_SEP = r"(?:[ \t]*(?:[,\n][ \t]*){1,3}|[ \t]+)"  # between parts: a comma, line breaks or spaces
# A ZIP ends an address; one followed by more digits is the start of a phone number on the next line.
_ZIP = r"\d{5}(?:-\d{4})?(?![\w]|-\d|[ ]\d)"
# Words that cannot be part of a street or place name in lower-cased text ("3 kids on the road").
_FUNCTION_WORDS = (
    "a|an|the|and|or|of|on|in|at|to|for|with|from|by|my|your|his|her|our|their|its|is|are|was|were|be|"
    "i|you|he|she|we|they|it|this|that|these|those|have|has|had|do|does|did|not|no|all|some|any|more|most|"
    "very|so|but|if|then|than|when|where|what|who|how|will|would|can|could|should|may|might|must"
)


def _us_pattern(*, capitalised: bool) -> re.Pattern[str]:
    if capitalised:
        initial = r"[A-ZÀ-ÖØ-Þ]"
        flags = re.VERBOSE | re.MULTILINE
    else:
        initial = rf"(?!(?:{_FUNCTION_WORDS})\b)[^\W\d_]"
        flags = re.VERBOSE | re.MULTILINE | re.IGNORECASE
    # A period inside a name ("St. Louis") but not the one that ends the sentence.
    word = rf"{initial}[\w'’-]*(?:\.(?=[ \t]*\w)|\.(?=\w))?"
    suffix = rf"(?:(?:{_STREET_SUFFIXES})\b|(?:{_STREET_ABBREVIATIONS})\b\.?)"
    street_name = rf"(?:(?:{word}|\d+(?:st|nd|rd|th))[ \t]+){{1,4}}{suffix}"
    unit = rf"{_SEP}(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|\#)\.?[ \t]*\#?\d+[A-Z]?\b"
    # "Lewis and Clark Trail": first names joined by "and" read as a street only with capitals to go on.
    joined = rf"| {initial}[a-z]+[ ]+and[ ]+{initial}[a-z]+[ ]+{suffix}" if capitalised else ""
    place = rf"{word}(?:[ ]+(?:{word}|\([^()\n]{{1,40}}\)|and|of|the|de|del|la|d'\w+|&)){{0,5}}"
    state_item = rf"(?:(?:{_STATE_NAMES})\b|(?:{_STATE_ABBREVIATIONS})\b)"
    return re.compile(
        rf"""
        (?<![\w\#-])
        (?P<street>
            \d{{1,6}}[A-Z]?(?:[ -]\d{{1,6}})?[ \t]+(?:[NSEW]\.?[ \t]+)?{street_name}(?:{unit}){{0,2}}
          | {street_name}(?:{unit}){{1,2}}
          {joined}
          | (?i:P\.?[ ]?O\.?[ ]+Box[ ]+\d+)
        )
        (?P<tail>
            (?:{_SEP}(?:{state_item}|{place})){{0,4}}{_SEP}(?:{_ZIP}|{state_item})
          | (?:{_SEP}(?:{state_item}|{place})){{1,4}}(?=[ \t]*(?:$|[\n,.;!?)]))
        )?
      | (?<!\w)(?P<military>
            (?:PSC[ ]\d{{4}},?[ ]Box[ ]\d{{4}}|Unit[ ]\d{{4}}[ ]Box[ ]\d{{4}}|(?:USS|USNS|USNV|USCGC)[ ]{word})
            {_SEP}[ADF]PO[ ]A[AEP][ ]\d{{5}}
        )
        """,
        flags,
    )


_US = _us_pattern(capitalised=True)
_US_LOWER = _us_pattern(capitalised=False)


def _us_hits(text: str) -> Iterator[Hit]:
    pattern = _US if text != text.lower() else _US_LOWER
    for match in pattern.finditer(text):
        if match["military"] is not None:
            yield match.start(), match.end(), 0.9
        else:
            yield match.start(), match.end(), 0.9 if match["tail"] else 0.75


# --------------------------------------------------------------------------------------------------
# International blocks: words

# "∆" (U+2206) and "Ω" (U+2126) stand in for the Greek capitals in text that went through a legacy code page.
_UP = _char_class(lambda c: c.isupper() or c.istitle() or c in "∆Ω", last=0x2200)
_LETTER = r"[^\W\d_]"
# A capitalised word ("Männi", "O'Neil", "Sale-Heyfield", "d'Italie") or a short abbreviation ("Avda.", "Gl.").
_CAP_WORD = rf"(?:(?:[dl]|dell|all)['’])?{_UP}(?:{_LETTER}|∆)*(?:['’/-](?:{_LETTER}|{_UP})+)*(?:(?<=str)\.)?(?!\d)"
_ABBREVIATION = rf"{_UP}{_LETTER}{{0,3}}\.(?=[ ,;\n)]|$)"
# All capitals ("TN", "SA19", "LV") is a state or a postcode, not a word of a name; a Roman numeral is
# ("Graaf Willem II Straat").
_NOT_CAPITALS = r"(?!(?![IVX]+\b)[A-Z]{2,}(?:\b|\d))"
# Lower-case words that join the words of a name: "Rua do Arenque", "Neustadt an der Weinstraße".
_CONNECTORS = (
    "de|da|do|dos|das|del|della|delle|dei|degli|di|du|des|la|le|les|los|las|el|van|von|der|den|het|ter|ten|"
    "am|an|im|auf|zum|zur|bei|ob|pri|na|pod|nad|u|v|sur|sous|lès|aux|au|en|y|e"
)
# Street-type words written in lower case: first ("rue de Penthièvre", "ul. Elbląska") or after the name
# ("Rákóczi út", "Karu põik", "Männi street").
_LEADING_TYPES = (
    "C/|rue|boulevard|bd|avenue|av\\.|place|route|cours|chemin|impasse|allée|quai|passage|square|viale|vicolo|"
    "piazza|corso|strada|calle|avenida|avda\\.|paseo|camino|carrer|rua|travessa|estrada|praça|alameda|"
    "ul\\.|al\\.|pl\\.|os\\.|ulica|aleja|ulice|οδός|λεωφόρος|πλατεία"
)
_TRAILING_TYPES = (
    "út|utca|u\\.|útja|tér|köz|körút|krt\\.|rkp\\.|sor|fasor|sétány|dűlő|põik|tee|tänav|mnt|maantee|puiestee|"
    "gade|vej|vei|gata|"
    "väg|gränd|allé|straße|strasse|str\\.|str|weg|gasse|platz|allee|laan|straat|plein|gracht|cesta|trg|ulica|"
    "street|road|avenue|lane|boulevard|drive"
)
# Capitalised words that start a sentence or a form field rather than a street or a place name.
_NOT_FIRST = (
    "I|I'm|I'll|I'd|I've|Im|The|A|An|This|That|These|Those|My|Our|Your|His|Her|Its|Their|We|He|She|It|They|You|"
    "Me|Please|Meet|Send|Ship|Mail|Hello|Hi|Hey|Dear|Thanks|Thank|Address|Bot|User|Where|What|When|Who|Why|How|"
    "And|Or|But|So|If|In|On|At|To|From|By|For|With|Of|Is|Are|Was|Were|Be|Mr|Mrs|Ms|Miss|Dr|Sir|Madam|Name|"
    "Phone|Tel|Fax|Mobile|Email|Date|Card|Account|Order|Invoice|Ticket|Chapter|Section|Page|Figure|Table|"
    "Version|Windows|Step|Level|Day|Week|Year|Month|Top|No|Number|Nr|Total|Price|Item|Transfer|Pay|Paid|"
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
_UNIT_WORDS = "Apt|Apartment|Suite|Ste|Unit|Flat|Fl|Floor|Rm|Room|Bldg|Building"
_NOT_INSIDE = rf"{_UNIT_WORDS}|Box|Phone|Tel|Fax|Mobile|Email|Office|Desk|Home|Work"
_WORD = rf"{_NOT_CAPITALS}(?:{_ABBREVIATION}|{_CAP_WORD})"
# A street or place name: up to six words, the first capitalised (or a lower-case leading type word).
_NAME = (
    rf"(?:(?:{_LEADING_TYPES})[ ](?:(?:{_CONNECTORS})[ ]){{0,2}})?"
    rf"(?!(?:{_NOT_FIRST}|{_UNIT_WORDS})\b){_WORD}"
    rf"(?:[ ](?:(?:{_CONNECTORS})[ ]){{0,2}}(?!(?:{_NOT_INSIDE})\b){_WORD}|[ ](?:{_TRAILING_TYPES})(?!\w)){{0,5}}"
)
# Name-first streets may hold lower-case words that are no type word ("Velký průhon 426", "Fogd Drejers gate 93");
# such a street line never counts without the parts after it.
_LOOSE_NAME = (
    rf"(?:(?:{_LEADING_TYPES})(?=[ ])|(?!(?:{_NOT_FIRST}|{_UNIT_WORDS})\b){_WORD})"
    rf"(?:[ ](?!(?:{_FUNCTION_WORDS}|{_NOT_INSIDE})\b)(?:{_WORD}|{_LETTER}+\.?)){{1,4}}"
)
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?(?![\w/-])"
_UNIT = rf"(?:{_UNIT_WORDS})\.?[ ]?\#?\d{{1,5}}[A-Z]?(?!\w)"

_STREET = re.compile(
    rf"""
    (?<![\w\#.,/@-])
    (?=[^\d\n]{{0,90}}\d)  # every street line holds a number: skip the search where none is near
    (?:
        (?P<unit_first>{_UNIT}[ ]{_NUMBER}[ ](?P<unit_name>{_NAME}))
      | (?P<box>(?:P\.?[ ]?O\.?[ ]?Box|PO[ ]Box|Post(?:[ ]?[Bb]ox|fach)|Apartado|Caixa[ ]Postal)[ ]\d{{1,6}}(?!\w))
      | (?P<number_first>{_NUMBER}\.?[ ](?:[NSEW]\.?[ ])?(?P<after_name>{_NAME}))
      | (?P<name_first>(?P<before_name>{_NAME})[ ]{_NUMBER}(?:[ ]\d{{1,5}}(?=,))?\.?)
      | (?P<loose>{_LOOSE_NAME}[ ]{_NUMBER}\.?)
      | {_NUMBER}\.?[ ](?P<loose_after>{_LOOSE_NAME})
    )
    """,
    re.VERBOSE,
)
# A street name with no number: only after a preposition, and only with a type word ("on Mattenstrasse").
_BARE_STREET = re.compile(
    rf"(?<!\w)(?:[Oo]n|at|in|to|from|of|along|off|near|into|onto|down|up|past|towards?|via)[ ]+(?:the[ ]+)?"
    rf"(?P<name>{_NAME})"
)
# The same street line, number first, with lower-case words in the name: "40 rue des six frères Ruellan",
# "112 Olaf Aakranns veg". Tried where the strict name stops short of the parts that would support it.
_LOOSE_NUMBER_FIRST = re.compile(rf"{_NUMBER}\.?[ ](?P<loose_after>{_LOOSE_NAME})")
_NAME_GOES_ON = re.compile(r"[ ]+[\dA-Z]")
_CORNER = re.compile(rf"(?<!\w)(?:[Tt]he[ ]+)?[Cc]orner[ ]+of[ ]+(?P<first>{_NAME})[ ]+and[ ]+(?P<second>{_NAME})")

# --------------------------------------------------------------------------------------------------
# International blocks: the parts after the street line

_POSTCODE = r"""
    (?:[A-Z]{1,2}-)?
    (?: \d{5}-\d{3} | \d{4}-\d{3} | \d{5}(?:-\d{4})? | \d{2}-\d{3} | \d{3}[ ]\d{2} | \d{4}[ ]?[A-Z]{2}(?![\w])
      | \d{3,4}
      | [A-Z]\d[A-Z][ ]?\d[A-Z]\d
      | [A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}
    )
    (?![\w]|[-.:/]\d|[ ]\d)
"""
# A place name may end in a district number or an alternative name: "Kaplice 1", "Αγλαντζια (Αγλαγγια)".
_PLACE = (
    rf"(?!(?:{_NOT_INSIDE})\b){_WORD}(?:[ ](?:(?:{_CONNECTORS})[ ]){{0,2}}(?!(?:{_NOT_INSIDE})\b){_WORD}){{0,4}}"
    rf"(?:[ ]\d{{1,2}}(?=[ \t]*[,\n])|[ ]\([^()\n]{{1,30}}\))?"
)
_TAIL_STEP = re.compile(
    rf"""
    (?P<sep>[ \t]*,[ \t]*(?:\n[ \t>?]*){{0,2}}|[ \t]*(?:\n[ \t>?]*){{1,3}}|[ \t]+)
    (?:
        (?P<unit>{_UNIT})
      | (?P<postcode>{_POSTCODE})
      | (?P<state>[A-Z]{{2,3}})(?![\w])
      | (?P<place>{_PLACE})
    )
    """,
    re.VERBOSE,
)
_ENDS_A_PHRASE = re.compile(r"[ \t]*(?:$|[\n,.;:!?)\"'])")

_COUNTRIES = _words(
    (
        "Afghanistan|Albania|Algeria|Andorra|Angola|Argentina|Armenia|Australia|Austria|Azerbaijan|Bahamas|"
        "Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bhutan|Bolivia|Bosnia and Herzegovina|"
        "Botswana|Brazil|Brunei|Bulgaria|Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Chad|Chile|China|"
        "Colombia|Congo|Costa Rica|Croatia|Cuba|Cyprus|Czech Republic|Czechia|Denmark|Djibouti|Dominica|"
        "Dominican Republic|Ecuador|Egypt|El Salvador|England|Eritrea|Estonia|Eswatini|Ethiopia|Fiji|Finland|"
        "France|Gabon|Gambia|Georgia|Germany|Ghana|Greece|Greenland|Grenada|Guatemala|Guinea|Guyana|Haiti|"
        "Honduras|Hong Kong|Hungary|Iceland|India|Indonesia|Iran|Iraq|Ireland|Israel|Italy|Jamaica|Japan|"
        "Jordan|Kazakhstan|Kenya|Korea|Kosovo|Kuwait|Kyrgyzstan|Laos|Latvia|Lebanon|Lesotho|Liberia|Libya|"
        "Liechtenstein|Lithuania|Luxembourg|Madagascar|Malawi|Malaysia|Maldives|Mali|Malta|Mauritania|"
        "Mauritius|Mexico|Moldova|Monaco|Mongolia|Montenegro|Morocco|Mozambique|Myanmar|Namibia|Nepal|"
        "Netherlands|The Netherlands|New Zealand|Nicaragua|Niger|Nigeria|North Macedonia|Northern Ireland|"
        "Norway|Oman|Pakistan|Panama|Paraguay|Peru|Philippines|Poland|Portugal|Qatar|Romania|Russia|Rwanda|"
        "San Marino|Saudi Arabia|Scotland|Senegal|Serbia|Singapore|Slovakia|Slovenia|Somalia|South Africa|"
        "South Korea|Spain|Sri Lanka|Sudan|Suriname|Sweden|Switzerland|Syria|Taiwan|Tajikistan|Tanzania|"
        "Thailand|Togo|Trinidad and Tobago|Tunisia|Turkey|Türkiye|Turkmenistan|Uganda|Ukraine|"
        "United Arab Emirates|United Kingdom|United States|United States of America|Uruguay|Uzbekistan|"
        "Venezuela|Vietnam|Wales|Yemen|Zambia|Zimbabwe|USA|UK|U.S.A.|U.K."
    ),
    "|",
)
_US_STATE_NAMES = _words(_STATE_NAMES.replace("[ ]", " "), "|")

# --------------------------------------------------------------------------------------------------
# International blocks: is the street line a street?

_SUFFIX_WORDS = frozenset(
    form.lower()
    for word in f"{_STREET_SUFFIXES}|{_STREET_ABBREVIATIONS}".split("|")
    for form in ((word[:-2], word[:-1]) if word.endswith("s?") else (word,))
)
_PREFIX_WORDS = _words(
    "rua r avenida av avda calle carrer paseo camino plaza travessa largo estrada praça alameda rodovia quadra "
    "via viale vicolo piazza piazzale corso strada rue boulevard bd avenue chemin impasse allée place quai route "
    "faubourg cours ul ulica aleja calea odos leoforos náměstí trg"
)
# Short prefixes that are also names or words ("Al", "Pl", "Os") count only with their period.
_DOTTED_PREFIXES = frozenset({"al.", "pl.", "os.", "nám.", "pza.", "tv.", "ul.", "c/"})
_TYPE_WORDS = _words(f"{_LEADING_TYPES}|{_TRAILING_TYPES}".replace("\\.", "."), "|")
_COMPOUND_ENDINGS = (
    "straße", "strasse", "str.", "gasse", "weg", "platz", "allee", "damm", "ufer", "steig", "chaussee", "laan",
    "straat", "plein", "gracht", "singel", "dreef", "vej", "vejen", "gade", "stræde", "vei", "veien", "vegen",
    "gata", "gatan", "vägen", "väg", "gränd", "vegur", "braut", "stígur", "stræti", "tie", "katu", "kuja", "polku",
    "väylä", "utca", "ulica", "cesta",
)  # fmt: skip
_NOT_COMPOUNDS = frozenset({"brigade", "bowtie", "necktie", "sweetie", "cutie", "hottie", "auntie", "hogtie"})
# Without a number, only words that always name a street.
_BARE_SUFFIXES = _words(
    "street st road rd avenue ave av lane ln boulevard blvd drive terrace crescent str way place court close"
)


def _has_type_word(name: str, *, bare: bool = False) -> bool:
    """A street-type word in ``name`` besides the name itself: "Rua X", "X Road", "X utca", "Xstrasse"."""
    raw = name.lower().split()
    words = [w.rstrip(".") for w in raw]
    if len(words) > 1 and (words[0] in _PREFIX_WORDS or raw[0] in _DOTTED_PREFIXES):
        return True
    if len(words) > 1 and (words[-1] in _BARE_SUFFIXES if bare else words[-1] in _SUFFIX_WORDS):
        return True
    for word, written in zip(words, raw, strict=True):
        if len(words) > 1 and (word in _TYPE_WORDS or written in _TYPE_WORDS) and word not in _SUFFIX_WORDS:
            return True
        if word not in _NOT_COMPOUNDS and any(
            w.endswith(e) and len(w) >= len(e) + 2 for w in (word, written) for e in _COMPOUND_ENDINGS
        ):
            return True
    return False


# Words that say a number and a name are something else: "20 Songs", "World War 2", "Euro 2016", "10 Main Hall".
_NOT_STREET_WORDS = _words(
    "hall room floor gate terminal platform flight seat row level version chapter section page figure table "
    "edition volume vol issue part series model type class grade phase stage step act article rule formula "
    "season episode war cup euro euros dollars pounds percent songs points people times years days hours "
    "minutes weeks months kids children friends items pieces stars goals games matches rounds wins census "
    "windows iphone galaxy python apollo top pm am hotel motel restaurant cafe café bar pub cinema"
)
_CUE_BEFORE = re.compile(
    r"(?:\baddress(?:es)?(?:[ ]is)?|\b(?:lives?|living|lived|located|is|are|stays?|stop|meet(?:[ ]me)?)[ ]at|"
    r"\b(?:moved|sent|send[ ]it|deliver(?:ed)?|ship(?:ped)?|return(?:ed)?)[ ]to)[ \t]*:?[ \t\n]*$",
    re.IGNORECASE,
)
_NEAR_CUE = re.compile(r"\b(?:address|at|lives?|located|live)\b", re.IGNORECASE)

_Token = tuple[str, int, int, bool]  # kind, start, end, after a comma or a line break


def _tail(text: str, pos: int) -> list[_Token]:
    """The parts after a street line that ends at ``pos``, in order, as long as they read as an address."""
    tokens: list[_Token] = []
    places = 0
    while len(tokens) < 7:
        match = _TAIL_STEP.match(text, pos)
        if match is None:
            break
        kind = match.lastgroup or ""
        start, end = match.start(kind), match.end(kind)
        hard = "," in match["sep"] or "\n" in match["sep"]
        value = text[start:end]
        if kind == "place":
            if value in _COUNTRIES:
                kind = "country"
            elif value in _US_STATE_NAMES:
                kind = "state"
        elif kind == "state" and value in ("USA", "UK"):
            kind = "country"
        previous = tokens[-1][0] if tokens else "street"
        if kind == "country" and previous == "country":  # "Monaco\n New Zealand": a town named like a country
            tokens[-1] = ("place", *tokens[-1][1:])
            previous = "place"
        if not hard and not (
            (kind == "postcode" and previous in ("place", "country", "state"))
            or (kind == "place" and previous == "postcode")
            or (kind == "state" and previous == "place")
            or (kind == "unit" and previous == "street")
        ):
            break
        # A country ends the address (a postcode may follow it: "Finland 8100"), as does a state's ZIP.
        if previous == "country" and (kind != "postcode" or hard):
            break
        if previous == "postcode" and len(tokens) > 1 and tokens[-2][0] in ("country", "state") and kind != "country":
            break
        if kind == "place":
            places += 1
            if places > 3:
                break
        tokens.append((kind, start, end, hard))
        pos = end
    return tokens


def _support(tokens: list[_Token]) -> str | None:
    """What makes a street line without a type word an address: a "unit", a "postcode" next to a place or a
    state, or a place followed by a "country"; None when the parts give no such support."""
    kinds = [t[0] for t in tokens]
    if "unit" in kinds:
        return "unit"
    for i, (kind, _, _, hard) in enumerate(tokens):
        if kind != "postcode":
            continue
        before = kinds[i - 1] if i else "street"
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if before == "state" or (before in ("place", "country") and not hard):
            return "postcode"
        if after is not None and after[0] == "place" and not after[3]:
            return "postcode"
    if "country" in kinds and "place" in kinds[: kinds.index("country")]:
        return "country"
    return None


def _cut(text: str, tokens: list[_Token]) -> list[_Token]:
    """The longest run of ``tokens`` that ends the address: on a postcode, state, country or unit, or on a
    place right before the end of the phrase."""
    for n in range(len(tokens), 0, -1):
        kind, _, end, _ = tokens[n - 1]
        if kind != "place" or _ENDS_A_PHRASE.match(text, end):
            return tokens[:n]
    return []


def _block(text: str, match: re.Match[str]) -> Hit | None:
    """The address that starts with the street line ``match``, with its parts, or None."""
    hit = _strict_block(text, match)
    if hit is None and match["number_first"] is not None:
        loose = _LOOSE_NUMBER_FIRST.match(text, match.start())
        if loose is not None and loose.end() > match.end():
            return _strict_block(text, loose)
    return hit


def _strict_block(text: str, match: re.Match[str]) -> Hit | None:
    start, end = match.start(), match.end()
    tokens = _cut(text, _tail(text, end))
    groups = match.groupdict()
    if groups.get("box") is not None or groups.get("unit_first") is not None:
        return start, tokens[-1][2] if tokens else end, 0.9
    loose = groups.get("loose") or groups.get("loose_after")
    if loose is not None:
        name = loose
        if _has_type_word(name) and (tokens or _ENDS_A_PHRASE.match(text, end)):
            return start, tokens[-1][2] if tokens else end, 0.85 if tokens else 0.7
    else:
        name = match["after_name"] if match["number_first"] is not None else match["before_name"]
        if not any(c.islower() for c in name):
            return None  # "200 EUR", "VAT 21"
        if _has_type_word(name):
            return start, tokens[-1][2] if tokens else end, 0.9 if tokens else 0.75
    # Only capitalised words: lower-case "gate" in "Fogd Drejers gate 93" is Norwegian for street.
    if _NOT_STREET_WORDS.intersection(w.lower() for w in name.split() if w[0].isupper()):
        return None
    support = _support(tokens)
    # A place and a country after it make no street of a year ("2019 Census, Ottawa, Canada") nor of a
    # number before lower-case words ("5 Green apples, Lisbon, Portugal").
    weak = any(1900 <= int(n) <= 2039 for n in re.findall(r"\d+", match.group())) or groups.get("loose_after")
    if support is not None and not (support == "country" and weak):
        return start, tokens[-1][2], 0.85
    if groups.get("number_first") is None:
        return None
    # "24 Illoqarfiup Qeppa" after "is at" or "address:", alone or with a city.
    places_only = bool(tokens) and all(t[0] == "place" for t in tokens)
    if _CUE_BEFORE.search(text, max(0, start - 40), start) and (
        places_only or (not tokens and _ENDS_A_PHRASE.match(text, end))
    ):
        return start, tokens[-1][2] if tokens else end, 0.6
    if places_only and _NEAR_CUE.search(text, max(0, start - 60), start):
        return start, tokens[-1][2], 0.55
    return None


_DIGIT = re.compile(r"\d")


def _resume(match: re.Match[str]) -> int:
    """Where to search on after a street line that was no address: from its number when a name came first
    (the number may start a street: "Version 2 12 Rue de Rivoli"), else after it."""
    if match["loose"] is None and match["name_first"] is None:
        return match.end()
    digit = _DIGIT.search(match.string, match.start() + 1, match.end())
    return digit.start() if digit is not None else match.end()


def _blocks(text: str) -> Iterator[Hit]:
    pos = 0
    while (match := _STREET.search(text, pos)) is not None:
        hit = _block(text, match)
        if hit is None:
            pos = _resume(match)
            continue
        yield hit
        pos = hit[1]
    for match in _BARE_STREET.finditer(text):
        # "at Crown Place VCT Plc" is a company.
        if _has_type_word(match["name"], bare=True) and not _NAME_GOES_ON.match(text, match.end()):
            start, end = match.span("name")
            tokens = _cut(text, _tail(text, end))
            yield start, tokens[-1][2] if tokens and _support(tokens) else end, 0.6
    for match in _corners(text):
        for part in ("first", "second"):
            yield match.start(part), match.end(part), 0.7


def _corners(text: str) -> list[re.Match[str]]:
    return list(_CORNER.finditer(text)) if "orner" in text else []


def _merge(hits: list[Hit]) -> list[Hit]:
    """Overlapping spans joined into one, with the higher score."""
    merged: list[Hit] = []
    for start, end, score in sorted(hits):
        if merged and start < merged[-1][1]:
            last_start, last_end, last_score = merged[-1]
            merged[-1] = (last_start, max(end, last_end), max(score, last_score))
        else:
            merged.append((start, end, score))
    return merged


def find_addresses(text: str) -> list[Hit]:
    """``(start, end, score)`` of every address in ``text``, sorted, never two overlapping."""
    hits = list(_us_hits(text))
    if text != text.lower():
        hits.extend(_blocks(text))
        # The two streets of a corner stay two: nothing may join them ("Oak Lane and Elm Road" read as one).
        for corner in _corners(text):
            gap_start, gap_end = corner.end("first"), corner.start("second")
            hits = [hit for hit in hits if not (hit[0] < gap_end and hit[1] > gap_start)]
    return _merge(hits)
