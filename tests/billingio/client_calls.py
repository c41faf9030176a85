"""billing.io's Python SDK (PyPI `billingio`), used unchanged against payouts-local: its
webhook-endpoint calls and its error class. Prints one JSON report for the Rust test to check.

    python client_calls.py BASE_URL API_KEY RECEIVER_URL
"""
import json, sys

from billingio import BillingIO, BillingIOError

base_url, api_key, receiver_url = sys.argv[1:4]
client = BillingIO(api_key=api_key, base_url=base_url)

def endpoint(e):
    return {"webhook_id": e.webhook_id, "url": e.url, "events": e.events, "status": e.status,
            "created_at": e.created_at, "secret": e.secret, "description": e.description}

def error_of(call):
    try:
        call()
    except BillingIOError as error:
        return {"type": error.type, "code": error.code, "status_code": error.status_code,
                "param": error.param, "message": error.message}
    return None

created = client.webhooks.create(receiver_url, ["payout.settled", "payout.failed"], description="from the SDK")
page = client.webhooks.list(limit=10)
got = client.webhooks.get(created.webhook_id)
client.webhooks.delete(created.webhook_id)
report = {
    "created": endpoint(created),
    "listed": [endpoint(e) for e in page.data],
    "has_more": page.has_more,
    "got": endpoint(got),
    "after_delete": error_of(lambda: client.webhooks.get(created.webhook_id)),
    "delete_again": error_of(lambda: client.webhooks.delete(created.webhook_id)),
    "unauthenticated": error_of(lambda: BillingIO(api_key="sk_test_not_a_key", base_url=base_url).webhooks.list()),
    "invalid": error_of(lambda: client.webhooks.create("ftp://example.com/hook", ["payout.settled"])),
}
print(json.dumps(report))
