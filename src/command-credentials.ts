/**
 * ioredis puts the failed command on its errors (`error.command = { name, args }`), and a failed
 * connection's HELLO or AUTH carries the password there: `['3', 'AUTH', 'metrics', '<password>']`.
 * Anything that prints the error with its cause (console.error, util.inspect, a JSON logger) would
 * print the password.
 */
const REDACTED = '***';

/**
 * Replaces the password among the arguments of a failed HELLO or AUTH on `error` by `***`, and on the
 * errors it holds: its `cause`, and a Cluster client's `lastNodeError` (ioredis' "Failed to refresh
 * slots cache" keeps there the node's refusal of its AUTH).
 */
export function hideCommandCredentials(error: unknown): void {
  const seen = new Set<object>();
  let held: unknown[] = [error];
  // ioredis and this module nest errors a few levels deep at most; `seen` ends a cycle.
  for (let depth = 0; depth < 4 && held.length > 0; depth++) {
    const next: unknown[] = [];
    for (const each of held) {
      if (each === null || typeof each !== 'object' || seen.has(each)) continue;
      seen.add(each);
      hideOwnCommandCredentials(each);
      const { cause, lastNodeError } = each as { cause?: unknown; lastNodeError?: unknown };
      next.push(cause, lastNodeError);
    }
    held = next;
  }
}

function hideOwnCommandCredentials(error: object): void {
  const command = (error as { command?: { name?: unknown; args?: unknown } }).command;
  if (!command || !Array.isArray(command.args)) return;
  const args: unknown[] = command.args;
  const name = String(command.name).toLowerCase();
  let password: number;
  if (name === 'auth') {
    // AUTH [username] password
    password = args.length - 1;
  } else if (name === 'hello') {
    // HELLO protover AUTH username password [SETNAME clientname]
    const auth = args.findIndex((arg) => String(arg).toUpperCase() === 'AUTH');
    if (auth < 0) return;
    password = auth + 2;
  } else {
    return;
  }
  // A new array: ioredis' error shares its arguments with the command it sent.
  const hidden = args.map((arg, index) => (index === password ? REDACTED : arg));
  (error as { command: unknown }).command = { ...command, args: hidden };
}
