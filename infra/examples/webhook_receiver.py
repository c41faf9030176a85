"""A minimal webhook receiver that verifies payouts' signature (billing.io scheme).

    WEBHOOK_SECRET=whsec_... python3 infra/examples/webhook_receiver.py [port]
"""
import hashlib, hmac, http.server, json, os, sys, time

SECRET = os.environ["WEBHOOK_SECRET"]

def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    t = next((value for name, value in parts if name == "t"), "0")
    signatures = [value for name, value in parts if name == "v1"]  # two during a secret rotation
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures) and abs(time.time() - int(t)) <= tolerance

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not verify(SECRET, self.headers.get("X-Billing-Signature", "t=0,v1="), body):
            self.send_response(400); self.end_headers(); return
        event = json.loads(body)
        data = event["data"]  # the payout intent; for webhook.test, {"webhook_id", "message"}
        print(event["type"], event["event_id"], data.get("id", data.get("webhook_id")), data.get("status", "-"), flush=True)
        self.send_response(200); self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Receiver).serve_forever()
