"""Personal data and secrets in text: the detectors, in one place.

Detectors (the SQL twins are in ``queries/pii.sql``):

- email: ``local@domain.tld`` anywhere in a text;
- IPv4: four dotted numbers 0-255 as a whole field (a JSON string, a tag value, a user id), or
  under a key that names an address (``ip``, ``ip_address``, ``REMOTE_ADDR``,
  ``X-Forwarded-For``...). Inside free text ``1.2.3.4`` is more often a version than an address,
  so a version string stays; in text shown to people (:func:`mask_text`) every one is masked;
- IPv6: eight hex groups, or hex groups around ``::``, as a whole field;
- secrets: ``Bearer``/``Basic`` credentials, Sentry tokens (``sntrys_``, ``sntryu_``), and the
  password of a URL (``scheme://user:password@host``).
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
IPV6 = r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f:.]*::[0-9A-Fa-f:.]*"
IP_WHOLE = re.compile(rf"(?:{IPV4}|{IPV6})(?::\d+)?")
_IP_KEY = (
    r"(?:[^\"]*[._-])?(?:ip|ip_address|ipaddress|remote_addr|client_ip|x-forwarded-for"
    r"|x-real-ip|forwarded|addr)"
)
# A JSON string that is wholly an address: "192.0.2.1", "2001:db8::1".
_JSON_IP_VALUE = re.compile(rf'"(?:{IPV4}|{IPV6})(?::\d+)?"')
# The value of an address key: "ip_address": "...", ["X-Forwarded-For", "..."].
_JSON_IP_KEYED = re.compile(rf'("{_IP_KEY}"\s*[:,]\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
_ANY_IPV4 = re.compile(rf"(?<![\d.]){IPV4}(?::\d+)?(?![\d.])")
SECRETS = [
    (re.compile(r"(?i)\b(bearer|basic|token|dsn)(\s+|=)[A-Za-z0-9._~+/=:-]{8,}"), r"\1\2<secret>"),
    (re.compile(r"\bsntr[a-z]{1,2}_[A-Za-z0-9_=+/.-]{8,}"), "<secret>"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@\"']*):[^/\s@\"']*@"), r"\1:<secret>@"),
]


def scrub_json_text(text: str) -> str:
    """Text that is (or was meant to be) JSON, as stored: emails, addresses (whole string values
    and values of address keys) and secrets masked. For rejected records' raw text."""
    text = EMAIL.sub("<email>", text)
    text = _JSON_IP_KEYED.sub(r'\1"<ip>"', text)
    text = _JSON_IP_VALUE.sub('"<ip>"', text)
    return mask_secrets(text)


def mask_secrets(text: str) -> str:
    for pattern, repl in SECRETS:
        text = pattern.sub(repl, text)
    return text


def mask_text(text: str) -> str:
    """Text shown to people (reports, `triage rejects`): emails, every IPv4-looking number and
    secrets masked. Stricter than storage: a shown version string is a small loss."""
    text = EMAIL.sub("<email>", text)
    text = _ANY_IPV4.sub("<ip>", text)
    text = re.sub(rf"(?<![\w:])(?:{IPV6})(?![\w:])", lambda m: _v6(m.group()), text)
    return mask_secrets(text)


def _v6(s: str) -> str:
    return "<ip>" if s.count(":") >= 2 and any(c.isalnum() for c in s) else s


def is_pii_value(value: str) -> bool:
    """A field value that is personal data on its own: contains an email, or is an address."""
    return bool(EMAIL.search(value) or IP_WHOLE.fullmatch(value.strip()))
