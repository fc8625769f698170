/**
 * Subject and session ids. Stored in BIDS form (`sub-001`, `ses-01`); the label after the prefix
 * is 1-64 ASCII letters or digits. Everything else (path separators, spaces, quotes, shell
 * metacharacters, newlines, unicode look-alikes) is rejected with the value shown escaped.
 */
export const MAX_LABEL_LENGTH = 64;
const LABEL_RE = /^[A-Za-z0-9]+$/;

export type IdResult = { ok: true; id: string } | { ok: false; message: string };

/** JSON string literal of a value with every non-printable-ASCII character as \uXXXX. */
export function escapeForDisplay(value: unknown): string {
  if (typeof value !== "string") {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s;
  }
  return JSON.stringify(value).replace(/[^\x20-\x7e]/gu, (ch) =>
    Array.from(ch)
      .flatMap((c) => {
        const cp = c.codePointAt(0) as number;
        if (cp <= 0xffff) return [cp];
        const v = cp - 0x10000;
        return [0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff)];
      })
      .map((u) => `\\u${u.toString(16).padStart(4, "0")}`)
      .join(""),
  );
}

function normalizeId(value: unknown, prefix: "sub-" | "ses-", what: string): IdResult {
  if (typeof value !== "string") {
    return { ok: false, message: `${what} must be a string, got ${escapeForDisplay(value)}` };
  }
  const label = value.startsWith(prefix) ? value.slice(prefix.length) : value;
  if (label.length === 0) {
    return { ok: false, message: `${what} ${escapeForDisplay(value)} has an empty label` };
  }
  if (label.length > MAX_LABEL_LENGTH) {
    return {
      ok: false,
      message: `${what} ${escapeForDisplay(value)} is too long: the label has ${label.length} characters, at most ${MAX_LABEL_LENGTH} are allowed`,
    };
  }
  if (!LABEL_RE.test(label)) {
    return {
      ok: false,
      message: `${what} ${escapeForDisplay(value)} is not valid: after "${prefix}" only ASCII letters and digits are allowed`,
    };
  }
  return { ok: true, id: prefix + label };
}

/** `sub-001` or `001` -> `sub-001`. */
export function normalizeSubjectId(value: unknown): IdResult {
  return normalizeId(value, "sub-", "subject id");
}

/** `ses-01` or `01` -> `ses-01`. */
export function normalizeSessionId(value: unknown): IdResult {
  return normalizeId(value, "ses-", "session id");
}

/** The label csttool takes: `sub-001` -> `001`. */
export function idLabel(id: string): string {
  return id.replace(/^(sub|ses)-/, "");
}
