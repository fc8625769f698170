/**
 * `JSON.stringify(value, null, 2) + "\n"` of an object as pieces, one per element of its array
 * property `key`: the same text, without ever holding all of it as one string (a 10,000-task
 * summary is ~4 MB of text, and twice that while being written). `value[key]` must be an array.
 */
export function* jsonPiecesByElement(value: Record<string, unknown>, key: string): Generator<string> {
  const list = value[key];
  if (!Array.isArray(list)) throw new TypeError(`jsonPiecesByElement: ${key} is not an array`);
  const marker = `\u0000${key}\u0000`;
  const outline = JSON.stringify({ ...value, [key]: marker }, null, 2);
  const quoted = JSON.stringify(marker);
  const at = outline.indexOf(quoted);
  if (at < 0) throw new Error(`jsonPiecesByElement: ${key} not found`);
  if (list.length === 0) {
    yield outline.slice(0, at) + "[]" + outline.slice(at + quoted.length) + "\n";
    return;
  }
  yield outline.slice(0, at) + "[";
  for (let i = 0; i < list.length; i++) {
    // Elements sit at depth 2 (4 spaces); newlines inside strings are escaped, so every raw
    // newline of an element's text is structure and takes the extra indent.
    const text = JSON.stringify(list[i] === undefined ? null : list[i], null, 2).replace(/\n/g, "\n    ");
    yield `${i === 0 ? "" : ","}\n    ${text}`;
  }
  yield "\n  ]" + outline.slice(at + quoted.length) + "\n";
}
