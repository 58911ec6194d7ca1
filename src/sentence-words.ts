/** Words a setting from the environment or a config file may spell `true` with (lower-cased). */
export const TRUE_WORDS: ReadonlySet<string> = new Set(['1', 'true', 'yes', 'on']);

/** Words it may spell `false` with (lower-cased). */
export const FALSE_WORDS: ReadonlySet<string> = new Set(['0', 'false', 'no', 'off']);

/** Names as a sentence lists them: `host`, `host and port`, `host, port and db`. */
export function listedNames(names: readonly string[]): string {
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
