import { hideCommandCredentials } from '../../src/command-credentials.js';

// The forms of ioredis' handshake whose failure carries a password on the error's `command`: HELLO
// with AUTH (RESP3), and AUTH alone (the RESP2 fallback for a server without HELLO).

function failed(name: string, args: unknown[]): { command: { name: string; args: unknown[] } } {
  return { command: { name, args } };
}

describe('hideCommandCredentials', () => {
  it.each([
    ['hello', ['3', 'AUTH', 'metrics', 'pw'], ['3', 'AUTH', 'metrics', '***']],
    [
      'hello',
      ['3', 'AUTH', 'default', 'pw', 'SETNAME', 'app'],
      ['3', 'AUTH', 'default', '***', 'SETNAME', 'app'],
    ],
    ['hello', ['3'], ['3']],
    ['auth', ['pw'], ['***']],
    ['auth', ['metrics', 'pw'], ['metrics', '***']],
    ['evalsha', ['abc', '1', 'key', 'pw-like-value'], ['abc', '1', 'key', 'pw-like-value']],
  ])('%s %j carries %j', (name, args, shown) => {
    const error = failed(name, args);
    const sent = error.command.args;
    hideCommandCredentials(error);
    expect(error.command).toEqual({ name, args: shown });
    // The command ioredis sent keeps its own arguments (a reconnection takes them from its options).
    expect(sent).toEqual(args);
  });

  it("hides it on the errors an error holds: a Cluster's lastNodeError, a cause, even in a cycle", () => {
    const refused = failed('auth', ['pw']);
    const slots = Object.assign(new Error('Failed to refresh slots cache.'), {
      lastNodeError: refused,
    });
    const explained = new Error('WRONGPASS: ...', { cause: slots });
    Object.assign(refused, { cause: explained });
    hideCommandCredentials(explained);
    expect(refused.command).toEqual({ name: 'auth', args: ['***'] });
  });

  it('leaves anything without a command alone', () => {
    for (const value of [undefined, null, 'text', new Error('WRONGPASS'), { command: 'auth' }]) {
      expect(() => hideCommandCredentials(value)).not.toThrow();
    }
  });
});
