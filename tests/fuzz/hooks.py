"""Schemathesis hooks for the payouts API: the rules an OpenAPI schema cannot state.

Each hook keeps generated requests inside what the API documents in words, never outside it:
- an address's form and checksum depend on the body's `chain` (EIP-55 on arbitrum/base,
  base58check on tron), and a chain supports only some tokens;
- an amount has at most 6 decimals, which a float generated as a multiple of 0.000001 may lose;
- reconciliation windows need `to` no earlier than `from`, and a webhook's `backfill_since` lies
  within the last 7 days;
- the endpoints it registers receive real deliveries, so their URLs are kept on loopback;
- a list cursor is opaque and only the server can issue one, and a wallet proof is a signature
  only the wallet's key can make: a generated one is rightly a 400 (`invalid_cursor`,
  `invalid_signature`), and those answers, only they, are not counted as "schema-valid data
  rejected" (nor is a `backfill_since` the coverage phase picks outside the 7 days).
Only positive cases are adjusted (`map_case` and `filter_case` apply in every phase); negative
ones keep what makes them invalid.
"""

import hashlib
import re
from datetime import datetime, timedelta, timezone

import schemathesis

EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
TRON_ADDRESS = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
TOKENS_OF_CHAIN = {"tron": ["USDT"], "arbitrum": ["USDT", "USDC"], "base": ["USDC"]}


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = BASE58[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


def _address_for(chain: str, generated: str) -> str:
    """A valid address of `chain`, derived from the generated one (so examples stay varied)."""
    account = hashlib.sha256(generated.encode()).digest()[:20]
    if chain == "tron":
        payload = b"\x41" + account
        return _base58(payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4])
    return "0x" + account.hex()  # all lowercase: no checksum to get wrong


def _fit_address(chain, value):
    if isinstance(value, str) and (EVM_ADDRESS.match(value) or TRON_ADDRESS.match(value)):
        return _address_for(chain, value)
    return value


def _positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode == "positive"


def _fit_payout_body(body):
    chain = body.get("chain")
    if chain not in TOKENS_OF_CHAIN:
        return
    if "recipient_address" in body:
        body["recipient_address"] = _fit_address(chain, body["recipient_address"])
    if body.get("token") in ("USDT", "USDC") and body["token"] not in TOKENS_OF_CHAIN[chain]:
        body["token"] = TOKENS_OF_CHAIN[chain][0]
    amount = body.get("amount")
    if isinstance(amount, float) and 0.01 <= amount <= 1e12:
        body["amount"] = round(amount, 6)


_idempotency_keys = 0

# Endpoints the fuzzer registers get deliveries and test events: they must never leave loopback
# (no DNS either). Nothing listens on the discard port, so each attempt fails at once. Negative
# cases keep their generated URLs: they are refused before anything is stored.
LOOPBACK_RECEIVER = "http://127.0.0.1:9/fuzz"
WEBHOOK_URL_OPERATIONS = {("POST", "/v1/webhooks"), ("PATCH", "/v1/webhooks/{webhook_id}")}


@schemathesis.hook
def map_case(context, case):
    """Positive cases only: negative ones must keep what makes them invalid."""
    global _idempotency_keys
    if not _positive(case):
        return case
    # An Idempotency-Key used again with the same body replays the first answer, as documented,
    # even when the resource it created has since been deleted: a fresh key per case keeps the
    # "created resource is found" check about creation, not about replays.
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and key:
        _idempotency_keys += 1
        case.headers["Idempotency-Key"] = f"{key[:240]}-{_idempotency_keys}"
    if case.method.upper() == "GET" and case.path == "/v1/payouts" and _unsupported_pair(case.query):
        case.query["token"] = TOKENS_OF_CHAIN[case.query["chain"]][0]
    if not isinstance(case.body, dict):
        return case
    method = case.method.upper()
    if (method, case.path) in WEBHOOK_URL_OPERATIONS and isinstance(case.body.get("url"), str):
        case.body["url"] = f"{LOOPBACK_RECEIVER}/{_idempotency_keys}"
    if (method, case.path) == ("POST", "/v1/webhooks") and isinstance(case.body.get("backfill_since"), str):
        case.body["backfill_since"] = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if method != "POST":
        return case
    if case.path == "/v1/payouts":
        _fit_payout_body(case.body)
    elif case.path == "/v1/payouts/wallets" and case.body.get("chain") in TOKENS_OF_CHAIN and "address" in case.body:
        case.body["address"] = _fit_address(case.body["chain"], case.body["address"])
    return case


def _instant(text):
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def filter_case(context, case):
    """No reconciliation window that ends before it starts (a 400 the schema cannot express)."""
    if not case.query or not case.path.startswith("/v1/payouts/reconciliation") or not _positive(case):
        return True
    start, end = _instant(case.query.get("from")), _instant(case.query.get("to"))
    return start is None or end is None or end >= start


# Refusals of values only a secret holder can make: a cursor the server sealed, a signature by the
# wallet's key. A generated one matches the documented pattern and is still rightly refused. And a
# `backfill_since` outside the last 7 days: the schema cannot state a window relative to the
# present, and the coverage phase sends its own date-times (map_case moves the other phases').
SECRET_BOUND_CODES = {("invalid_cursor", "cursor"), ("invalid_signature", "signature"), ("invalid_field", "backfill_since")}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202" or response.status_code != 400:
        return True
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return True
    if (error.get("code"), error.get("param")) == ("unsupported_chain_token", "token") and _unsupported_pair(case.query):
        # A list filter of a chain and a token the chain does not offer: a cross-field rule the
        # schema cannot state (map_case fits bodies, but the coverage phase sends its own).
        return False
    return (error.get("code"), error.get("param")) not in SECRET_BOUND_CODES


def _unsupported_pair(query):
    if not query:
        return False
    chain, token = query.get("chain"), query.get("token")
    return chain in TOKENS_OF_CHAIN and token in ("USDT", "USDC") and token not in TOKENS_OF_CHAIN[chain]
