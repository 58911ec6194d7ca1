// @ts-check
// Certificates for the TLS tests, made with openssl at test time (EC P-256 keys: about 0.1 s in all).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

import { makeTempDir, removeTempDir } from './redis-processes.mjs';

const run = promisify(execFile);

/**
 * PEM files in a temp dir.
 * @typedef {object} TestCertificates
 * @property {string} dir
 * @property {string} caFile the CA that signed every certificate below
 * @property {string} serverCertFile a server certificate for `localhost` and `127.0.0.1`
 * @property {string} serverKeyFile
 * @property {string} mismatchedCertFile a server certificate of the same CA for `wrong.example` only
 * @property {string} mismatchedKeyFile
 * @property {string} clientCertFile a client certificate of the same CA (`CN=metrics-client`)
 * @property {string} clientKeyFile
 * @property {string} untrustedCaFile a second CA that signed nothing the servers present
 * @property {() => Promise<void>} remove deletes the dir
 */

/**
 * Makes a CA, server, mismatched-name and client certificates signed by it, and a second CA.
 * @returns {Promise<TestCertificates>}
 */
export async function makeTestCertificates() {
  const dir = await makeTempDir('tls');
  const file = (/** @type {string} */ name) => `${dir}/${name}`;
  try {
    await Promise.all([
      makeCa(file('ca'), 'test CA'),
      makeCa(file('untrusted-ca'), 'untrusted test CA'),
    ]);
    await Promise.all([
      makeSigned(file('ca'), file('server'), '/CN=localhost', 'DNS:localhost,IP:127.0.0.1'),
      makeSigned(file('ca'), file('mismatched'), '/CN=wrong.example', 'DNS:wrong.example'),
      makeSigned(file('ca'), file('client'), '/CN=metrics-client'),
    ]);
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
  return {
    dir,
    caFile: file('ca.crt'),
    serverCertFile: file('server.crt'),
    serverKeyFile: file('server.key'),
    mismatchedCertFile: file('mismatched.crt'),
    mismatchedKeyFile: file('mismatched.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    untrustedCaFile: file('untrusted-ca.crt'),
    remove: () => removeTempDir(dir),
  };
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * @param {string} base path without extension
 * @param {string} name
 */
async function makeCa(base, name) {
  await run('openssl', [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=nestjs-redis-metrics ${name}`,
  ]);
}

/**
 * @param {string} ca path of the CA without extension
 * @param {string} base path of the new certificate without extension
 * @param {string} subject
 * @param {string} [altNames] subjectAltName value, e.g. `DNS:localhost,IP:127.0.0.1`
 */
async function makeSigned(ca, base, subject, altNames) {
  await run('openssl', [
    'req',
    ...EC_KEY,
    '-keyout',
    `${base}.key`,
    '-out',
    `${base}.csr`,
    '-subj',
    subject,
  ]);
  const extensions = altNames ? [`subjectAltName=${altNames}`] : [];
  await writeFile(`${base}.ext`, `${extensions.join('\n')}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-out',
    `${base}.crt`,
    '-days',
    '2',
    '-extfile',
    `${base}.ext`,
  ]);
}
