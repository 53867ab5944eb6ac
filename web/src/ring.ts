/** A bounded buffer: keeps the newest `capacity` items, so a fast stream never grows the tab. */
export class Ring<T> {
  private items: T[] = [];
  private dropped = 0;

  constructor(readonly capacity: number) {}

  push(...added: T[]): void {
    this.items.push(...added);
    const over = this.items.length - this.capacity;
    if (over > 0) {
      this.items.splice(0, over);
      this.dropped += over;
    }
  }

  clear(): void {
    this.dropped += this.items.length;
    this.items = [];
  }

  get size(): number {
    return this.items.length;
  }

  /** How many items fell out of the buffer so far. */
  get droppedCount(): number {
    return this.dropped;
  }

  toArray(): T[] {
    return this.items.slice();
  }

  last(count: number): T[] {
    return this.items.slice(Math.max(0, this.items.length - count));
  }
}
