"""A list entry's value in the one form a list stores and looks up, by the list's kind.

Countries are ISO 3166-1 alpha-2 codes in upper case, card BINs 6 to 8 digits, IP addresses as `ipaddress` writes
them (so `2001:DB8::1` and `2001:db8:0::1` are one entry); any other kind is the text without surrounding space.
"""

import ipaddress

from rules.models import ValueList

MAX_LENGTH = 256
Kind = ValueList.Kind

# ISO 3166-1 alpha-2, the officially assigned codes.
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO
    JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR
    MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO
    RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV
    TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())


class InvalidValue(ValueError):
    """A value the list's kind cannot hold; its text names the value and says why."""


def normalise(kind: str, raw) -> str:
    """`raw` as the list of `kind` stores it; raises InvalidValue naming the value otherwise."""
    if not isinstance(raw, str):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidValue(f"{raw!r} is not text.")
        raw = str(raw)
    value = raw.strip()
    if not value:
        raise InvalidValue("A value cannot be empty.")
    if len(value) > MAX_LENGTH:
        raise InvalidValue(f"{_shown(value)} is longer than {MAX_LENGTH} characters.")
    if not value.isprintable():
        raise InvalidValue(f"{_shown(value)} holds a control character.")
    check = _CHECKS.get(kind)
    return value if check is None else check(value)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _country(value: str) -> str:
    code = value.upper()
    if code not in COUNTRIES:
        raise InvalidValue(f"{_shown(value)} is not an ISO 3166-1 alpha-2 country code (such as FR or US).")
    return code


def _card_bin(value: str) -> str:
    if not (value.isascii() and value.isdigit() and 6 <= len(value) <= 8):
        raise InvalidValue(f"{_shown(value)} is not a card BIN (6 to 8 digits).")
    return value


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidValue(f"{_shown(value)} is not an IP address.") from None


_CHECKS = {Kind.COUNTRY: _country, Kind.CARD_BIN: _card_bin, Kind.IP: _ip}
CHECKED_KINDS = frozenset(_CHECKS)  # the kinds whose values are more than text
