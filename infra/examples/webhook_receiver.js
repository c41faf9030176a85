// A minimal webhook receiver that verifies payouts' signature (billing.io scheme).
//   WEBHOOK_SECRET=whsec_... node infra/examples/webhook_receiver.js [port]
const crypto = require("crypto");
const http = require("http");

function verify(secret, header, body, tolerance = 300) {
  const { t, v1 } = Object.fromEntries(header.split(",").map((part) => part.split("=", 2)));
  const expected = crypto.createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  return v1 && expected.length === v1.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(v1))
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
    console.log(event.type, event.event_id, event.data.id, event.data.status);
    res.writeHead(200).end();
  });
}).listen(Number(process.argv[2] || 9000), "127.0.0.1");
