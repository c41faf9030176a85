// A minimal webhook receiver that verifies payouts' signature (billing.io scheme).
//   WEBHOOK_SECRET=whsec_... node infra/examples/webhook_receiver.js [port]
const crypto = require("crypto");
const http = require("http");

function verify(secret, header, body, tolerance = 300) {
  const parts = header.split(",").map((part) => part.split("=", 2));
  const t = (parts.find(([name]) => name === "t") || [])[1];
  const signatures = parts.filter(([name]) => name === "v1").map(([, value]) => value); // two during a secret rotation
  const expected = crypto.createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  return signatures.some((v1) => v1 && expected.length === v1.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(v1)))
    && Math.abs(Date.now() / 1000 - Number(t)) <= tolerance;
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (!verify(process.env.WEBHOOK_SECRET, req.headers["x-billing-signature"] || "t=0,v1=", body)) {
      res.writeHead(400).end();
      return;
    }
    const event = JSON.parse(body);
    const data = event.data; // the payout intent; for webhook.test, {webhook_id, message}
    console.log(event.type, event.event_id, data.id || data.webhook_id, data.status || "-");
    res.writeHead(200).end();
  });
}).listen(Number(process.argv[2] || 9000), "127.0.0.1");
