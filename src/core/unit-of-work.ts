import type { Context } from "../context.js";
import { transaction } from "../store/open.js";
import type { DomainEvent, UnitOfWork } from "./events.js";

class Work implements UnitOfWork {
  readonly events: DomainEvent[] = [];
  readonly hooks: (() => void)[] = [];
  #handed = 0;

  constructor(readonly ctx: Context) {}

  record(event: DomainEvent): void {
    this.events.push(event);
  }

  afterCommit(hook: () => void): void {
    this.hooks.push(hook);
  }

  rewind(to: number): void {
    this.#handed = Math.min(this.#handed, to);
  }

  /** Hands the events recorded since the last call to the in-transaction subscribers (which may record more). */
  flush(): void {
    while (this.#handed < this.events.length) {
      const event = this.events[this.#handed++] as DomainEvent;
      this.ctx.events.runInTransaction(event, this);
    }
  }
}

/** The unit of work of the transaction running now, per context (use cases are synchronous). */
const current = new WeakMap<Context, Work>();

/**
 * Runs a change in one transaction and records its domain events. Before the commit the in-transaction
 * subscribers see each event (the outbox enqueues deliveries there, so the change and its deliveries commit
 * together or not at all); after the commit the others do (streaming). A commit inside another joins it:
 * its events are published when the outer one commits.
 */
export function commit<T>(ctx: Context, fn: (uow: UnitOfWork) => T): T {
  const outer = current.get(ctx);
  if (outer) {
    // A savepoint: if the inner change fails and the outer one goes on, none of the inner change stays.
    const recorded = outer.events.length;
    const hooks = outer.hooks.length;
    try {
      return ctx.store.sqlite.transaction(() => {
        const value = fn(outer);
        outer.flush();
        return value;
      })();
    } catch (error) {
      outer.events.length = recorded;
      outer.hooks.length = hooks;
      outer.rewind(recorded);
      throw error;
    }
  }
  const work = new Work(ctx);
  current.set(ctx, work);
  let result: T;
  try {
    result = transaction(ctx.store, () => {
      const value = fn(work);
      work.flush();
      return value;
    });
  } finally {
    current.delete(ctx);
  }
  const onError = (error: unknown) => ctx.log.warn({ err: error }, "an event subscriber failed");
  for (const hook of work.hooks) {
    try {
      hook();
    } catch (error) {
      onError(error);
    }
  }
  for (const event of work.events) ctx.events.publish(event, onError);
  return result;
}
