#!/usr/bin/env python3
"""Generates the detector corpus: `benches/corpus/corpus.jsonl`, one JSON object per line.

Each line is one short text (a sentence, a log line, a JSON-ish fragment) that embeds exactly one value:

    {"id": "credit_card-0001", "category": "personal" | "secret" | "look-alike",
     "kind": "visa", "expected": "CREDIT_CARD" | null,
     "value": "4111 1111 1111 1111", "start": 12, "end": 31, "text": "..."}

`start`/`end` are Unicode code point offsets of `value` in `text` (Python string indices: `text[start:end]
== value`). `expected` is the Warden detector name that must mask the value, or null for a look-alike
that every detector must leave alone. The rest of each text carries nothing a detector should mask.

Personal values come from Faker (several locales), phone numbers are re-formatted (E.164, international,
national) by `phonenumbers` after checking they are valid numbers; identifiers Faker lacks or gets wrong
(UK NHS, UK NINO, Bitcoin addresses) and the secrets are built here in their real formats with their real
checksums. Deterministic: the same seed and package versions (requirements.txt) give the same bytes.

Usage: generate.py [--seed N] [--per-kind N] [--out PATH]
"""

import argparse
import base64
import hashlib
import hmac
import json
import random
import string
import sys
from datetime import datetime
from pathlib import Path

import phonenumbers
from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"]
# Faker locale -> phonenumbers region.
REGIONS = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "nl_NL": "NL", "es_ES": "ES",
           "it_IT": "IT"}
ALNUM = string.ascii_letters + string.digits
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Timestamps fall in this range (fixed: a range relative to today would change the corpus daily).
FIRST_DAY, LAST_DAY = datetime(2020, 1, 1), datetime(2026, 1, 1)
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# ---------------------------------------------------------------------------------------------------
# Contexts: `{v}` is the value; `{name}` a Faker name, `{city}` a Faker city (no digits, no identifiers).
PERSONAL_CONTEXTS = [
    "Customer {name} gave {v} when we called back.",
    '{{"customer": "{name}", "{field}": "{v}", "status": "active"}}',
    "{field}={v} user={name}",
    "Please double-check {v} for {name} before the export.",
    "Record updated: {field} is now {v} (requested by {name} in {city}).",
    "| {name} | {v} | {city} |",
]
SECRET_CONTEXTS = [
    "The deploy log printed {v} before the job failed.",
    '{{"service": "billing", "credential": "{v}", "region": "{city}"}}',
    "Rotate this one, it leaked in chat: {v}",
    "curl -H 'X-Api-Key: {v}' https://api.example.com/v1/status",
    "config dump: endpoint=https://api.example.com value={v} retries=three",
]
LOOK_ALIKE_CONTEXTS = [
    "Build {v} was deployed by {name} without incident.",
    '{{"ref": "{v}", "owner": "{name}", "city": "{city}"}}',
    "See {v} in the changelog for details.",
    "{field}={v} user={name}",
    "Ticket closed: {field} {v} confirmed by {name}.",
]


class Corpus:
    """Collects items; `add` places the value in a context and records its span."""

    def __init__(self, rng, faker):
        self.rng = rng
        self.faker = faker
        self.items = []
        self.counters = {}

    def add(self, category, kind, expected, value, contexts, field):
        template = self.rng.choice(contexts)
        name = self.faker.name()
        city = self.faker.city()
        before, after = template.split("{v}", 1)
        fill = {"name": name, "city": city, "field": field}
        prefix = before.format(**fill) if "{" in before else before
        suffix = after.format(**fill) if "{" in after else after
        prefix = prefix.replace("{{", "{").replace("}}", "}")
        suffix = suffix.replace("{{", "{").replace("}}", "}")
        self.add_raw(category, kind, expected, value, prefix, suffix)

    def add_raw(self, category, kind, expected, value, prefix, suffix):
        group = (expected or "LOOK_ALIKE").lower()
        self.counters[group] = self.counters.get(group, 0) + 1
        text = prefix + value + suffix
        self.items.append({
            "id": f"{group}-{self.counters[group]:04d}",
            "category": category,
            "kind": kind,
            "expected": expected,
            "value": value,
            "start": len(prefix),
            "end": len(prefix) + len(value),
            "text": text,
        })


# ---------------------------------------------------------------------------------------------------
# Checksums and encodings built here.

def luhn_check_digit(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def luhn_valid(number):
    digits = [c for c in number if c.isdigit()]
    return luhn_check_digit(digits[:-1]) == digits[-1]


def nhs_number(rng, valid=True):
    """A UK NHS number `NNN NNN NNNN`; with `valid=False`, one failing mod 11 that is not phone-shaped
    either: a 3-3-4 number with a NANP area code and exchange (first digits 2-9) is a US phone number
    as written, and one starting with 0 a trunk-prefixed national number, so the first digit is 1 or
    the fourth is 0 or 1."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        if not valid and (digits[0] == 0 or (digits[0] > 1 and digits[3] > 1)):
            continue
        total = sum(d * (10 - i) for i, d in enumerate(digits))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check == 10:
            continue
        if not valid:
            check = (check + rng.randrange(1, 10)) % 10
            if 11 - total % 11 in (check, 11 if check == 0 else -1):
                continue
        s = "".join(map(str, digits)) + str(check)
        return f"{s[:3]} {s[3:6]} {s[6:]}"


def nino(rng):
    first = "ABCEGHJKLMNOPRSTWXYZ"
    second = "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = rng.choice(first) + rng.choice(second)
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            break
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix}{digits}{suffix}"
    return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"


def base58check(payload):
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def segwit_address(hrp, version, program):
    """BIP-173 (version 0, bech32) / BIP-350 (version >= 1, bech32m) address."""
    acc, bits, data = 0, 0, []
    for b in program:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    data = [version] + data
    const = 1 if version == 0 else 0x2BC830A3
    hrp_exp = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = bech32_polymod(hrp_exp + data + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in data + checksum)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rand_str(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


# ---------------------------------------------------------------------------------------------------
# Personal identifiers.

CARD_BRANDS = ["visa", "visa16", "mastercard", "amex", "discover", "jcb", "diners", "maestro"]


def group_card(number, rng):
    style = rng.choice(["plain", "spaces", "dashes"])
    if style == "plain":
        return number
    sep = " " if style == "spaces" else "-"
    if len(number) == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    if len(number) == 14:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def personal(corpus, fakers, rng, per_kind):
    us, gb = fakers["en_US"], fakers["en_GB"]
    for i in range(per_kind):
        brand = CARD_BRANDS[i % len(CARD_BRANDS)]
        number = us.credit_card_number(card_type=brand)
        corpus.add("personal", f"card-{brand}", "CREDIT_CARD", group_card(number, rng),
                   PERSONAL_CONTEXTS, "card_number")
    for _ in range(per_kind):
        ssn = us.ssn()
        if rng.random() < 0.25:
            ssn = ssn.replace("-", " ")
        corpus.add("personal", "ssn", "US_SSN", ssn, PERSONAL_CONTEXTS, "ssn")
    for i in range(per_kind):
        loc = LOCALES[i % len(LOCALES)]
        email = fakers[loc].email() if i % 3 else fakers[loc].company_email()
        corpus.add("personal", f"email-{loc}", "EMAIL_ADDRESS", email, PERSONAL_CONTEXTS, "email")
    iban_locales = ["de_DE", "fr_FR", "nl_NL", "es_ES", "en_GB", "it_IT"]
    for i in range(per_kind):
        loc = iban_locales[i % len(iban_locales)]
        iban = fakers[loc].iban()
        spaced = i % 2 == 1
        if spaced:
            iban = " ".join(iban[j:j + 4] for j in range(0, len(iban), 4))
        corpus.add("personal", f"iban-{loc[-2:].lower()}{'-spaced' if spaced else ''}", "IBAN_CODE",
                   iban, PERSONAL_CONTEXTS, "iban")
    phones(corpus, fakers, rng, per_kind)
    for i in range(per_kind):
        if i % 2:
            corpus.add("personal", "ipv6", "IP_ADDRESS", us.ipv6(), PERSONAL_CONTEXTS, "client_ip")
        else:
            corpus.add("personal", "ipv4", "IP_ADDRESS", us.ipv4_public(), PERSONAL_CONTEXTS,
                       "client_ip")
    valid_groups = list(range(50, 66)) + list(range(70, 89)) + [90, 91, 92] + list(range(94, 100))
    for _ in range(per_kind):
        itin = f"9{rng.randrange(100):02d}-{rng.choice(valid_groups)}-{rng.randrange(1, 10000):04d}"
        corpus.add("personal", "itin", "US_ITIN", itin, PERSONAL_CONTEXTS, "itin")
    passport_contexts = [
        "Passport {v} was scanned at the desk.",
        "US passport number: {v}",
        '{{"traveler": "{name}", "passport": "{v}"}}',
        "passport_no={v} holder={name}",
    ]
    for _ in range(per_kind):
        number = us.passport_number()
        corpus.add("personal", "us-passport", "US_PASSPORT", number, passport_contexts, "passport")
    for _ in range(per_kind):
        corpus.add("personal", "uk-nhs", "UK_NHS", nhs_number(rng), PERSONAL_CONTEXTS, "nhs_number")
    for _ in range(per_kind):
        corpus.add("personal", "uk-nino", "UK_NINO", nino(rng), PERSONAL_CONTEXTS, "ni_number")
    for i in range(per_kind):
        kind = ["btc-p2pkh", "btc-p2sh", "btc-bech32", "btc-bech32m", "eth"][i % 5]
        if kind == "btc-p2pkh":
            addr = base58check(b"\x00" + rng.randbytes(20))
        elif kind == "btc-p2sh":
            addr = base58check(b"\x05" + rng.randbytes(20))
        elif kind == "btc-bech32":
            addr = segwit_address("bc", 0, rng.randbytes(20))
        elif kind == "btc-bech32m":
            addr = segwit_address("bc", 1, rng.randbytes(32))
        else:
            addr = "0x" + rng.randbytes(20).hex()
        corpus.add("personal", kind, "CRYPTO_WALLET", addr, PERSONAL_CONTEXTS, "wallet")
    for i in range(per_kind):
        mac = us.mac_address()
        if i % 2:
            mac = mac.upper().replace(":", "-")
        corpus.add("personal", "mac", "MAC_ADDRESS", mac, PERSONAL_CONTEXTS, "device_mac")


def phones(corpus, fakers, rng, per_kind):
    formats = [("e164", phonenumbers.PhoneNumberFormat.E164),
               ("international", phonenumbers.PhoneNumberFormat.INTERNATIONAL),
               ("national", phonenumbers.PhoneNumberFormat.NATIONAL)]
    made = 0
    attempts = 0
    while made < per_kind and attempts < per_kind * 200:
        attempts += 1
        loc = LOCALES[made % len(LOCALES)]
        region = REGIONS[loc]
        raw = fakers[loc].phone_number()
        try:
            parsed = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(parsed):
            continue
        parsed.extension = None  # "ext. 289" is not part of the number
        fmt_name, fmt = formats[made % len(formats)]
        value = phonenumbers.format_number(parsed, fmt)
        corpus.add("personal", f"phone-{region.lower()}-{fmt_name}", "PHONE_NUMBER", value,
                   PERSONAL_CONTEXTS, "phone")
        made += 1


# ---------------------------------------------------------------------------------------------------
# Secrets, synthetic in their real formats.

PEM_LABELS = ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
              "ENCRYPTED PRIVATE KEY"]


def pem_block(rng, label, body_bytes):
    body = base64.b64encode(rng.randbytes(body_bytes)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def jwt(rng, faker):
    alg = rng.choice(["HS256", "RS256", "ES256"])
    header = {"alg": alg, "typ": "JWT"}
    if rng.random() < 0.5:
        header["kid"] = rand_str(rng, ALNUM, 8)
    payload = {"sub": faker.user_name(), "iss": "https://idp.example.com", "iat": 1764000000,
               "exp": 1764003600, "scope": "read write"}
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")).encode())
    key = rng.randbytes(32)
    sig_len = {"HS256": 32, "RS256": 256, "ES256": 64}[alg]
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if alg == "HS256" \
        else rng.randbytes(sig_len)
    return signing_input + "." + b64url(sig)


def secrets(corpus, fakers, rng, per_kind):
    us = fakers["en_US"]
    upper_digits = string.ascii_uppercase + "234567"
    b64 = string.ascii_letters + string.digits + "+/"
    aws_contexts = [
        "aws_secret_access_key = {v}",
        '{{"UserName": "deploy-bot", "SecretAccessKey": "{v}"}}',
        "export AWS_SECRET_ACCESS_KEY={v}",
        "secret_access_key: {v}",
    ]
    for i in range(per_kind):
        if i % 2 == 0:
            prefix = "AKIA" if i % 4 == 0 else "ASIA"
            value = prefix + rand_str(rng, upper_digits, 16)
            corpus.add("secret", f"aws-{prefix.lower()}", "AWS_ACCESS_KEY", value, SECRET_CONTEXTS,
                       "")
        else:
            value = rand_str(rng, b64, 40)
            template = rng.choice(aws_contexts)
            before, after = template.split("{v}", 1)
            corpus.add_raw("secret", "aws-secret-key", "AWS_ACCESS_KEY", value,
                           before.replace("{{", "{"), after.replace("}}", "}"))
    for i in range(per_kind):
        kind = ["ghp_", "gho_", "ghs_", "ghu_", "github_pat_"][i % 5]
        if kind == "github_pat_":
            value = kind + rand_str(rng, ALNUM, 22) + "_" + rand_str(rng, ALNUM, 59)
        else:
            value = kind + rand_str(rng, ALNUM, 36)
        corpus.add("secret", f"github-{kind.rstrip('_')}", "GITHUB_TOKEN", value, SECRET_CONTEXTS, "")
    for i in range(per_kind):
        kind = ["glpat-", "gldt-", "glrt-", "glptt-"][i % 4]
        corpus.add("secret", f"gitlab-{kind.rstrip('-')}", "GITLAB_TOKEN",
                   kind + rand_str(rng, ALNUM + "_-", 20), SECRET_CONTEXTS, "")
    for i in range(per_kind):
        kind = ["xoxb", "xoxp", "xoxa", "xoxs"][i % 4]
        value = f"{kind}-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-" + \
            rand_str(rng, ALNUM, 24)
        corpus.add("secret", f"slack-{kind}", "SLACK_TOKEN", value, SECRET_CONTEXTS, "")
    for i in range(per_kind):
        kind = "sk_live_" if i % 2 == 0 else "rk_live_"
        corpus.add("secret", f"stripe-{kind.rstrip('_')}", "STRIPE_KEY",
                   kind + rand_str(rng, ALNUM, rng.choice([24, 34, 99])), SECRET_CONTEXTS, "")
    for _ in range(per_kind):
        corpus.add("secret", "google-api-key", "GOOGLE_API_KEY",
                   "AIza" + rand_str(rng, ALNUM + "_-", 35), SECRET_CONTEXTS, "")
    for i in range(per_kind):
        if i % 2 == 0:
            value = "sk-proj-" + rand_str(rng, ALNUM + "_-", 156)
        else:
            value = "sk-" + rand_str(rng, ALNUM, 48)
        corpus.add("secret", "openai-key", "OPENAI_API_KEY", value, SECRET_CONTEXTS, "")
    for _ in range(per_kind):
        value = "sk-ant-api03-" + rand_str(rng, ALNUM + "_-", 93) + "AA"
        corpus.add("secret", "anthropic-key", "ANTHROPIC_API_KEY", value, SECRET_CONTEXTS, "")
    pem_contexts = [
        "Here is the key you asked for:\n{v}\nDo not share it.",
        "id_rsa contents:\n{v}\n",
        "{v}",
    ]
    for i in range(per_kind // 2):
        label = PEM_LABELS[i % len(PEM_LABELS)]
        corpus.add("secret", f"pem-{label.split()[0].lower()}", "PRIVATE_KEY",
                   pem_block(rng, label, rng.choice([121, 240, 480])), pem_contexts, "")
    for _ in range(per_kind):
        corpus.add("secret", "jwt", "JWT", jwt(rng, us), SECRET_CONTEXTS + [
            "Authorization: Bearer {v}"], "")
    assignment_contexts = [
        "{field}={v}\n",
        "{field}: {v}\n",
        '{{"{field}": "{v}", "user": "{name}"}}',
        "{ENV}={v} ./migrate",
        "[database]\n{field} = \"{v}\"\n",
    ]
    fields = ["password", "db_password", "secret", "client_secret", "api_key", "passphrase",
              "auth_token"]
    for _ in range(per_kind):
        field = rng.choice(fields)
        value = us.password(length=rng.choice([10, 14, 20]), special_chars=rng.random() < 0.5)
        env = field.upper() if field.startswith("db_") else "DB_" + field.upper()
        template = rng.choice(assignment_contexts).replace("{ENV}", env)
        before, after = template.split("{v}", 1)
        fill = {"field": field, "name": us.name()}
        corpus.add_raw("secret", "assignment", "SECRET_ASSIGNMENT", value,
                       before.format(**fill).replace("{{", "{"),
                       after.format(**fill).replace("}}", "}"))


# ---------------------------------------------------------------------------------------------------
# Look-alikes: values every detector must leave alone.

def look_alikes(corpus, fakers, rng, per_kind):
    us = fakers["en_US"]

    def add(kind, value, field="id"):
        corpus.add("look-alike", kind, None, value, LOOK_ALIKE_CONTEXTS, field)

    for _ in range(per_kind):
        add("uuid", us.uuid4())
        add("git-sha1", us.sha1(), "commit")
        add("sha256", us.sha256(), "digest")
        add("semver", f"{rng.randrange(20)}.{rng.randrange(40)}.{rng.randrange(100)}"
            + rng.choice(["", "-rc.1", "-beta.2", "+build.7"]), "version")
        add("version-4part", f"v{rng.randrange(1, 20)}.{rng.randrange(10)}.{rng.randrange(10)}."
            f"{rng.randrange(10)}", "version")
        add("windows-build", f"10.0.{rng.randrange(10000, 30000)}.{rng.randrange(1000, 9999)}",
            "build")
        add("iso-timestamp", us.date_time_between(FIRST_DAY, LAST_DAY).isoformat(timespec="seconds")
            + rng.choice(
            ["Z", "+02:00", ".123Z", ""]), "at")
        add("isbn", rng.choice([us.isbn13(), us.isbn10()]), "isbn")
        add("order-number", rng.choice([
            f"ORD-{rng.randrange(2019, 2027)}-{rng.randrange(10**5, 10**6)}",
            f"#{rng.randrange(10**6, 10**7)}",
            f"PO{rng.randrange(10**7, 10**8)}"]), "order")
        number = us.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "discover"]))
        bad = number[:-1] + str((int(number[-1]) + rng.randrange(1, 10)) % 10)
        add("card-luhn-fail", group_card(bad, rng), "card_number")
        iban = fakers[rng.choice(["de_DE", "fr_FR", "nl_NL", "es_ES", "en_GB"])].iban()
        check = (int(iban[2:4]) + rng.randrange(1, 97)) % 97
        add("iban-mod97-fail", iban[:2] + f"{max(check, 2):02d}" + iban[4:], "iban")
        add("nhs-mod11-fail", nhs_number(rng, valid=False), "nhs_number")  # not NANP-shaped
        add("ssn-invalid-area", rng.choice(["000", "666"]) + f"-{rng.randrange(1, 100):02d}-"
            f"{rng.randrange(1, 10000):04d}", "ssn")
        add("eth-tx-hash", "0x" + rng.randbytes(32).hex(), "tx")
        add("stripe-test-key", "sk_test_" + rand_str(rng, ALNUM, 24), "stripe_key_id")
        add("placeholder-assignment", rng.choice(["${DB_PASSWORD}", "{{ vault_password }}", "<secret>",
                                                  "********"]), "ref")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--per-kind", type=int, default=40,
                        help="values per detector (PEM keys: half), look-alikes per kind")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "corpus.jsonl")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    Faker.seed(args.seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(args.seed * 100 + i)
    corpus = Corpus(rng, fakers["en_US"])
    personal(corpus, fakers, rng, args.per_kind)
    secrets(corpus, fakers, rng, args.per_kind)
    look_alikes(corpus, fakers, rng, args.per_kind // 2)
    for item in corpus.items:
        assert item["text"][item["start"]:item["end"]] == item["value"], item
    with args.out.open("w", encoding="utf-8") as out:
        for item in corpus.items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {len(corpus.items)} items to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
