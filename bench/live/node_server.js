// The Node socket.io baseline for bench/live_broadcast.py: the same namespace (/live) and the
// same chat:send -> chat:message re-broadcast as Seminar, without the database.
//
// Every socket joins one room on connect (the auth payload is accepted as is: the driver sends
// Seminar's join tickets to both servers). `chat:send {body, client_id}` is answered with
// Seminar's ack shape and broadcast to the room except the sender as a message of Seminar's
// shape (seq, id, user_id, body, client_id, created_at), so the bytes on the wire match.
//
// Options: --port N, --redis URL (@socket.io/redis-adapter, classic pub/sub: the Node x2 case).
'use strict';
const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');

const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const port = parseInt(arg('--port', '8000'), 10);
const redisUrl = arg('--redis', null);
const channel = arg('--channel', 'seminar-bench-node');

async function main() {
  const srv = http.createServer();
  // socket.io's defaults (perMessageDeflate off, as Seminar's driver does not offer it).
  const io = new Server(srv, { maxHttpBufferSize: 256 * 1024 });
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: channel })); // before io.of('/live') below
  }
  const live = io.of('/live');
  const userId = crypto.randomUUID();
  let seq = 0;
  live.on('connection', (socket) => {
    socket.join('room');
    socket.on('chat:send', (payload, ack) => {
      const body = payload && typeof payload.body === 'string' ? payload.body : '';
      seq += 1;
      const message = {
        seq,
        id: crypto.randomUUID(),
        user_id: userId,
        body,
        client_id: payload && payload.client_id,
        created_at: new Date().toISOString(),
      };
      socket.to('room').emit('chat:message', message);
      if (typeof ack === 'function') ack({ ok: true, data: message });
    });
  });
  srv.listen(port, '127.0.0.1', () =>
    console.log(`READY pid=${process.pid} node=${process.version} redis=${!!redisUrl}`));
}
main();
