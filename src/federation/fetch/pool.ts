import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";

/**
 * How long an idle connection is kept. Shorter than the keep-alive timeout of the servers we talk to (Node's
 * default is 5 s, nginx's 75 s), so we are the side that closes; a server's shorter `Keep-Alive: timeout=`
 * hint wins.
 */
const IDLE_MS = 2_000;

/**
 * Idle connections kept per client, over all hosts. A fan-out works through a host's jobs one after another
 * (enqueue orders them by host), so a handful is enough to reuse a connection for each host's next job,
 * while a thousand hosts in turn never hold a thousand sockets.
 */
const MAX_IDLE = 16;

/** The kept-alive connections of one outbound client: an agent for http and one for https. */
export interface ConnectionPool {
  http: http.Agent;
  https: https.Agent;
}

export function createConnectionPool(): ConnectionPool {
  return {
    http: bounded(new http.Agent({ keepAlive: true, timeout: IDLE_MS, scheduling: "lifo" })),
    https: bounded(new https.Agent({ keepAlive: true, timeout: IDLE_MS, scheduling: "lifo" })),
  };
}

/**
 * Caps the agent's idle sockets over all hosts at MAX_IDLE, closing the least recently used first (Node's
 * agent caps them per host only). Sockets are keyed by host and port: a kept socket stays connected to the
 * address that was checked when it was opened.
 */
function bounded<A extends http.Agent>(agent: A): A {
  const idle = new Set<Duplex>();
  // Node's agent returns whether it keeps the socket (its typings say void).
  const keep = agent.keepSocketAlive.bind(agent) as unknown as (socket: Duplex) => boolean;
  const reuse = agent.reuseSocket.bind(agent);
  const keepBounded = (socket: Duplex): boolean => {
    if (!keep(socket)) return false;
    idle.delete(socket);
    idle.add(socket);
    for (const s of idle) if (s.destroyed) idle.delete(s);
    while (idle.size > MAX_IDLE) {
      const oldest = idle.values().next().value as Duplex;
      idle.delete(oldest);
      oldest.destroy();
    }
    return true;
  };
  agent.keepSocketAlive = keepBounded as unknown as http.Agent["keepSocketAlive"];
  agent.reuseSocket = (socket, req) => {
    idle.delete(socket);
    reuse(socket, req);
  };
  return agent;
}
