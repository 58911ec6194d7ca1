import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

import type { RedisMetricsOptions } from './redis-metrics.options.js';

const WHY_UNREADABLE: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/**
 * What is wrong with a TLS file: `undefined` when it is a readable PEM file, else a problem that names
 * the path (never the content: a key file is a secret).
 */
export function checkPemFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return `cannot be read: ${path} (${WHY_UNREADABLE[code] ?? code})`;
  }
  if (!text.includes('-----BEGIN ')) {
    return `is not a PEM file (no "-----BEGIN" line): ${path}`;
  }
  return undefined;
}

/**
 * What is wrong with a client key file beyond {@link checkPemFile}: a key encrypted with a passphrase
 * (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional key with `Proc-Type: 4,ENCRYPTED`). The module
 * takes no passphrase, and Node fails every TLS connection with it with "bad decrypt", which names
 * neither the file nor the cause.
 */
export function checkKeyFile(path: string): string | undefined {
  const problem = checkPemFile(path);
  if (problem !== undefined) return problem;
  const text = readFileSync(path, 'utf8');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    return `holds a private key encrypted with a passphrase, which the module cannot take: ${path} (write it out unencrypted, e.g. with openssl pkey, readable by the app only)`;
  }
  return undefined;
}

/**
 * Whether the key file holds the private key of the certificate file's (first) certificate: `false`
 * when both can be read and they are not a pair, which Node reports on every TLS connection as "key
 * values mismatch" (naming neither file) and after which ioredis closes the client for good. A file
 * Node cannot read is left to the connection to report.
 */
export function keyMatchesCertificate(certPath: string, keyPath: string): boolean {
  let certificate: X509Certificate;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    certificate = new X509Certificate(readFileSync(certPath));
    key = createPrivateKey(readFileSync(keyPath));
  } catch {
    return true;
  }
  return certificate.checkPrivateKey(key);
}

/**
 * Node's TLS options for the module's client: the CA, client certificate and key read from their
 * files, and the server name. Read when the client is made, so a renewed file is picked up on restart.
 */
export function tlsConnectionOptions(options: RedisMetricsOptions): ConnectionOptions {
  const tls: ConnectionOptions = {};
  if (options.tlsCaFile !== undefined) tls.ca = readFileSync(options.tlsCaFile);
  if (options.tlsCertFile !== undefined) tls.cert = readFileSync(options.tlsCertFile);
  if (options.tlsKeyFile !== undefined) tls.key = readFileSync(options.tlsKeyFile);
  if (options.tlsServername !== undefined) tls.servername = options.tlsServername;
  return tls;
}
