import { parseTree, printParseErrorCode, type Node, type ParseError } from "jsonc-parser";

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as written by `manifest init`, read with
 * Microsoft's jsonc-parser (VS Code's). Errors carry a line and column, and duplicate keys are
 * reported instead of silently overwritten.
 */
export type JsoncResult =
  | { ok: true; value: unknown }
  | { ok: false; message: string; line: number; column: number };

/** What each of jsonc-parser's error codes means, in the words of our problem messages. */
const MESSAGES: Record<string, string> = {
  InvalidSymbol: "unexpected",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "expected a quoted key, found",
  ValueExpected: "expected a value, found",
  ColonExpected: 'expected ":" after a key, found',
  CommaExpected: 'expected "," between values, found',
  CloseBraceExpected: 'expected "," or "}" in an object, found',
  CloseBracketExpected: 'expected "," or "]" in an array, found',
  EndOfFileExpected: "expected the end of the document, found",
  InvalidCommentToken: "invalid comment",
  UnexpectedEndOfComment: "unterminated /* comment",
  UnexpectedEndOfString: "unterminated string",
  UnexpectedEndOfNumber: "invalid number",
  InvalidUnicode: "invalid \\u escape in a string",
  InvalidEscapeCharacter: "invalid escape in a string",
  InvalidCharacter: "control character in a string",
};

/** Parse JSONC; the first syntax error or duplicate key is returned with its line and column. */
export function parseJsonc(source: string): JsoncResult {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const first = errors[0];
  if (first) return failure(text, first.offset, describeError(text, first));
  if (!root) return failure(text, 0, "expected a value, found end of input");
  const duplicate = findDuplicateKey(root);
  if (duplicate) return failure(text, duplicate.offset, `duplicate key ${JSON.stringify(duplicate.value)}`);
  // A number beyond a double (1e999) would become Infinity and then show as null: quote it as written.
  const huge = findHugeNumber(root);
  if (huge) return failure(text, huge.offset, `number ${text.slice(huge.offset, huge.offset + huge.length)} is too large (the largest is about 1.8e308)`);
  return { ok: true, value: nodeValue(root) };
}

/** The first number, in document order, that is not finite. */
function findHugeNumber(node: Node): Node | null {
  if (node.type === "number") return Number.isFinite(node.value) ? null : node;
  for (const child of node.children ?? []) {
    const found = findHugeNumber(child);
    if (found) return found;
  }
  return null;
}

function failure(text: string, offset: number, message: string): JsoncResult {
  return { ok: false, message, ...lineColumn(text, offset) };
}

function describeError(text: string, e: ParseError): string {
  const name = printParseErrorCode(e.error);
  const message = MESSAGES[name] ?? name;
  if (!message.endsWith("found") && message !== "unexpected") return message;
  return `${message} ${e.offset >= text.length ? "end of input" : `character ${JSON.stringify(text[e.offset])}`}`;
}

/** The first key, in document order, that repeats an earlier key of its object. */
function findDuplicateKey(node: Node): Node | null {
  const seen = node.type === "object" ? new Set<string>() : null;
  for (const child of node.children ?? []) {
    const key = seen ? child.children?.[0] : undefined;
    if (seen && key) {
      if (seen.has(key.value as string)) return key;
      seen.add(key.value as string);
    }
    const found = findDuplicateKey(seen ? (child.children?.[1] ?? child) : child);
    if (found) return found;
  }
  return null;
}

/** The value of a parse tree; a "__proto__" key stays a plain data property (defineProperty). */
function nodeValue(node: Node): unknown {
  if (node.type === "array") return (node.children ?? []).map(nodeValue);
  if (node.type !== "object") return node.value;
  const out: Record<string, unknown> = {};
  for (const property of node.children ?? []) {
    const [key, value] = property.children ?? [];
    if (!key || !value) continue;
    Object.defineProperty(out, key.value as string, { value: nodeValue(value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
