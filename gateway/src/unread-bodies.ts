import type { createHttpApp } from '@bilten/platform';

/**
 * Lets a client that is still uploading read the answer to a body refused unread.
 *
 * Fastify refuses a body over `bodyLimit` (413) or of an unknown type (415) before reading it, and
 * answers with `Connection: close`; Node then destroys the socket as soon as the answer is written.
 * A client still sending (a 2 MB POST from another process is) gets a reset (EPIPE, ECONNRESET)
 * that often arrives before it has read the 413: Node's fetch rejects, `http.request` emits an error.
 *
 * Instead, as nginx and Apache do (RFC 9112 §9.6), the answer goes out at once on a connection kept
 * alive: Node reads the rest of the body and discards it, and the connection serves the client's
 * next request. A body that has not ended `graceMs` after the answer costs its connection.
 */
export function answerBodiesRefusedUnread(app: ReturnType<typeof createHttpApp>, graceMs: number): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.raw.complete && reply.getHeader('connection') === 'close') reply.removeHeader('connection');
    return payload;
  });
  app.addHook('onResponse', async (request) => {
    const { raw } = request;
    const socket = raw.socket;
    // An injected request (the account pages run their mutation in-process) has only a stand-in
    // socket, which cannot be cut (and once crashed the gateway `graceMs` after every page POST).
    if (raw.complete || typeof socket?.destroy !== 'function') return;
    const cut = setTimeout(() => socket.destroy(), graceMs).unref();
    const settled = () => {
      clearTimeout(cut);
      raw.off('end', settled);
      socket.off('close', settled);
    };
    raw.on('end', settled);
    socket.on('close', settled);
  });
}
