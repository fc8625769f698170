/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as written by `manifest init`.
 * A small recursive-descent parser so that errors carry a line and column, and duplicate keys
 * are reported instead of silently overwritten.
 */
export type JsoncResult =
  | { ok: true; value: unknown }
  | { ok: false; message: string; line: number; column: number };

class JsoncError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING_RE = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

export function parseJsonc(text: string): JsoncResult {
  const p = new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  try {
    p.skip();
    const value = p.value();
    p.skip();
    if (p.pos < p.text.length) throw new JsoncError(`unexpected ${p.describe()} after the end of the document`, p.pos);
    return { ok: true, value };
  } catch (e) {
    if (!(e instanceof JsoncError)) throw e;
    const { line, column } = lineColumn(p.text, e.offset);
    return { ok: false, message: e.message, line, column };
  }
}

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

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  describe(): string {
    if (this.pos >= this.text.length) return "end of input";
    return `character ${JSON.stringify(this.text[this.pos])}`;
  }

  skip(): void {
    const t = this.text;
    for (;;) {
      const c = t[this.pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") {
        this.pos++;
      } else if (c === "/" && t[this.pos + 1] === "/") {
        const nl = t.indexOf("\n", this.pos);
        this.pos = nl === -1 ? t.length : nl + 1;
      } else if (c === "/" && t[this.pos + 1] === "*") {
        const end = t.indexOf("*/", this.pos + 2);
        if (end === -1) throw new JsoncError("unterminated /* comment", this.pos);
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  value(): unknown {
    const c = this.text[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    throw new JsoncError(`expected a value, found ${this.describe()}`, this.pos);
  }

  string(): string {
    STRING_RE.lastIndex = this.pos;
    const m = STRING_RE.exec(this.text);
    if (!m) throw new JsoncError("invalid or unterminated string", this.pos);
    this.pos += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  number(): number {
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.text);
    if (!m) throw new JsoncError(`invalid number`, this.pos);
    const n = Number(m[0]);
    // JSON.parse would turn 1e999 into Infinity, which then shows as null: quote it as written.
    if (!Number.isFinite(n)) throw new JsoncError(`number ${m[0]} is too large (the largest is about 1.8e308)`, this.pos);
    this.pos += m[0].length;
    return n;
  }

  array(): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.skip();
    while (this.text[this.pos] !== "]") {
      out.push(this.value());
      this.skip();
      if (this.text[this.pos] === ",") {
        this.pos++;
        this.skip();
      } else if (this.text[this.pos] !== "]") {
        throw new JsoncError(`expected "," or "]" in an array, found ${this.describe()}`, this.pos);
      }
    }
    this.pos++;
    return out;
  }

  object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.pos++;
    this.skip();
    while (this.text[this.pos] !== "}") {
      if (this.text[this.pos] !== '"') throw new JsoncError(`expected a quoted key, found ${this.describe()}`, this.pos);
      const keyAt = this.pos;
      const key = this.string();
      if (seen.has(key)) throw new JsoncError(`duplicate key ${JSON.stringify(key)}`, keyAt);
      seen.add(key);
      this.skip();
      if (this.text[this.pos] !== ":") throw new JsoncError(`expected ":" after key ${JSON.stringify(key)}, found ${this.describe()}`, this.pos);
      this.pos++;
      this.skip();
      // defineProperty: a "__proto__" key stays a plain data property.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skip();
      if (this.text[this.pos] === ",") {
        this.pos++;
        this.skip();
      } else if (this.text[this.pos] !== "}") {
        throw new JsoncError(`expected "," or "}" in an object, found ${this.describe()}`, this.pos);
      }
    }
    this.pos++;
    return out;
  }
}
