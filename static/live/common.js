// What the parts of the live room (static/live-room.js) share: element lookup, the messages
// region, client ids for sends, and the problems after which a send is kept and resent.

export const $ = (id) => document.getElementById(id);

export const messages = $("messages");

// A send that met one of these stays pending and goes again after the next sync.
export const RETRYABLE = new Set(["offline", "timeout", "rate_limited", "database_unavailable"]);

/** A random client id (chat `client_id`, whiteboard `client_op_id`): the server stores once. */
export function newId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
