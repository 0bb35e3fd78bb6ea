/**
 * The notification contract: OpenStack-shaped messages fanned out to pluggable sinks.
 *
 * Sending never blocks or fails the operation that notifies: each sink gets the message in the background, a
 * sink's failure is reported to `onSinkError` and otherwise ignored, and `flush()` lets a shutting-down service
 * wait (boundedly) for deliveries still in flight.
 */

export type NotificationPriority = 'INFO' | 'WARN' | 'ERROR';

export interface NotificationMessage<Payload extends object = Record<string, unknown>> {
  /** Unique id of this message (a UUID), as oslo.messaging's `message_id`. */
  readonly message_id: string;
  /** e.g. `backup.create.start`, `backup.init.error`. */
  readonly event_type: string;
  /** `backup.<host>`. */
  readonly publisher_id: string;
  /** UTC, `YYYY-MM-DD HH:MM:SS.ffffff` as oslo.messaging writes it. */
  readonly timestamp: string;
  readonly priority: NotificationPriority;
  readonly payload: Payload;
}

/** A destination for notifications (a log, a webhook, a message bus). */
export interface NotificationSink {
  /** Short name for error reports, e.g. `log`, `webhook http://...`. */
  readonly name: string;
  /** Deliver one message. May be slow or throw: the notifier isolates callers from both. */
  send(message: NotificationMessage<object>): Promise<void>;
  /** Release connections; called once at shutdown after `flush`. */
  close?(): Promise<void>;
}

export interface NotifierOptions {
  /** The publishing host; messages carry `publisher_id: backup.<host>`. */
  readonly host: string;
  readonly sinks: readonly NotificationSink[];
  /** Told about every sink failure; the failure goes no further. */
  readonly onSinkError?: ((sink: NotificationSink, message: NotificationMessage<object>, error: unknown) => void) | undefined;
  /** Deliveries in flight per sink beyond which new messages to that sink are dropped (and reported). */
  readonly maxInFlightPerSink?: number | undefined;
}

export class NotificationDroppedError extends Error {
  constructor(sinkName: string, limit: number) {
    super(`notification sink ${sinkName} has ${limit} deliveries in flight; message dropped (the sink is too slow)`);
    this.name = 'NotificationDroppedError';
  }
}

export class Notifier {
  readonly publisherId: string;
  readonly #sinks: readonly NotificationSink[];
  readonly #onSinkError: NotifierOptions['onSinkError'];
  readonly #maxInFlight: number;
  readonly #inFlight = new Map<NotificationSink, Set<Promise<void>>>();

  constructor(options: NotifierOptions) {
    this.publisherId = `backup.${options.host}`;
    this.#sinks = options.sinks;
    this.#onSinkError = options.onSinkError;
    this.#maxInFlight = options.maxInFlightPerSink ?? 1000;
    for (const sink of this.#sinks) this.#inFlight.set(sink, new Set());
  }

  /** Build the message and hand it to every sink; returns at once with the message sent. */
  notify<Payload extends object>(eventType: string, payload: Payload, priority: NotificationPriority = 'INFO'): NotificationMessage<Payload> {
    const message: NotificationMessage<Payload> = {
      message_id: crypto.randomUUID(),
      event_type: eventType,
      publisher_id: this.publisherId,
      timestamp: formatNotificationTimestamp(new Date()),
      priority,
      payload,
    };
    for (const sink of this.#sinks) this.#deliver(sink, message);
    return message;
  }

  #deliver(sink: NotificationSink, message: NotificationMessage<object>): void {
    const pending = this.#inFlight.get(sink)!;
    if (pending.size >= this.#maxInFlight) {
      this.#reportError(sink, message, new NotificationDroppedError(sink.name, this.#maxInFlight));
      return;
    }
    let delivery: Promise<void>;
    try {
      delivery = sink.send(message);
    } catch (error) {
      // A sink that throws synchronously is as broken as one that rejects.
      this.#reportError(sink, message, error);
      return;
    }
    const tracked = delivery.then(
      () => undefined,
      (error: unknown) => this.#reportError(sink, message, error),
    );
    pending.add(tracked);
    void tracked.finally(() => pending.delete(tracked));
  }

  #reportError(sink: NotificationSink, message: NotificationMessage<object>, error: unknown): void {
    try {
      this.#onSinkError?.(sink, message, error);
    } catch {
      // The error reporter must not break notifying either.
    }
  }

  /** Deliveries not yet settled, over all sinks. */
  get pendingDeliveries(): number {
    let total = 0;
    for (const pending of this.#inFlight.values()) total += pending.size;
    return total;
  }

  /** Wait until in-flight deliveries settle, at most `timeoutMs`; returns how many were still pending. */
  async flush(timeoutMs: number): Promise<number> {
    const all = [...this.#inFlight.values()].flatMap((pending) => [...pending]);
    if (all.length === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled(all), timeout]);
    clearTimeout(timer);
    return this.pendingDeliveries;
  }

  /** Flush (bounded) and close every sink. */
  async close(timeoutMs = 2000): Promise<void> {
    await this.flush(timeoutMs);
    await Promise.allSettled(this.#sinks.map((sink) => sink.close?.()));
  }
}

/** oslo.messaging's timestamp format: `2026-11-26 03:48:03.123456` (UTC). */
export function formatNotificationTimestamp(date: Date): string {
  return `${date.toISOString().replace('T', ' ').replace('Z', '')}000`;
}
