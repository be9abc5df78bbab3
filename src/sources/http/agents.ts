import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { guardedLookup, isPrivateAddress, UrlRefusedError } from '../ssrf.js';

/** A connection took longer than the connect timeout (DNS + TCP handshake). */
export class ConnectTimeoutError extends Error {
  readonly code = 'CP_CONNECT_TIMEOUT';
  constructor(host: string, ms: number) {
    super(`could not connect to ${host} within ${ms} ms`);
  }
}

export interface GuardedAgents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
  destroy(): void;
}

type ConnectCallback = (err: Error | null, socket?: Duplex) => void;

/**
 * Every socket goes through createConnection, so this is the one place that sees the address actually dialled:
 * hostnames are resolved by the guarded lookup, literal IPs (which skip lookup) are checked here, and the connect
 * phase gets its own wall-clock timer (socket idle timeouts do not cover a SYN that is never answered).
 */
function guard<T extends http.Agent>(agent: T, allowPrivate: boolean, connectTimeoutMs: number, isPrivate: (ip: string) => boolean): T {
  const lookup = guardedLookup(allowPrivate, isPrivate);
  const original = (agent as unknown as { createConnection: (o: net.NetConnectOpts, cb: ConnectCallback) => net.Socket })
    .createConnection;
  (agent as unknown as { createConnection: unknown }).createConnection = function (
    this: T,
    options: net.TcpNetConnectOpts,
    callback: ConnectCallback,
  ): net.Socket | undefined {
    const host = String(options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    if (!allowPrivate && net.isIP(host) !== 0 && isPrivate(host)) {
      callback(new UrlRefusedError('private-address', `refused to connect to ${host}: not a public address; set http.allowPrivateAddresses to allow it`, host));
      return undefined;
    }
    const socket = original.call(this, { ...options, lookup }, callback);
    const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(host, connectTimeoutMs)), connectTimeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('secureConnect', clear);
    socket.once('close', clear);
    return socket;
  };
  return agent;
}

/** http and https agents that refuse non-public addresses (unless allowed) and time out slow connects. */
export function createGuardedAgents(opts: {
  allowPrivateAddresses: boolean;
  connectTimeoutMs: number;
  /** Which addresses count as non-public; defaults to isPrivateAddress. */
  isPrivate?: (ip: string) => boolean;
  /** Close a kept-alive socket idle this long (default: when the server closes it). */
  idleSocketMs?: number;
}): GuardedAgents {
  const isPrivate = opts.isPrivate ?? isPrivateAddress;
  const options = { keepAlive: true, maxSockets: 16, ...(opts.idleSocketMs ? { timeout: opts.idleSocketMs } : {}) };
  const httpAgent = guard(new http.Agent(options), opts.allowPrivateAddresses, opts.connectTimeoutMs, isPrivate);
  const httpsAgent = guard(new https.Agent(options), opts.allowPrivateAddresses, opts.connectTimeoutMs, isPrivate);
  return {
    httpAgent,
    httpsAgent,
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
