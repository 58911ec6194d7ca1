import type { Cluster, Redis } from 'ioredis';

type Client = Redis | Cluster;
type SendCommand = (command: { name: string; args: unknown[] }, ...rest: unknown[]) => unknown;

/**
 * Runs `fault` once the first HSCAN call of `key` has answered, before that answer reaches the caller:
 * the scan's later calls are sent after the fault. Only HSCAN: a script given the key too (the read
 * head) would move the whole scan to the other server, which reads it whole.
 */
export function faultAfterFirstScan(
  client: Client,
  key: string,
  fault: () => Promise<void>,
): { fired: () => boolean } {
  const target = client as unknown as { sendCommand: SendCommand };
  const send = target.sendCommand.bind(client) as SendCommand;
  let armed = true;
  target.sendCommand = (command, ...rest) => {
    const reply = send(command, ...rest);
    if (!armed || command.name !== 'hscan' || String(command.args[0]) !== key) return reply;
    armed = false;
    return (reply as Promise<unknown>).then(async (value) => {
      await fault();
      return value;
    });
  };
  return { fired: () => !armed };
}
