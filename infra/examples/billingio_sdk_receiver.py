"""A webhook receiver that verifies with billing.io's official Python SDK (PyPI `billingio`).

    pip install billingio==2.0.0
    WEBHOOK_SECRETS=whsec_new,whsec_old python3 infra/examples/billingio_sdk_receiver.py [port]

The SDK's verify_webhook_signature reads only the last `v1=` of X-Billing-Signature. During a
secret rotation's overlap payouts signs with both secrets and puts the old one's signature last,
so a receiver still on the old secret keeps verifying; one that has switched verifies by trying
each of its secrets (new first), as below, until the overlap ends.
"""
import http.server, os, sys

from billingio import verify_webhook_signature
from billingio.errors import WebhookVerificationError

SECRETS = [secret for secret in os.environ["WEBHOOK_SECRETS"].split(",") if secret]

def verified_event(body: str, header: str):
    failure = None
    for secret in SECRETS:
        try:
            return verify_webhook_signature(body, header, secret)
        except WebhookVerificationError as error:
            failure = error
    raise failure or WebhookVerificationError("no secret configured")

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        try:
            event = verified_event(body, self.headers.get("X-Billing-Signature", ""))
        except WebhookVerificationError as error:
            self.send_response(400); self.end_headers(); self.wfile.write(str(error).encode()); return
        print(event["type"], event["event_id"], flush=True)
        self.send_response(200); self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Receiver).serve_forever()
