import type {
  MetricsStore,
  RebaseRequest,
  SeriesBatch,
  WriteReply,
  WriterIdentity,
} from '../../src/index.js';

/** The calls a {@link FailingStore} tells apart. */
export type StoreCall = 'rebase' | 'base-write' | 'write';

/** How one call of a {@link FailingStore} fails. */
export type Failure =
  /** The call goes through untouched (to let earlier calls of a kind pass). */
  | 'pass'
  /** The call never reaches Redis (a connection that broke before it was sent). */
  | 'before'
  /** Redis applies the call and its reply is lost (a timeout, a connection that broke after). */
  | 'after'
  /**
   * The call reaches Redis only once the next call that goes through was answered: a client that
   * retried it out of its place, as a cluster client may after a redirection.
   */
  | 'late'
  /**
   * Redis applies the call, its reply is lost, and the client sends it again (as ioredis does with
   * the calls in flight when a connection breaks): the reply is that of the second run.
   */
  | 'twice';

/**
 * A real store (Redis through the module's scripts) whose chosen calls fail, for the partial failures
 * of a repair that are hard to time with a real server: a call that never arrives, or one applied
 * whose reply never comes. Everything else goes to the store underneath unchanged.
 */
export class FailingStore implements MetricsStore {
  /** Failures to inject, in order, each for the next call of its kind that matches. */
  readonly plan: { call: StoreCall; failure: Failure }[] = [];
  /** Called after each call that went through (to copy Redis's state at that point, say). */
  onPassed?: (call: StoreCall) => Promise<void>;
  /** Calls held back by a `late` failure, let go when the next call that goes through is answered. */
  private readonly held: (() => void)[] = [];

  constructor(private readonly store: MetricsStore) {}

  /** Resolves once `count` calls are held back by `late` failures; rejects after 5 s without. */
  async holding(count = 1): Promise<void> {
    const deadline = performance.now() + 5000;
    while (this.held.length < count) {
      if (performance.now() > deadline) {
        throw new Error(`FailingStore: ${this.held.length} of ${count} calls held back after 5 s`);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  get description(): string {
    return this.store.description;
  }

  write(identity: WriterIdentity, batch: SeriesBatch): Promise<WriteReply> {
    const call = batch.counterMode === 'base' ? 'base-write' : 'write';
    return this.inject(call, () => this.store.write(identity, batch));
  }

  rebase(identity: WriterIdentity, request: RebaseRequest): Promise<WriteReply> {
    return this.inject('rebase', () => this.store.rebase(identity, request));
  }

  end(processId: string, staleAfterMs?: number) {
    return this.store.end(processId, staleAfterMs);
  }

  read(options?: Parameters<MetricsStore['read']>[0]) {
    return this.store.read(options);
  }

  processIndex() {
    return this.store.processIndex();
  }

  heldWrite(processId: string): Promise<number | null | undefined> {
    if (!this.store.heldWrite)
      throw new Error('FailingStore: the store underneath has no heldWrite');
    return this.store.heldWrite(processId);
  }

  private async inject<T>(call: StoreCall, work: () => Promise<T>): Promise<T> {
    const index = this.plan.findIndex((step) => step.call === call);
    const [{ failure }] = index < 0 ? [{ failure: 'pass' }] : this.plan.splice(index, 1);
    if (failure === 'twice') {
      await work();
      return work();
    }
    if (failure === 'late') {
      await new Promise<void>((resolve) => this.held.push(resolve));
      return work();
    }
    if (failure === 'pass') {
      const result = await work();
      for (const letGo of this.held.splice(0)) letGo();
      await this.onPassed?.(call);
      return result;
    }
    if (failure === 'before') throw new Error(`injected: the ${call} never reached Redis`);
    await work();
    throw new Error(`injected: the reply of the ${call} was lost`);
  }
}
