/**
 * How long a finished job's image waits at most for its backend's next request to go out. The next job's start
 * takes a commit and a request, a few milliseconds; this bounds the wait when a start never sends (cancelled, or its
 * `processing` write refused) or the database is slow.
 */
export const HANDOVER_WAIT_MS = 50;

interface Starting {
  jobId: string;
  /** Work that waits for this start's request. */
  waiters: (() => void)[];
}

/**
 * The GPU's next job goes first. Between the scheduler handing a backend to its next job and that job's request
 * going out lie the next job's `processing` commit and its request: the GPU waits for them. The finished job's image
 * can wait instead: written meanwhile, it would compete with that commit for the database and for this thread
 * (docs/PERFORMANCE.md, "The GPU's next job goes first"). So the image write waits here until the backend's next
 * request is sent, its start ends without one, or {@link HANDOVER_WAIT_MS} pass, whichever comes first.
 */
export class Handovers {
  /** Per backend: the job handed the backend whose request has not gone out yet. */
  private readonly starting = new Map<number, Starting>();

  constructor(private readonly maxWaitMs = HANDOVER_WAIT_MS) {}

  /** The scheduler handed `backend` to `jobId`: its request goes out once its `processing` is committed. */
  started(backend: number, jobId: string): void {
    const current = this.starting.get(backend);
    if (current) current.jobId = jobId;
    else this.starting.set(backend, { jobId, waiters: [] });
  }

  /** `jobId`'s request went out on `backend`, or its start ended without one: what waited for it goes on. */
  sent(backend: number, jobId: string): void {
    const current = this.starting.get(backend);
    if (current?.jobId !== jobId) return;
    this.starting.delete(backend);
    // After this turn: the request's bytes are written before the waiting work begins.
    if (current.waiters.length > 0) setImmediate(() => current.waiters.forEach((go) => go()));
  }

  /**
   * Resolves once `backend`'s next job (another than `jobId`) has sent its request, at once when none is starting
   * there, and after {@link HANDOVER_WAIT_MS} at the latest.
   */
  whenSent(backend: number, jobId: string): Promise<void> {
    const current = this.starting.get(backend);
    if (!current || current.jobId === jobId) return Promise.resolve();
    return new Promise((resolve) => {
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = current.waiters.indexOf(go);
        if (at >= 0) current.waiters.splice(at, 1);
        resolve();
      }, this.maxWaitMs);
      current.waiters.push(go);
    });
  }
}
