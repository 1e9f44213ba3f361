import { Allowance } from "./allowance";

/**
 * How many jobs the `jobs.list` calls of one WebSocket connection may ask for at once. Over HTTP a request's calls
 * are counted before anything runs (the server refuses the request with a 413); a WebSocket message carries a
 * batch too, and each call takes its page's size from this budget while it runs, so that one message of fifty
 * 500-job pages cannot build a reply of hundreds of megabytes while every other request waits.
 */
export class ListBudget extends Allowance {
  protected refusal(asking: number): string {
    return `This connection's jobs.list calls would ask for ${asking} jobs at once; one connection may ask for at most ${this.max} at a time (wait for a page before the next, or use smaller pages with the cursor)`;
  }
}
