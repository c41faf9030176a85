"""A minimal webhook receiver that verifies payouts' signature (billing.io scheme).

    WEBHOOK_SECRET=whsec_... python3 infra/examples/webhook_receiver.py [port]
"""
import hashlib, hmac, http.server, json, os, sys, time

SECRET = os.environ["WEBHOOK_SECRET"]

def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not verify(SECRET, self.headers.get("X-Billing-Signature", "t=0,v1="), body):
            self.send_response(400); self.end_headers(); return
        event = json.loads(body)
        print(event["type"], event["event_id"], event["data"]["id"], event["data"]["status"], flush=True)
        self.send_response(200); self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Receiver).serve_forever()
