"""Split a person's full name into Dataverse ``firstname`` / ``lastname`` (lastname is required for a contact).

Rules, in order (docs/mapping.md explains them to operators):

1. Whitespace is collapsed; leading salutations (Mr, Mrs, Ms, Miss, Herr, Frau, Mme, ...) are dropped.
   Academic titles (Dr., Prof.) stay in the first name: they are part of how the person is addressed.
2. ``Last, First`` (one comma): the part before the comma is the last name, the rest the first name.
3. One word: it is the last name (``O'Neil`` -> lastname ``O'Neil``, no first name).
4. A surname particle (van, von, de, der, di, da, du, le, la, ter, ten, zu, ...; any case) after the first
   word and before the last word starts the last name: ``Jan van der Berg`` -> ``Jan`` / ``van der Berg``.
5. Otherwise the last word is the last name (hyphenated and apostrophe names are one word and stay intact:
   ``Hans Müller-Lüdenscheidt`` -> ``Hans`` / ``Müller-Lüdenscheidt``); a trailing generational suffix
   (Jr., Sr., II, III, IV) joins it (``John Smith Jr.`` -> ``John`` / ``Smith Jr.``).
"""

from __future__ import annotations

_SALUTATIONS = frozenset({"mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "mx", "mx.", "herr", "frau",
                          "hr.", "fr.", "mme", "mme.", "mlle", "m.", "sr.", "sra.", "sig.", "sig.ra"})
_PARTICLES = frozenset({"van", "von", "vom", "de", "der", "den", "des", "del", "della", "di", "da", "du", "dos",
                        "das", "do", "le", "la", "ter", "ten", "zu", "zum", "zur", "af", "av", "bin", "ibn",
                        "st.", "'t", "van't"})
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def split_full_name(full_name: str) -> tuple[str | None, str | None]:
    """Return ``(firstname, lastname)``; ``(None, None)`` when nothing name-like is left."""
    if "," in full_name:
        last, _, first = full_name.partition(",")
        last_words, first_words = _words(last), _words(first)
        if last_words:
            return (" ".join(first_words) or None), " ".join(last_words)
        full_name = first
    words = _words(full_name)
    if not words:
        return None, None
    if len(words) == 1:
        return None, words[0]
    suffix = []
    if words[-1].lower() in _SUFFIXES and len(words) > 2:
        suffix = [words.pop()]
    start = _last_name_start(words)
    return " ".join(words[:start]), " ".join(words[start:] + suffix)


def _words(text: str) -> list[str]:
    words = text.split()
    while len(words) > 1 and words[0].lower() in _SALUTATIONS:
        words.pop(0)
    return words


def _last_name_start(words: list[str]) -> int:
    """Index of the first word of the last name (at least 1: the first word is always a given name)."""
    for i in range(1, len(words) - 1):
        if words[i].lower() in _PARTICLES:
            return i
    return len(words) - 1
