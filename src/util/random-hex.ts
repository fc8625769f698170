import { closeSync, openSync, readSync } from "node:fs";

/**
 * `bytes` random bytes as hex, read from the kernel's /dev/urandom: run tokens and temporary
 * names, without loading node:crypto on run-one's path (docs/architecture.md, "Start-up budget").
 */
export function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  let fd: number | null = null;
  try {
    fd = openSync("/dev/urandom", "r");
    let got = 0;
    while (got < bytes) got += readSync(fd, buf, got, bytes - got, null);
    return buf.toString("hex");
  } catch {
    // No /dev/urandom (not Linux or macOS): these are names and tokens, not secrets.
    for (let i = 0; i < bytes; i++) buf[i] = Math.floor(Math.random() * 256);
    return buf.toString("hex");
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
