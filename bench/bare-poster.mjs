// The fan-out baseline: what signing and POSTing one activity to every inbox costs with nothing else, as a
// child of bench/fanout.mjs. It waits for a "go" message ({ inboxes, body, privatePem, keyId, concurrency,
// perHost }), then signs each POST as Wren does (draft-cavage rsa-sha256 over (request-target), host, date,
// digest and content-type; the key parsed once) and sends them over kept-alive connections, at most
// `concurrency` at once and `perHost` per host, the same limits Wren's delivery worker has. It answers
// "sent" with the statuses it got.
import { createHash, createPrivateKey, sign } from "node:crypto";
import { Agent, request } from "node:http";

process.on("message", async (message) => {
  if (message.type !== "go") return;
  const { inboxes, body, privatePem, keyId, concurrency, perHost } = message;
  const key = createPrivateKey(privatePem);
  const agent = new Agent({ keepAlive: true, maxSockets: perHost });
  const digest = `SHA-256=${createHash("sha256").update(body).digest("base64")}`;
  const statuses = {};
  const active = new Map();
  const waiting = inboxes.map((inbox) => new URL(inbox));

  /** The next inbox whose host has a free slot, taken out of the list. */
  const take = () => {
    for (let i = 0; i < waiting.length; i++) {
      if ((active.get(waiting[i].host) ?? 0) < perHost) return waiting.splice(i, 1)[0];
    }
    return null;
  };

  await new Promise((resolve) => {
    let running = 0;
    const pump = () => {
      while (running < concurrency) {
        const url = take();
        if (!url) break;
        running++;
        active.set(url.host, (active.get(url.host) ?? 0) + 1);
        post(url).then((status) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          running--;
          active.set(url.host, active.get(url.host) - 1);
          if (running === 0 && waiting.length === 0) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  agent.destroy();
  process.send({ type: "sent", statuses });

  function post(url) {
    const date = new Date().toUTCString();
    const headers = {
      host: url.host,
      date,
      digest,
      "content-type": "application/activity+json",
    };
    const signingString = [
      `(request-target): post ${url.pathname}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ].join("\n");
    const signature = sign("sha256", Buffer.from(signingString), key).toString("base64");
    headers.signature = `keyId="${keyId}",algorithm="rsa-sha256",headers="(request-target) host date digest content-type",signature="${signature}"`;
    headers["content-length"] = String(Buffer.byteLength(body));
    return new Promise((resolve) => {
      const req = request(url, { method: "POST", agent, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", () => resolve("error"));
      req.end(body);
    });
  }
});
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready" });
