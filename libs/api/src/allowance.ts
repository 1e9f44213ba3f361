import { TooMany } from "./errors";

/**
 * A count one connection may hold at most `max` of at once (its open subscriptions, the jobs its lists ask for):
 * what is taken is given back by the function `take` returns; past the bound, TooMany with the subclass's words.
 */
export abstract class Allowance {
  private used = 0;

  constructor(readonly max: number) {}

  /** Why taking would pass the bound: `asking` is what would be held with it. */
  protected abstract refusal(asking: number): string;

  /** Takes `amount`; the returned function gives it back (once). Past the bound: TooMany, nothing taken. */
  take(amount = 1): () => void {
    if (this.used + amount > this.max) throw new TooMany({ message: this.refusal(this.used + amount) });
    this.used += amount;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= amount;
    };
  }

  /** How much is held now. */
  get size(): number {
    return this.used;
  }
}
