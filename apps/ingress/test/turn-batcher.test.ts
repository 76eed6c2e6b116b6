/**
 * TurnBatcher's group commit: one send per event-loop turn at low load; while a send is
 * unconfirmed the following turns' requests gather into the next one; a batch's deadline runs
 * from its first request, waiting included, and a send that hangs frees its slot at its deadline.
 */
import { describe, expect, it } from 'vitest';
import { TurnBatcher } from '../src/enqueue.ts';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TurnBatcher', () => {
  it('requests of one turn share one send; with a send in flight, later turns gather into one next send', async () => {
    const sends: number[][] = [];
    const pending: (() => void)[] = [];
    const batcher = new TurnBatcher<number>((items) => {
      sends.push(items);
      return new Promise<void>((r) => pending.push(r));
    });
    const first = [batcher.add(1, 1), batcher.add(2, 1)];
    await turn();
    expect(sends).toEqual([[1, 2]]);
    // the first send is unconfirmed: three more turns of requests wait and gather
    const later: Promise<void>[] = [];
    for (let i = 3; i <= 8; i += 2) {
      later.push(batcher.add(i, 1), batcher.add(i + 1, 1));
      await turn();
    }
    expect(sends).toEqual([[1, 2]]);
    pending.shift()!();
    await Promise.all(first);
    await turn();
    expect(sends).toEqual([[1, 2], [3, 4, 5, 6, 7, 8]]);
    pending.shift()!();
    await Promise.all(later);
    await batcher.close();
  });

  it('with maxInFlight 2, a second batch is sent while the first is unconfirmed; the third gathers until one returns', async () => {
    const sends: number[][] = [];
    const pending: (() => void)[] = [];
    const batcher = new TurnBatcher<number>(
      (items) => {
        sends.push(items);
        return new Promise<void>((r) => pending.push(r));
      },
      { maxInFlight: 2 },
    );
    const a = batcher.add(1, 1);
    await turn();
    const b = batcher.add(2, 1);
    await turn();
    const c = [batcher.add(3, 1), batcher.add(4, 1)];
    await turn();
    const d = batcher.add(5, 1);
    await turn();
    expect(sends).toEqual([[1], [2]]);
    pending.shift()!();
    await a;
    await turn();
    expect(sends).toEqual([[1], [2], [3, 4, 5]]);
    pending.splice(0).forEach((r) => r());
    await Promise.all([b, ...c, d]);
    await batcher.close();
  });

  it('a waiting batch answers within its own deadline when the send before it hangs; the hung slot is freed', async () => {
    const sends: number[][] = [];
    const batcher = new TurnBatcher<number>((items) => {
      sends.push(items);
      // Redis hangs for the first two sends, then answers again
      return items[0]! < 3 ? new Promise<void>(() => {}) : Promise.resolve();
    }, { timeoutMs: 200 });
    const hung = batcher.add(1, 1);
    await turn();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const waiting = batcher.add(2, 1);
    await expect(hung).rejects.toMatchObject({ code: 'unavailable' });
    await expect(waiting).rejects.toMatchObject({ code: 'unavailable' });
    expect(Date.now() - t0).toBeLessThan(1_000);
    // after the deadline the slot is free again: a new request is sent and confirmed
    await expect(batcher.add(3, 1)).resolves.toBeUndefined();
    // the waiting batch was sent once the hung one's deadline freed the slot (and hung too)
    expect(sends).toEqual([[1], [2], [3]]);
    await batcher.close();
  });

  it('close() sends what is waiting and waits for it; later adds are refused', async () => {
    const sends: number[][] = [];
    const batcher = new TurnBatcher<number>(async (items) => {
      sends.push(items);
      await new Promise((r) => setTimeout(r, 20));
    });
    const a = batcher.add(1, 1);
    await turn();
    const b = batcher.add(2, 1);
    await batcher.close();
    await expect(Promise.all([a, b])).resolves.toEqual([undefined, undefined]);
    expect(sends).toEqual([[1], [2]]);
    await expect(batcher.add(3, 1)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
