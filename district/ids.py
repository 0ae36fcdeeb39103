"""Check digits of the codes the district uses, scalar (for tests/dirt) and vectorized.

- 居民身份证号码, GB 11643-1999: 17 digits + ISO 7064 MOD 11-2 check character.
- 统一社会信用代码 (USCC), GB 32100-2015: 18 characters over a 31-letter alphabet (no I O S V Z),
  mod-31 check, with an embedded 组织机构代码 (GB 11714) carrying its own mod-11 check.
- 追溯码: 20 digits with a GS1-style mod-10 check digit.
"""

from __future__ import annotations

import numpy as np
import polars as pl

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
# GB 11714 values letters by their place in the full Latin alphabet (A=10 … Z=35).
_ORG_VALUE = np.array([int(c, 36) for c in USCC_ALPHABET], dtype=np.int64)
_ALPHABET_INDEX = np.zeros(128, dtype=np.int64)
_ALPHABET_INDEX[np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31)


# --- 身份证号码 -------------------------------------------------------------------------

def id_check_char(body17: str) -> str:
    return ID_CHECK[sum(int(c) * int(w) for c, w in zip(body17, ID_WEIGHTS)) % 11]


def id_valid(value: str) -> bool:
    """True for a well-formed 18-character ID number with a correct check character."""
    return (len(value) == 18 and value[:17].isascii() and value[:17].isdigit()
            and value[17] == id_check_char(value[:17]))


def id_numbers(region: np.ndarray, yyyymmdd: np.ndarray, seq: np.ndarray) -> pl.Series:
    """18-character ID numbers from region code, birth date as int YYYYMMDD and 3-digit sequence."""
    body = region.astype(np.int64) * 10**11 + yyyymmdd.astype(np.int64) * 1000 + seq.astype(np.int64)
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1, dtype=np.int64)) % 10
    check = np.array(list(ID_CHECK))[(digits @ ID_WEIGHTS) % 11]
    return pl.Series(body).cast(pl.String) + pl.Series(check)


def id_to_legacy15(value: str) -> str:
    """The pre-1999 15-digit form: no century, no check character."""
    return value[:6] + value[8:17]


# --- 统一社会信用代码 -------------------------------------------------------------------

def uscc_check_char(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * int(w) for c, w in zip(body17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    total = sum(int(c, 36) * int(w) for c, w in zip(body8, ORG_WEIGHTS))
    r = 11 - total % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def uscc_valid(value: str) -> bool:
    return (len(value) == 18 and all(c in USCC_ALPHABET for c in value)
            and value[17] == uscc_check_char(value[:17])
            and value[16] == org_check_char(value[8:16]))


def uscc_codes(head: list[str], region: np.ndarray, org_body: np.ndarray) -> pl.Series:
    """USCCs from a 2-char head (e.g. '91'), a 6-digit region string and an (n, 8) matrix of
    alphabet indices for the organisation-code body; both check characters are computed."""
    n = len(head)
    idx = np.zeros((n, 17), dtype=np.int64)
    prefix = np.frombuffer("".join(h + r for h, r in zip(head, region)).encode(), dtype=np.uint8)
    idx[:, :8] = _ALPHABET_INDEX[prefix.reshape(n, 8)]
    idx[:, 8:16] = org_body
    org = 11 - (_ORG_VALUE[org_body] @ ORG_WEIGHTS) % 11
    idx[:, 16] = np.where(org == 10, USCC_ALPHABET.index("X"), np.where(org == 11, 0, org))
    check = (31 - (idx @ USCC_WEIGHTS) % 31) % 31
    full = np.concatenate([idx, check[:, None]], axis=1)
    ascii_codes = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)[full]
    return pl.Series(np.frombuffer(ascii_codes.tobytes(), dtype="S18").astype(str))


# --- 追溯码 ---------------------------------------------------------------------------

def mod10_check(body: str) -> str:
    """GS1 check digit: weights 3,1,3,… from the right."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def trace_codes(region: np.ndarray, yymmdd: np.ndarray, serial: np.ndarray) -> pl.Series:
    """20-digit traceability codes: region(6) + production date YYMMDD(6) + serial(7) + check."""
    body = region.astype(np.int64) * 10**13 + yymmdd.astype(np.int64) * 10**7 + serial.astype(np.int64)
    digits = (body[:, None] // 10 ** np.arange(18, -1, -1, dtype=np.int64)) % 10
    weights = np.array([3 if i % 2 == 0 else 1 for i in range(19)][::-1], dtype=np.int64)
    check = (10 - (digits @ weights) % 10) % 10
    return pl.Series(body).cast(pl.String).str.zfill(19) + pl.Series(check).cast(pl.String)
