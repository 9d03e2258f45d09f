"""What personal data looks like in clear text: the scan behind the ``no_clear_pi`` check (C4).

:func:`pi_code` runs one compiled regex per family (digit runs, e-mail, Latin names, Chinese runs), each
only when the text can hold one; a digit run is then confirmed in Python by a check character, a date, a
numbering plan or Luhn, so that the regexes stay simple. Each regex begins with a character class, which
lets the engine skip in C the positions that cannot start a candidate (one alternation of every form,
tried first, cost 20 times more). Per call it costs about what the four patterns it replaced did: 1.5-4 µs
on a simulator string, 15-25 µs on 370 characters of prose (``benchmarks/pi_scan.py``). Codes:

===============  ==========================================================================================
PI_CN_ID         Mainland resident ID / residence permit: 18 characters with a birth date; also spaced or
                 dashed (6-8-4, 6-4-4-4) or with a lower-case ``x``, then only with a right check character
PI_HKID          HKID ``A123456(3)`` (brackets: the shape is enough); without brackets, lower-case or
                 spaced (``a1234563``, ``A 123456 3``) only with a right check character
PI_CARD          15 digits (prefix 34/37, American Express) or 16-19 digits, grouped or not, Luhn-valid
PI_PHONE         Mainland mobile ``1[3-9]`` + 9 digits, bare or grouped, with or without ``+86``/``0086``/
                 ``86``; HK number (first digit 2, 3, 5-9) with ``+852``/``00852``/``(852)``, or grouped
                 4-4 (``9123 4567``), or bare after a phone word (``Tel 91234567``, ``電話``)
PI_EMAIL         anything@domain.tld
PI_PERMIT        Mainland Travel Permit for HK/Macao residents: H/M + 8 or 10 digits, HA/MA + 7 digits
PI_PASSPORT      Mainland passport E/G + 8 digits or E + letter + 7 digits; HK passport K + 8 digits
                 (``H`` + 8 digits is taken for the permit)
PI_NAME          a Chinese name (a common surname + 1-2 characters, alone or next to 先生/女士/姓名...),
                 a romanised one (common surname + 1-2 given syllables: ``Chan Tai Man``, ``CHAN TAI MAN``,
                 ``Wong Siu-ming``), or a title and a name (``Mr Chan``)
===============  ==========================================================================================

Numbers are bounded: a digit run inside an alphanumeric token, a dashed token (a UUID's groups) or a
decimal amount is not a candidate. What is not caught, by design, because it cannot be told from codes,
dates and amounts: a bare 8-digit HK number with no phone word (a BRN, a date ``20261124``, an amount are
8 digits too), a name in any other shape (``Peter Chan``, a surname outside the tables), and a Chinese
surname + name inside a longer run of Chinese text. :func:`pi_code_in_code` is the stricter scan for a
field that holds a code, not text: it adds any Chinese character and a value that is a bare HK mobile
number. :func:`field_pi_code` is C4 on one field's value: the declared identifier kind decides what is
exempt. ``benchmarks/pi_scan.py`` measures detection and false positives.
"""

from __future__ import annotations

import datetime
import re
from typing import Final

from crossbound import identifiers
from crossbound.identifiers import hkid_check_char, luhn_check_digit, resident_id_check_char

__all__ = ["PUBLIC_KINDS", "field_pi_code", "pi_code", "pi_code_in_code"]

_CJK: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Romanised surnames (Cantonese and pinyin). Title case is read as a name only for the distinctive ones;
# those that are also English words or place names (Long, Man, So, Ho, Ma, Kong, Hong ...) count only in
# the upper-case "SURNAME GIVEN" form of identity documents.
_TITLE_SURNAMES_TEXT: Final = (
    "Au Chan Chen Cheng Cheung Chiu Choi Chow Chu Chung Fung Guo Huang Hung Kwan Kwok Kwong Lai Lau Lee "
    "Leung Li Liang Lin Liu Lui Luo Mak Ng Ngai Poon Siu Tam Tsang Tse Tsui Wang Wong Wu Xie Xu Yang Yeung "
    "Yip Yuen Zhang Zhao Zheng Zhou Zhu"
)
_UPPER_ONLY_SURNAMES_TEXT: Final = (
    "CAO CHIN DENG DING DU FAN FANG FENG FONG GAO HE HO HU JIANG KONG LAM LAW LO LU MA MAN PAN PANG SO SONG "
    "SUN TANG TONG WAN WEI YAU YE YU"
)
_TITLE_SURNAMES: Final = frozenset(_TITLE_SURNAMES_TEXT.split())
_UPPER_SURNAMES: Final = frozenset(_TITLE_SURNAMES_TEXT.upper().split() + _UPPER_ONLY_SURNAMES_TEXT.split())
# Common Chinese surnames (simplified and traditional) that rarely begin an ordinary word; a two- or
# three-character run that starts with one and stands alone is read as a name, minus the words below.
_CJK_SURNAMES: Final = frozenset(
    "王李张刘陈杨黄赵吴徐孙朱胡郭林罗郑梁谢宋唐韩冯邓曹彭曾肖蔡潘袁叶卢苏钟谭陆麦区"
    "張劉陳楊黃趙吳孫鄭謝韓馮鄧蕭葉盧蘇鍾鐘譚陸麥區羅"
)
_CJK_WORDS_TEXT: Final = (
    "黄金 林业 韩国 韩元 曾经 谢谢 陈述 罗马 宋体 唐人街 黃金 林業 韓國 曾經 謝謝 陳述 羅馬 叶片 "
    "苏州 區域 区域 区块链 朱红 胡同 郭外 杨柳 曹操 陆地 陆路 陸路 麦芽 王国 张贴 刘海 吴语 孙子 "
    "梁柱 钟点 鐘點 彭湃 袁大头"
)
_CJK_WORDS: Final = frozenset(_CJK_WORDS_TEXT.split())
_CJK_NAME_IN_TEXT: Final = re.compile(
    rf"(?:姓名|名字|客户|客戶|联系人|聯絡人|户名|戶名)[:\uff1a]?[{_CJK}]{{2,3}}|[{_CJK}]{{1,3}}(?:先生|女士|小姐|太太)"
)

_SEP: Final = re.compile(r"[ ()-]+")
_CN_ID: Final = re.compile(r"\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]")
_DROP: Final = str.maketrans("", "", " -()")
_CHECKS: Final = frozenset("0123456789A")
_LONGEST_TOKEN: Final = 19  # a card or a resident ID; an HKID, a permit or a passport is shorter

_DIGITS: Final = re.compile(
    # at least 6 digits with single separators ("(852) 9123 4567": a closing bracket too) and an HKID's
    # or resident ID's check character, not inside a token, a dashed token (a UUID's groups) nor a
    # decimal amount; the letters or "+" before it are read by _number
    r"\d(?<!\d\d)(?<![0-9A-Za-z]-\d)(?<!\d\.\d)(?:(?:[ -]|\)[ -]?)?\d){5,}+(?:[ -]?\([0-9Aa]\)|[ -]?[XxAa])?"
    r"(?![0-9A-Za-z])(?!-[0-9A-Za-z])(?!\.\d)"
)
_BEFORE: Final = re.compile(
    r"(?:(?<![0-9A-Za-z])(?<![0-9A-Za-z]-)(?P<letters>[A-Za-z]{1,2})[ -]?|(?P<intl>\+|\(\+?))?$"
)
_PHONE_WORD: Final = re.compile(
    r"(?:(?<![A-Za-z])(?i:tel|phone|mobile|mob|cell|call|contact|whatsapp|fax|sms)|電話|电话|手機|手机|聯絡|联系)"
    r"[^0-9A-Za-z]{0,5}$"
)
_EMAIL: Final = re.compile(r"@(?<=[A-Za-z0-9._%+-]@)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def _after_capital(words: frozenset[str]) -> str:
    """An alternation of ``words`` to follow an already matched capital letter: ``(?<=C)(?:han|hen)|...``.

    A leading alternation of 90 surnames would be tried at every position; after ``[A-Z]`` it is tried
    only after a capital letter.
    """
    by_first: dict[str, list[str]] = {}
    for w in sorted(words, key=len, reverse=True):
        by_first.setdefault(w[0], []).append(re.escape(w[1:]))
    return "|".join(f"(?<={c})(?:{'|'.join(rest)})" for c, rest in sorted(by_first.items()))


_TITLES: Final = frozenset({"Mr", "Mrs", "Ms", "Miss", "Mdm", "Madam", "Dr"})
_LATIN: Final = re.compile(
    r"[A-Z](?<![A-Za-z][A-Z])(?:"
    rf"(?:{_after_capital(_TITLES)})\.? [A-Z][a-z]+"
    rf"|(?:{_after_capital(_TITLE_SURNAMES)}) [A-Z][a-z]{{1,7}}(?:-[a-z]{{2,6}})?(?: [A-Z][a-z]{{1,7}})?"
    r"(?![A-Za-z])"
    rf"|(?:{_after_capital(_UPPER_SURNAMES)})(?: [A-Z]{{2,8}}){{1,2}}(?![A-Za-z])"
    r")"
)
_CJK_RUN: Final = re.compile(f"[{_CJK}]+")


def _luhn_ok(d: str) -> bool:
    return luhn_check_digit(d[:-1]) == d[-1]


def _classify(groups: list[str], intl: bool) -> str | None:
    """The code of a run of digit groups, or None: resident ID, phone, card."""
    d = "".join(groups).upper()
    n = len(d)
    # a bare 18-digit ID is flagged on its date; a spaced one or a lower-case x also on its check
    if n == 18 and _CN_ID.fullmatch(d) and (len(groups) == 1 or d[17] == resident_id_check_char(d[:17])):
        return "PI_CN_ID"
    if not d.isdigit():
        return None
    p = d[2:] if d.startswith("00") else d
    if p.startswith("86") and len(p) == 13 and p[2] == "1" and p[3] in "3456789":
        return "PI_PHONE"
    if p.startswith("852") and len(p) == 11 and p[3] in "2356789" and (intl or len(groups) > 1):
        return "PI_PHONE"
    if n == 11 and d[0] == "1" and d[1] in "3456789":
        return "PI_PHONE"
    if n == 8 and d[0] in "2356789" and [len(g) for g in groups] == [4, 4]:
        return "PI_PHONE"
    if ((n == 15 and d[:2] in ("34", "37")) or 16 <= n <= 19) and _luhn_ok(d):
        return "PI_CARD"
    return None


def _number(text: str, m: re.Match[str]) -> str | None:
    """Classify one digit run by what precedes it: an HKID's or a document's letters, ``+852``, or none."""
    run, start = m[0], m.start()
    before = _BEFORE.search(text, max(0, start - 3), start)
    letters = before["letters"] if before else None
    if letters is not None:
        code = _lettered(letters, run)
        if code is not None or text[start - 1] not in " -":
            return code  # letters glued to the digits: one token, never a phone or a card
    elif start and text[start - 1].isalnum():
        return None  # digits inside a token
    if len(run) == 8 and run.isdigit() and run[0] in "2356789":
        return "PI_PHONE" if _PHONE_WORD.search(text, max(0, start - 16), start) else None
    intl = before is not None and before["intl"] is not None
    groups = [g for g in _SEP.split(run) if g]
    for i in range(len(groups)):  # the whole run, then shorter spans: two numbers may be joined by a space
        for j in range(len(groups), i, -1):
            code = _classify(groups[i:j], intl and i == 0)
            if code is not None:
                return code
    return None


def _lettered(letters: str, run: str) -> str | None:
    """An HKID, a travel permit or a passport: one or two letters right before a digit run."""
    body, upper = run.translate(_DROP).upper(), letters.upper()
    n = len(body)
    if n == 7 and run[:6].isdigit():
        bracketed = letters.isupper() and run[6:7] == "(" and run[7:8] in _CHECKS
        if bracketed or hkid_check_char(upper, body[:6]) == body[6]:
            return "PI_HKID"  # A123456(3) is flagged whatever its check character; other forms by it
    if not body.isdigit():
        return None
    if len(upper) == 1:
        if n in (8, 10) and upper in "HM":
            return "PI_PERMIT"
        if n == 8 and upper in "EGK":
            return "PI_PASSPORT"
    elif n == 7 and upper in ("HA", "MA"):
        return "PI_PERMIT"
    elif n == 7 and upper[0] == "E":
        return "PI_PASSPORT"
    return None


def _cjk(run: str) -> str | None:
    if 2 <= len(run) <= 3 and run[0] in _CJK_SURNAMES and run not in _CJK_WORDS:
        return "PI_NAME"
    return "PI_NAME" if _CJK_NAME_IN_TEXT.search(run) else None


def pi_code(text: str) -> str | None:
    """The code of the first personal-data form found in ``text``, or None (see the module docstring).

    Families are tried in a fixed order (numbers, e-mail, Latin names, Chinese names), each only when
    the text can hold one: most values that cross are codes, digests and ids, and cost a few checks.
    """
    ascii_only = text.isascii()
    if ascii_only and (text.isalpha() or (len(text) > _LONGEST_TOKEN and text.isalnum())):
        return None  # one word of letters, or one token longer than any form (a digest): nothing to find
    for m in _DIGITS.finditer(text):
        code = _number(text, m)
        if code is not None:
            return code
    if "@" in text and _EMAIL.search(text):
        return "PI_EMAIL"
    if " " in text and _LATIN.search(text):
        return "PI_NAME"
    if not ascii_only:
        for m in _CJK_RUN.finditer(text):
            code = _cjk(m[0])
            if code is not None:
                return code
    return None


# HK mobile ranges only: 2 and 3 are landlines, mostly businesses, and begin dates (19xx, 20xx) too
_BARE_HK: Final = re.compile(r"\s*[5-9]\d{7}\s*")


def pi_code_in_code(text: str) -> str | None:
    """:func:`pi_code`, stricter for a field that holds a code: any Chinese text, or a value that is
    a bare HK mobile number (first digit 5-9)."""
    code = pi_code(text)
    if code is not None:
        return code
    if not text.isascii() and _CJK_RUN.search(text):
        return "PI_NAME"
    if _BARE_HK.fullmatch(text):
        return "PI_PHONE"
    return None


# Kinds of public identifiers of institutions and things: a valid one is exempt from the scan. Personal
# kinds (hkid, cn_resident_id, home_return_permit, fps_id, luhn, unionpay_card, iban) never are.
PUBLIC_KINDS: Final = frozenset({"uscc", "hk_brn", "lei", "bic", "currency"})


def field_pi_code(
    kind: str | None,
    text: str,
    today: datetime.date | None = None,
    checked: identifiers.IdCheck | None = None,
) -> str | None:
    """C4 on one value of a class C field whose schema declares identifier ``kind`` (or none).

    A valid public identifier of the declared kind is exempt, unless it is also a personal one:

    * ``uscc``: a value that is also a valid resident ID (about 1 in 31 resident IDs passes the mod 31
      check) is ambiguous and refused (``PI_CN_ID``). A real USCC is refused this way only when its body
      is all digits and positions 7-14 read as a birth date (positions 7-8, the end of the division code,
      must be 18, 19 or 20) and the MOD 11-2 check fits: of the order of 1 in 10,000 such codes. A USCC
      whose authority/category pair or division code GB 32100 does not know is scanned like any code
      (:func:`crossbound.identifiers.is_plausible_uscc`).
    * ``hk_brn``: a BRN has no check digit, and an 8-digit BRN cannot be told from an HK phone number:
      no structure separates them. The safer rule is taken where its cost is nil: a BRN starting with 9
      (a mobile-only prefix; BRNs are allocated in sequence and none is known to start with 9, an
      assumption to confirm with the Inland Revenue Department) is refused (``PI_PHONE``), and a letter
      and 7 digits that pass the HKID check (1 in 11 dummy BRNs) is refused (``PI_HKID``). An 8-digit
      BRN starting 0-8 crosses as a BRN; refusing those would refuse nearly every real company. Where
      that is not acceptable the field should cross as an HMAC (class D), not in clear.

    ``checked`` is ``identifiers.check(kind, text, today=today)`` when the caller already has it (the
    ``identifier`` rule on the same field made it).
    """
    if kind is None or kind not in PUBLIC_KINDS:
        return pi_code_in_code(text)
    result = identifiers.check(kind, text, today=today) if checked is None else checked
    if not result.valid or result.normalised is None:
        return pi_code_in_code(text)
    s = result.normalised
    if kind == "uscc":
        if identifiers.is_valid("cn_resident_id", s, today=today):
            return "PI_CN_ID"
        return None if identifiers.is_plausible_uscc(s) else pi_code_in_code(text)
    if kind == "hk_brn":
        if s[0] == "9":
            return "PI_PHONE"
        if s[0].isalpha() and identifiers.is_valid("hkid", s):
            return "PI_HKID"
    return None
