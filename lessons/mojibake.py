"""Find and undo mojibake: UTF-8 text that was decoded with a single-byte encoding.

`¿Por dónde empiezo? 🐣` read as Mac Roman becomes `¬øPor d√≥nde empiezo? üê£`: every non-ASCII
character turns into a run of two to four wrong characters. This module looks at each run of
non-ASCII characters, maps it back to bytes with each candidate encoding and decodes those bytes as
UTF-8. A repair is kept only when

* the bytes are valid UTF-8 (the round trip succeeds),
* every character it produces belongs to the scripts a Spanish course plausibly contains
  (Latin letters, punctuation, symbols, emoji), and
* the result is less "weird" than the run it replaces.

Correct text never changes: `¿Qué?` or `ñ` are not valid UTF-8 once mapped back to bytes, and
two correct characters that happen to form a valid sequence (`—É` in Mac Roman is Cyrillic `у`)
produce a character outside the plausible set. ftfy does not repair the Mac Roman emoji here
(byte 0xF0 is the Apple logo U+F8FF), which is why this module exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

# Bytes 0x81 0x8D 0x8F 0x90 0x9D are undefined in cp1252; "sloppy" decoders (browsers, many
# editors) turn them into the C1 control with the same number.
_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)


def _table(decode_byte) -> dict[str, int]:  # noqa: ANN001
    table: dict[str, int] = {}
    for value in range(0x80, 0x100):
        table[decode_byte(value)] = value
    return table


def _cp1252_byte(value: int) -> str:
    if value in _CP1252_UNDEFINED:
        return chr(value)
    return bytes([value]).decode("cp1252")


@dataclass(frozen=True)
class Encoding:
    name: str
    label: str  # Spanish, for the warnings
    to_byte: dict[str, int]


# Tried in this order; on a tie the first one wins. Mac Roman first: it is the case we know of.
ENCODINGS = (
    Encoding("mac_roman", "Mac Roman", _table(lambda b: bytes([b]).decode("mac_roman"))),
    Encoding("cp1252", "Windows-1252", _table(_cp1252_byte)),
    Encoding("latin-1", "Latin-1 (ISO-8859-1)", _table(chr)),
)

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")

# Characters a repair may produce. Anything else (Cyrillic, CJK, Latin Extended-B, ...) means the
# "mojibake" was really correct text that happened to map onto a valid UTF-8 sequence.
_PLAUSIBLE_RANGES = (
    (0x00A0, 0x017F),  # Latin-1 Supplement, Latin Extended-A
    (0x2000, 0x206F),  # General Punctuation (dashes, quotes, ellipsis, ZWJ)
    (0x20A0, 0x20CF),  # currency
    (0x20E3, 0x20E3),  # combining keycap (1️⃣)
    (0x2100, 0x214F),  # letterlike symbols (™)
    (0x2190, 0x21FF),  # arrows
    (0x2300, 0x23FF),  # miscellaneous technical (⌘ ⏱)
    (0x2460, 0x24FF),  # enclosed alphanumerics
    (0x2500, 0x27BF),  # box drawing, shapes, miscellaneous symbols, dingbats (✨ ✅)
    (0x2900, 0x2BFF),  # supplemental arrows, miscellaneous symbols and arrows (⭐)
    (0x3030, 0x3030),  # wavy dash (emoji)
    (0x303D, 0x303D),  # part alternation mark (emoji)
    (0x3297, 0x3299),  # circled ideographs (emoji)
    (0xFE00, 0xFE0F),  # variation selectors (the emoji presentation selector)
    (0x1F000, 0x1FAFF),  # emoji and pictographs
    (0xE0020, 0xE007F),  # tag characters (subdivision flags)
)

# Characters that are rare in real text but common in mojibake: math and modifier symbols, the
# Mac Roman and cp1252 punctuation that UTF-8 lead and continuation bytes map to.
_WEIRD_CHARS = set("‚„†‡‰‹›◊ıƒ¤¦©®™¹²³¼½¾µ¶§¨¯¸´∏∑∫πΩ∆ﬁﬂŒœŠšŽžŸ¥¢¬±×÷√∂≈≠≤≥∞˘˙˚˝˛ˇˆ˜Ã\ufeff")
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}


# Text mangled twice first repairs into Mac Roman mojibake (`√≥`), which the next pass repairs.
_INTERMEDIATE = frozenset(ENCODINGS[0].to_byte)


def _plausible(char: str) -> bool:
    code = ord(char)
    return char in _INTERMEDIATE or any(low <= code <= high for low, high in _PLAUSIBLE_RANGES)


def _char_weirdness(char: str) -> int:
    if char < "\x80":
        return 0
    if char in _JOINERS or 0x1F3FB <= ord(char) <= 0x1F3FF:
        return 1
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Co", "Cn", "Cs", "Sm", "Sk") or char in _WEIRD_CHARS:
        return 3
    return 1


def weirdness(text: str) -> int:
    """A score that grows with mojibake-looking characters and with runs of them.

    Real Spanish text seldom has two non-ASCII characters in a row (emoji sequences are held
    together by joiners and selectors, which are not counted as a pair); mojibake always does.
    """
    score = sum(_char_weirdness(c) for c in text)
    for left, right in zip(text, text[1:], strict=False):
        if left >= "\x80" and right >= "\x80" and right not in _JOINERS and left != "\u200d":
            if not 0x1F3FB <= ord(right) <= 0x1F3FF:  # skin tone modifiers follow an emoji
                score += 2
    return score


def _sequence_length(lead: int) -> int:
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _decode_run(run: str, encoding: Encoding) -> str:
    """Decode every valid, plausible UTF-8 sequence in `run`; leave the other characters."""
    out: list[str] = []
    i = 0
    while i < len(run):
        lead = encoding.to_byte.get(run[i])
        length = _sequence_length(lead) if lead is not None else 0
        if length and i + length <= len(run):
            raw = [encoding.to_byte.get(c) for c in run[i : i + length]]
            if all(b is not None for b in raw):
                try:
                    decoded = bytes(raw).decode("utf-8")  # type: ignore[arg-type]
                except UnicodeDecodeError:
                    decoded = ""
                if decoded and _plausible(decoded):
                    out.append(decoded)
                    i += length
                    continue
        out.append(run[i])
        i += 1
    return "".join(out)


def visible(text: str) -> str:
    """Show characters a terminal would hide (controls, private use like U+F8FF) as ⟨U+XXXX⟩."""
    return "".join(
        f"⟨U+{ord(c):04X}⟩" if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cn") else c
        for c in text
    )


@dataclass(frozen=True)
class Repair:
    line: int  # 1-based line of the original text
    column: int  # 1-based
    before: str
    after: str
    encoding: str  # Spanish label of the encoding the text was wrongly read as

    @property
    def shown_before(self) -> str:
        return visible(self.before)

    def describe(self) -> str:
        # Spanish on purpose: instructors read it (the importer and check_lessons print it).
        return (
            f"línea {self.line}: «{self.shown_before}» → «{self.after}» "
            f"(UTF-8 leído como {self.encoding})"
        )


@dataclass(frozen=True)
class RepairResult:
    text: str
    repairs: tuple[Repair, ...]

    @property
    def changed(self) -> bool:
        return bool(self.repairs)


def _best_repair(run: str) -> tuple[str, Encoding] | None:
    best: tuple[int, str, Encoding] | None = None
    for encoding in ENCODINGS:
        candidate = _decode_run(run, encoding)
        if candidate == run:
            continue
        try:
            candidate.encode("utf-8")  # no lone surrogates: the repair must be valid UTF-8 text
        except UnicodeEncodeError:
            continue
        score = weirdness(candidate)
        if best is None or score < best[0]:
            best = (score, candidate, encoding)
    if best is None or best[0] >= weirdness(run):
        return None
    return best[1], best[2]


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _find(text: str) -> Iterator[tuple[int, int, str, str, Encoding]]:
    for match in _NON_ASCII_RUN.finditer(text):
        repaired = _best_repair(match.group())
        if repaired is not None:
            yield match.start(), match.end(), match.group(), repaired[0], repaired[1]


def repair(text: str, *, max_passes: int = 3) -> RepairResult:
    """Undo mojibake run by run; report each repair with its line (repairs keep line breaks).

    Text mangled twice (UTF-8 → Mac Roman → UTF-8 → cp1252) needs more than one pass.
    """
    repairs: list[Repair] = []
    for _ in range(max_passes):
        starts = _line_starts(text)
        pieces: list[str] = []
        last = 0
        found = False
        line_index = 0
        for start, end, before, after, encoding in _find(text):
            found = True
            while line_index + 1 < len(starts) and starts[line_index + 1] <= start:
                line_index += 1
            repairs.append(
                Repair(
                    line=line_index + 1,
                    column=start - starts[line_index] + 1,
                    before=before,
                    after=after,
                    encoding=encoding.label,
                )
            )
            pieces.append(text[last:start])
            pieces.append(after)
            last = end
        if not found:
            break
        pieces.append(text[last:])
        text = "".join(pieces)
    return RepairResult(text=text, repairs=tuple(repairs))


def detect(text: str) -> list[Repair]:
    """The repairs `repair()` would make, i.e. the mojibake found in `text` (empty when clean)."""
    return list(repair(text, max_passes=1).repairs)
