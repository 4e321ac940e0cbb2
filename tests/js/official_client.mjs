// The official Socket.IO JavaScript client (npm socket.io-client, pinned in package.json) against
// a running Seminar server. Run by tests/server/live/test_official_js_client.py:
//
//   node official_client.mjs <base url> <ticket A> <ticket B>
//
// A and B connect to /live with their join tickets over WebSocket, both `join`, A sends a chat
// message and B receives its broadcast, then B answers and A receives that; a reused ticket is
// refused with the problem in err.data. Prints one JSON object (what happened) on stdout; the
// Python test checks it. Exits non-zero on any failure or after 20 s.

import { io } from "socket.io-client";

const [url, ticketA, ticketB] = process.argv.slice(2);
if (!url || !ticketA || !ticketB) {
  console.error("usage: node official_client.mjs <base url> <ticket A> <ticket B>");
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.error("timed out after 20 s");
  process.exit(3);
}, 20_000);

function connect(ticket) {
  const socket = io(`${url}/live`, {
    auth: { ticket },
    transports: ["websocket"],
    reconnection: false,
    timeout: 5000,
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** The next `event` the socket receives. */
function next(socket, event) {
  return new Promise((resolve) => socket.once(event, resolve));
}

async function call(socket, event, data) {
  const ack = data === undefined
    ? await socket.timeout(5000).emitWithAck(event)
    : await socket.timeout(5000).emitWithAck(event, data);
  return ack;
}

const result = {};
const a = await connect(ticketA);
const b = await connect(ticketB);
result.transport = a.io.engine.transport.name;

const joinA = await call(a, "join");
const joinB = await call(b, "join");
result.join_ok = [joinA.ok, joinB.ok];
result.you = [joinA.data.you.user_id, joinB.data.you.user_id];
result.participants_seen_by_b = joinB.data.participants.map((p) => p.user_id).sort();

const atB = next(b, "chat:message");
result.ack_a = await call(a, "chat:send", { body: "hello from the JS client", client_id: "js-a-1" });
result.received_b = await atB;

const atA = next(a, "chat:message");
result.ack_b = await call(b, "chat:send", { body: "and back", client_id: "js-b-1" });
result.received_a = await atA;

// A resend with the same client_id answers the stored message and broadcasts nothing.
result.resend_a = await call(a, "chat:send", { body: "hello from the JS client", client_id: "js-a-1" });
result.history_b = await call(b, "chat:history", { after_seq: 0 });
result.bad_payload = await call(a, "chat:send", { body: 42, client_id: "x" });

// The ticket was single use.
try {
  const again = await connect(ticketA);
  again.close();
  result.reused_ticket = "accepted";
} catch (err) {
  result.reused_ticket = { message: err.message, data: err.data };
}

a.close();
b.close();
clearTimeout(watchdog);
process.stdout.write(`${JSON.stringify(result)}\n`);
