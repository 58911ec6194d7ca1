// @ts-check
// One Redis command over a fresh socket, for the harness's readiness and topology checks. An ioredis
// client would leave reconnect timers behind and hide what the server said; this says it plainly.
import { Buffer } from 'node:buffer';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * A reply of Redis: a string (simple or bulk), a number, null, an array of replies, or an Error for an
 * error reply.
 * @typedef {string | number | null | Error | RespArray} RespReply
 */
/** @typedef {Array<RespReply>} RespArray */

/**
 * Where to send a command.
 * @typedef {object} RespTarget
 * @property {number} port
 * @property {string} [host] default 127.0.0.1
 * @property {import('node:tls').ConnectionOptions} [tls] connect with TLS, with these options
 * @property {string} [password] sent with AUTH first (with `username`, if given)
 * @property {string} [username]
 * @property {number} [timeoutMs] default 2000
 */

/**
 * Sends one command and resolves with the reply. Rejects when the socket fails or the server does not
 * answer within the timeout; an error reply resolves as an `Error` value, so callers polling a server
 * can tell "not ready" from "not there".
 * @param {RespTarget} target
 * @param {...(string | number)} args
 * @returns {Promise<RespReply>}
 */
export async function respCall(target, ...args) {
  const commands = [];
  if (target.password !== undefined) {
    commands.push(
      target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password],
    );
  }
  commands.push(args.map(String));
  const replies = await exchange(target, commands);
  const auth = target.password !== undefined ? replies[0] : undefined;
  if (auth instanceof Error) throw new Error(`AUTH failed at port ${target.port}: ${auth.message}`);
  return replies[replies.length - 1];
}

/**
 * @param {RespTarget} target
 * @param {string[][]} commands
 * @returns {Promise<RespReply[]>}
 */
function exchange(target, commands) {
  const host = target.host ?? '127.0.0.1';
  const timeoutMs = target.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const socket = target.tls
      ? connectTls({ host, port: target.port, ...target.tls })
      : connectTcp(target.port, host);
    let buffer = Buffer.alloc(0);
    /** @type {RespReply[]} */
    const replies = [];
    const fail = (/** @type {Error} */ error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(new Error(`no answer from ${host}:${target.port} within ${timeoutMs} ms`)),
    );
    socket.on('error', fail);
    socket.once(target.tls ? 'secureConnect' : 'connect', () =>
      socket.write(commands.map(encodeCommand).join('')),
    );
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseReply(buffer, 0);
        if (!parsed) break;
        replies.push(parsed.reply);
        buffer = buffer.subarray(parsed.next);
      }
      if (replies.length === commands.length) {
        socket.destroy();
        resolve(replies);
      }
    });
    socket.once('close', () => fail(new Error(`${host}:${target.port} closed the connection`)));
  });
}

/** @param {string[]} args */
function encodeCommand(args) {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/**
 * Parses one RESP2 reply at `start`; undefined when the buffer does not hold all of it yet.
 * @param {Buffer} buffer
 * @param {number} start
 * @returns {{ reply: RespReply, next: number } | undefined}
 */
function parseReply(buffer, start) {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[start]);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, next: afterLine };
    case '-':
      return { reply: new Error(line), next: afterLine };
    case ':':
      return { reply: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return {
        reply: buffer.toString('utf8', afterLine, afterLine + length),
        next: afterLine + length + 2,
      };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, next: afterLine };
      /** @type {RespReply[]} */
      const items = [];
      let next = afterLine;
      for (let i = 0; i < count; i += 1) {
        const item = parseReply(buffer, next);
        if (!item) return undefined;
        items.push(item.reply);
        next = item.next;
      }
      return { reply: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

/**
 * `INFO`-style text (`key:value` lines) as an object.
 * @param {RespReply} reply
 * @returns {Record<string, string>}
 */
export function parseInfo(reply) {
  if (typeof reply !== 'string') throw new Error(`expected INFO text, got ${String(reply)}`);
  /** @type {Record<string, string>} */
  const fields = {};
  for (const line of reply.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}
