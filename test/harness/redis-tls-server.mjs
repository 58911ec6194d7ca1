// @ts-check
// A redis-server that speaks TLS only, with certificates from tls-certificates.mjs.
import { readFileSync } from 'node:fs';

import { makeTempDir, removeTempDir, startRedisProcess } from './redis-processes.mjs';
import { freePort } from './redis-server.mjs';

/**
 * @typedef {object} TlsRedisServer
 * @property {string} host
 * @property {number} port the TLS port (there is no plain one)
 * @property {string} url `rediss://127.0.0.1:<port>`
 * @property {import('./redis-processes.mjs').RedisProcess} process
 * @property {() => Promise<void>} stop kills it and deletes its temp dir
 */

/**
 * Starts `redis-server --port 0 --tls-port P` presenting the server certificate (or, with
 * `certificate: 'mismatched'`, the one made out to another name). `clientCertificates` is Redis'
 * `tls-auth-clients`: `no` (default), `optional` or `yes`; client certificates must be signed by the
 * test CA.
 * @param {{
 *   certificates: import('./tls-certificates.mjs').TestCertificates,
 *   certificate?: 'valid' | 'mismatched',
 *   clientCertificates?: 'no' | 'optional' | 'yes',
 * }} options
 * @returns {Promise<TlsRedisServer>}
 */
export async function startTlsRedis({
  certificates,
  certificate = 'valid',
  clientCertificates = 'no',
}) {
  const dir = await makeTempDir('tls-server');
  const [certFile, keyFile] =
    certificate === 'valid'
      ? [certificates.serverCertFile, certificates.serverKeyFile]
      : [certificates.mismatchedCertFile, certificates.mismatchedKeyFile];
  // The harness reaches it as a client would, with the test CA (and a client certificate if asked for).
  const tls = {
    ca: readFileSync(certificates.caFile),
    cert: readFileSync(certificates.clientCertFile),
    key: readFileSync(certificates.clientKeyFile),
    servername: certificate === 'valid' ? 'localhost' : 'wrong.example',
  };
  try {
    const process = await startRedisProcess({
      dir,
      port: await freePort(),
      tls,
      args: (port) => [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--logfile',
        `${dir}/redis-${port}.log`,
        '--tls-cert-file',
        certFile,
        '--tls-key-file',
        keyFile,
        '--tls-ca-cert-file',
        certificates.caFile,
        '--tls-auth-clients',
        clientCertificates,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
    });
    return {
      host: '127.0.0.1',
      port: process.port,
      url: `rediss://127.0.0.1:${process.port}`,
      process,
      async stop() {
        await process.kill();
        await removeTempDir(dir);
      },
    };
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
}
