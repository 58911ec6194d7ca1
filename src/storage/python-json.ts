/**
 * Serialises strings, arrays and plain objects exactly as Python's `json.dumps(value, sort_keys=True)`
 * does with its defaults: `", "` and `": "` separators, keys sorted, and every character outside
 * printable ASCII escaped as `\uXXXX`. Used where a string must match the Python original byte for byte.
 */
export function pythonJsonDumps(value: PythonJsonValue): string {
  if (typeof value === 'string') return pythonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const fields = Object.keys(value)
    .sort()
    .map((key) => `${pythonString(key)}: ${pythonJsonDumps(value[key])}`);
  return `{${fields.join(', ')}}`;
}

/** What {@link pythonJsonDumps} accepts. */
export type PythonJsonValue = string | PythonJsonValue[] | { [key: string]: PythonJsonValue };

function pythonString(text: string): string {
  // JSON.stringify already escapes quotes, backslashes and control characters as Python does;
  // Python's ensure_ascii also escapes DEL and everything above it, one UTF-16 unit at a time.
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
