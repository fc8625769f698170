export { AtomicSpool } from "../util/atomic-spool.js";

/** Hands values to `emit` in index order as they arrive in any order; holds only those that came early. */
export class InOrder<T> {
  private next = 0;
  private readonly early = new Map<number, T>();

  constructor(private readonly emit: (value: T) => void) {}

  put(index: number, value: T): void {
    if (index !== this.next) {
      this.early.set(index, value);
      return;
    }
    this.emit(value);
    this.next++;
    for (let v = this.early.get(this.next); v !== undefined || this.early.has(this.next); v = this.early.get(this.next)) {
      this.early.delete(this.next);
      this.emit(v as T);
      this.next++;
    }
  }
}
