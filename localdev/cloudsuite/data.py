"""The one seeded generator behind every product view: companies (suppliers, customers) with contacts and addresses.

Deterministic per (seed, tenant, data area, entity). Product modules turn a ``Company`` into their own row shapes.
Names deliberately include non-ASCII letters, apostrophes, double quotes, ampersands and empty optional fields.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

DAY_S = 86400.0
T = TypeVar("T")


@dataclass(slots=True)
class Address:
    street: str
    house: str
    line2: str
    city: str
    zip: str
    state: str  # "" outside countries with states
    country: str  # ISO 3166-1 alpha-2

    @property
    def line1(self) -> str:
        return f"{self.house} {self.street}" if COUNTRIES[self.country].house_first else f"{self.street} {self.house}"


@dataclass(slots=True)
class Person:
    first: str
    last: str
    email: str
    phone: str
    mobile: str
    title: str

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(slots=True)
class Company:
    number: int  # 1-based position within the entity; product keys derive from it
    name: str
    address: Address
    phone: str
    fax: str
    email: str
    url: str
    vat: str
    currency: str
    language: str
    contacts: tuple[Person, ...]
    delivery: tuple[Address, ...]  # extra ship-to / delivery addresses (customers)
    active: bool
    created_s: float  # epoch seconds
    changed_s: float
    shared: bool  # also exists as the other entity (same company as supplier ``number``)
    row_id: str  # a stable GUID (CSI RowPointer)


@dataclass(frozen=True)
class Country:
    code: str
    code3: str
    name: str  # as CSI shows it (names, not codes)
    currency: str
    language: str  # M3 LNCD style
    dial: str
    house_first: bool
    cities: tuple[tuple[str, str, str], ...]  # (city, zip pattern with # for digits, state)
    streets: tuple[str, ...]
    words: tuple[str, ...]
    legal: tuple[str, ...]
    firsts: tuple[str, ...]
    lasts: tuple[str, ...]
    vat: str  # pattern with # for digits; "" = none


COUNTRIES: dict[str, Country] = {c.code: c for c in (
    Country("NO", "NOR", "Norway", "NOK", "NO", "47", False,
            (("Oslo", "0###", ""), ("Tromsø", "9###", ""), ("Bærum", "13##", ""), ("Ålesund", "60##", "")),
            ("Storgata", "Kongens gate", "Sjøgata", "Bjørnstadveien", "Fjellveien"),
            ("Nordvik", "Fjord", "Skog", "Havbruk", "Bølge", "Isbjørn", "Vest"),
            ("AS", "ASA", "ANS"), ("Bjørn", "Åse", "Øyvind", "Kari", "Ingrid", "Søren"),
            ("Ødegård", "Hansen", "Bråten", "Lie", "Næss", "Solberg"), "NO#########MVA"),
    Country("DE", "DEU", "Germany", "EUR", "DE", "49", False,
            (("München", "80###", ""), ("Köln", "50###", ""), ("Düsseldorf", "40###", ""), ("Berlin", "10###", "")),
            ("Hauptstraße", "Bahnhofstraße", "Große Straße", "Mühlenweg", "Königsallee"),
            ("Müller", "Schäfer", "Maschinenbau", "Präzision", "Stahl", "Weiß", "Groß"),
            ("GmbH", "AG", "GmbH & Co. KG", "KG"), ("Jürgen", "Günther", "Jörg", "Uwe", "Käthe", "Sabine"),
            ("Müller", "Groß", "Weißmann", "Schröder", "Fuß", "Bäcker"), "DE#########"),
    Country("FR", "FRA", "France", "EUR", "FR", "33", True,
            (("Besançon", "25###", ""), ("Montréal-la-Cluse", "01###", ""), ("Orléans", "45###", ""),
             ("Paris", "75###", "")),
            ("rue de la Paix", "avenue Général Leclerc", "boulevard Saint-Michel", "rue François Mitterrand"),
            ("Façonnage", "Électricité", "Générale", "Métallurgie", "Frères", "Boulangerie"),
            ("SARL", "SA", "SAS"), ("François", "Hélène", "Jérôme", "Céline", "Loïc", "Noël"),
            ("Lefèvre", "Garçon", "Dupré", "Bézier", "Moreau", "Château"), "FR###########"),
    Country("US", "USA", "USA", "USD", "GB", "1", True,
            (("Chicago", "606##", "IL"), ("Austin", "787##", "TX"), ("Boston", "021##", "MA"),
             ("Seattle", "981##", "WA"), ("Newark", "071##", "NJ")),
            ("Main Street", "Oak Avenue", "Industrial Parkway", "Lakeshore Drive", "5th Avenue"),
            ("O'Neil", "M&M", "Acme", "Pioneer", "Summit", "Liberty", "Great Lakes", "\"Best\""),
            ("Inc.", "LLC", "Corp.", "Co."), ("Patrick", "Mary", "D'Andre", "Chloé", "James", "Zoë"),
            ("O'Neil", "O'Brien", "Smith", "Johnson", "García", "McAllister"), ""),
    Country("GB", "GBR", "United Kingdom", "GBP", "GB", "44", True,
            (("London", "EC1A #AA", ""), ("Manchester", "M# #AB", ""), ("Leeds", "LS# #DP", "")),
            ("High Street", "Station Road", "Church Lane", "King's Road"),
            ("Marks & Sons", "O'Reilly", "Albion", "Thames", "Crown", "Smith & Wesson"),
            ("Ltd", "PLC", "LLP"), ("Siobhán", "Seán", "Oliver", "Amelia", "Niamh"),
            ("O'Connor", "Taylor", "Brown", "Wilson", "Evans"), "GB#########"),
    Country("ES", "ESP", "Spain", "EUR", "ES", "34", False,
            (("A Coruña", "15###", ""), ("Logroño", "26###", ""), ("Madrid", "28###", "")),
            ("Calle Mayor", "Avenida de España", "Calle del Niño Jesús"),
            ("Peña", "Ibérica", "Montaña", "Señorío", "Castaño"),
            ("S.A.", "S.L."), ("José", "María", "Iñigo", "Begoña", "Raúl"),
            ("Muñoz", "Núñez", "Ibáñez", "Peña", "Fernández"), "ES#########"),
    Country("SE", "SWE", "Sweden", "SEK", "SV", "46", False,
            (("Göteborg", "41# ##", ""), ("Malmö", "21# ##", ""), ("Västerås", "72# ##", "")),
            ("Storgatan", "Kungsgatan", "Östra Hamngatan", "Järnvägsgatan"),
            ("Järn", "Skåne", "Björk", "Fläkt", "Hög"),
            ("AB",), ("Åsa", "Björn", "Göran", "Märta", "Örjan"),
            ("Åström", "Björklund", "Ekström", "Lindqvist", "Nyström"), "SE############"),
    Country("JP", "JPN", "Japan", "JPY", "JA", "81", True,
            (("東京", "100-####", ""), ("大阪", "530-####", ""), ("名古屋", "450-####", "")),
            ("丸の内", "中之島", "栄"),
            ("山田", "田中", "精密", "製作所", "電機", "工業"),
            ("株式会社", "有限会社"), ("太郎", "花子", "健", "美咲"),
            ("山田", "佐藤", "鈴木", "高橋"), ""),
)}

# Fixed companies at the start of every entity so tests always meet the awkward cases.
_PINNED = (
    ("O'Neil & Sons Ltd", "GB"),
    ("M&M Industrial Supply \"East\" Inc.", "US"),
    ("Nordvik Fasteners AS", "NO"),
    ("Müller & Söhne Maschinenbau GmbH", "DE"),
    ("Société Générale de Façonnage SARL", "FR"),
)
_WEIGHTS = {"US": 30, "DE": 20, "GB": 12, "FR": 10, "NO": 8, "SE": 8, "ES": 7, "JP": 5}
_TITLES = ("Purchasing Manager", "Accounts Payable", "CFO", "Sales Director", "Key Account Manager", "Buyer", "")


@functools.lru_cache(maxsize=65536)
def slug(text: str) -> str:
    """ASCII slug for e-mail/web names ("Søren Ødegård" -> "soren-odegard"); CJK gives ""."""
    folded = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O").replace("ß", "ss"))
    ascii_text = folded.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:24].strip("-")


class Generator:
    """Companies for one (seed, tenant, area, entity); ``make(n)`` is deterministic for a given n."""

    def __init__(self, seed: int, tenant: str, area: str, entity: str, *, now_s: float,
                 include_cjk: bool = True) -> None:
        self.seed, self.tenant, self.area, self.entity = seed, tenant, area, entity
        self.now_s = now_s
        self.codes = [c for c in _WEIGHTS if include_cjk or c != "JP"]
        self.cum_weights = list(itertools.accumulate(_WEIGHTS[c] for c in self.codes))

    def rng(self, number: int, salt: str = "") -> random.Random:
        return random.Random(f"{self.seed}:{self.tenant}:{self.area}:{self.entity}:{number}:{salt}")

    def stream(self) -> random.Random:
        # One stream for the bulk: seeding a Random per record would cost more than generating the record.
        return random.Random(f"{self.seed}:{self.tenant}:{self.area}:{self.entity}")

    def make(self, number: int) -> Company:
        """A fresh company for a record added at run time (stamped now)."""
        company = self.company(self.rng(number, "added"), number)
        company.created_s = company.changed_s = self.now_s
        return company

    def company(self, rng: random.Random, number: int) -> Company:
        if number <= len(_PINNED):
            name, code = _PINNED[number - 1]
        else:
            code = rng.choices(self.codes, cum_weights=self.cum_weights)[0]
            name = ""
        country = COUNTRIES[code]
        if not name:
            name = self._name(rng, country)
        address = self._address(rng, country)
        domain = slug(name) or f"company{number}"
        contacts = tuple(self._person(rng, country, domain) for _ in range(_pick(rng, (1, 1, 2, 3))))
        delivery = tuple(self._address(rng, country) for _ in range(_pick(rng, (0, 0, 0, 1, 2))))
        created = self.now_s - rng.uniform(30 * DAY_S, 3 * 365 * DAY_S)
        changed = created + rng.uniform(0, self.now_s - DAY_S - created)
        return Company(
            number=number, name=name, address=address,
            phone=self._phone(rng, country), fax=self._phone(rng, country) if rng.random() < 0.3 else "",
            email=f"info@{domain}.example", url=f"https://www.{domain}.example" if rng.random() < 0.7 else "",
            vat=_digits(rng, country.vat), currency=country.currency, language=country.language,
            contacts=contacts, delivery=delivery, active=rng.random() >= 0.05, created_s=created, changed_s=changed,
            shared=False, row_id=_guid(rng))

    @staticmethod
    def _name(rng: random.Random, country: Country) -> str:
        pattern = rng.random()
        if pattern < 0.4:
            core = f"{_pick(rng, country.lasts)} {_pick(rng, country.words)}"
        elif pattern < 0.6:
            core = f"{_pick(rng, country.lasts)} & {_pick(rng, country.lasts)}"
        else:
            core = f"{_pick(rng, country.words)} {_pick(rng, country.words)}"
        legal = _pick(rng, country.legal)
        return f"{legal}{core.replace(' ', '')}" if country.code == "JP" else f"{core} {legal}"

    @staticmethod
    def _address(rng: random.Random, country: Country) -> Address:
        city, zip_pattern, state = _pick(rng, country.cities)
        return Address(street=_pick(rng, country.streets), house=str(1 + int(rng.random() * 250)),
                       line2=_pick(rng, ("Building B", "Suite 100", "c/o Receiving")) if rng.random() < 0.15 else "",
                       city=city, zip=_digits(rng, zip_pattern), state=state, country=country.code)

    @staticmethod
    def _phone(rng: random.Random, country: Country) -> str:
        return f"+{country.dial} {10 + int(rng.random() * 90)} {100000 + int(rng.random() * 900000)}"

    def _person(self, rng: random.Random, country: Country, domain: str) -> Person:
        first, last = _pick(rng, country.firsts), _pick(rng, country.lasts)
        local = slug(f"{first}.{last}").replace("-", ".") or "contact"
        return Person(first=first, last=last, email=f"{local}@{domain}.example",
                      phone=self._phone(rng, country) if rng.random() < 0.8 else "",
                      mobile=self._phone(rng, country) if rng.random() < 0.4 else "",
                      title=_pick(rng, _TITLES))


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032X}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    # random.choice is several times slower than this and we call it millions of times for 100k records.
    return seq[int(rng.random() * len(seq))]


@functools.lru_cache(maxsize=256)
def _template(pattern: str) -> tuple[str, int]:
    return pattern.replace("{", "{{").replace("}", "}}").replace("#", "{}"), pattern.count("#")


def _digits(rng: random.Random, pattern: str) -> str:
    template, count = _template(pattern)
    if not count:
        return pattern
    return template.format(*f"{int(rng.random() * 10 ** count):0{count}d}")


def generate(seed: int, tenant: str, area: str, entity: str, count: int, other_count: int, *, now_s: float,
             shared_every: int = 10, include_cjk: bool = True) -> list[Company]:
    """``count`` companies of one entity in one data area.

    Position n with ``n % shared_every == 0`` (and n within both entities' counts) is a company that is both
    supplier and customer: it comes from a "shared" stream that both entities read in the same order, so each
    entity can be generated alone (a 100k-supplier benchmark never pays for customers).
    """
    own = Generator(seed, tenant, area, entity, now_s=now_s, include_cjk=include_cjk)
    twin = Generator(seed, tenant, area, "shared", now_s=now_s, include_cjk=include_cjk)
    own_rng, twin_rng = own.stream(), twin.stream()
    limit = min(count, other_count)
    out = []
    for n in range(1, count + 1):
        if shared_every > 0 and n % shared_every == 0 and n <= limit:
            company = twin.company(twin_rng, n)
            company.shared = True
        else:
            company = own.company(own_rng, n)
        out.append(company)
    return out
