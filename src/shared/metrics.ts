import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Reads the sync engine's backlog for the gauges at scrape time; each method is one bounded query.
 * The engine attaches one (`sync/sync-gauges.ts`); without it the gauges are empty.
 */
export interface SyncGaugeReader {
  /** Seconds the longest-waiting due inbox event has been due, by source (0 when none is due). */
  inboxLagSeconds(): Promise<Record<string, number>>;
  /** Seconds the longest-waiting due outbox message has been due, by destination (0 when none is due). */
  outboxLagSeconds(): Promise<Record<string, number>>;
  /** Active (open, assigned, in progress) exceptions, by kind. */
  activeExceptions(): Promise<Record<string, number>>;
  /** Circuits by destination and state (closed, open, half_open). */
  circuits(): Promise<{ destination: string; state: string; count: number }[]>;
}

const latencyBucketsSeconds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1_800, 3_600, 21_600, 86_400];

/** The engine's Prometheus metrics; one registry per engine so tests can run several side by side. docs/sync.md lists them. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let syncReader: SyncGaugeReader | undefined;

  /** Sets a gauge from a reading at scrape time; a failed reading leaves it empty rather than failing the scrape. */
  function gaugeFrom<T>(read: (reader: SyncGaugeReader) => Promise<T>, apply: (gauge: Gauge<string>, reading: T) => void) {
    return async function collect(this: Gauge<string>): Promise<void> {
      this.reset();
      if (!syncReader) return;
      let reading: T;
      try {
        reading = await read(syncReader);
      } catch {
        return;
      }
      apply(this, reading);
    };
  }
  const setEach = (label: string) => (gauge: Gauge<string>, reading: Record<string, number>) => {
    for (const [value, count] of Object.entries(reading)) gauge.set({ [label]: value }, count);
  };

  return {
    registry,
    httpRequests: new Histogram({ name: 'continuum_http_request_duration_seconds', help: 'HTTP request duration by route and status', labelNames: ['method', 'route', 'status'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    inboxEvents: new Counter({ name: 'continuum_inbox_events_total', help: 'Inbound events by source and outcome (stored, duplicate, processed, ignored, retry, failed)', labelNames: ['source', 'outcome'], registers: [registry] }),
    inboxCommitEvents: new Histogram({ name: 'continuum_inbox_commit_events', help: 'Webhook events stored by one commit of the inbox group committer (sync/inbox-writer.ts)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 500], registers: [registry] }),
    outboxEvents: new Counter({ name: 'continuum_outbox_events_total', help: 'Outbound delivery attempts by destination and outcome (delivered, retry, dead), and messages deferred by an open circuit', labelNames: ['destination', 'outcome'], registers: [registry] }),
    outboxRetries: new Counter({ name: 'continuum_outbox_retries_total', help: 'Failed outbound attempts scheduled for a retry, by destination', labelNames: ['destination'], registers: [registry] }),
    outboxDeadLetters: new Counter({ name: 'continuum_outbox_dead_letters_total', help: 'Outbound messages dead after their retry schedule, by destination', labelNames: ['destination'], registers: [registry] }),
    outboxReplays: new Counter({ name: 'continuum_outbox_replays_total', help: 'Outbound messages re-queued by a person (API or exception retry), by destination', labelNames: ['destination'], registers: [registry] }),
    outboxDeliveryLatency: new Histogram({ name: 'continuum_outbox_delivery_latency_seconds', help: 'From a message being added to its delivery, retries included (replayed messages are left out), by destination', labelNames: ['destination'], buckets: latencyBucketsSeconds, registers: [registry] }),
    circuitTransitions: new Counter({ name: 'continuum_channel_circuit_transitions_total', help: 'Circuit breakers opened (after failures or a failed probe) and closed (after a success), by destination', labelNames: ['destination', 'to'], registers: [registry] }),
    exceptionsRaised: new Counter({ name: 'continuum_exceptions_raised_total', help: 'Exceptions raised (or reopened) for a person by the sync worker, by kind', labelNames: ['kind'], registers: [registry] }),
    inboxLag: new Gauge({ name: 'continuum_inbox_lag_seconds', help: 'How long the longest-waiting due inbox event has been due, by source', labelNames: ['source'], registers: [registry], collect: gaugeFrom((reader) => reader.inboxLagSeconds(), setEach('source')) }),
    outboxLag: new Gauge({ name: 'continuum_outbox_lag_seconds', help: 'How long the longest-waiting due outbox message has been due, by destination', labelNames: ['destination'], registers: [registry], collect: gaugeFrom((reader) => reader.outboxLagSeconds(), setEach('destination')) }),
    exceptionsActive: new Gauge({ name: 'continuum_exceptions_active', help: 'Exceptions open, assigned or in progress, by kind', labelNames: ['kind'], registers: [registry], collect: gaugeFrom((reader) => reader.activeExceptions(), setEach('kind')) }),
    channelCircuits: new Gauge({
      name: 'continuum_channel_circuits', help: 'Circuit breakers by destination and state (closed, open, half_open)', labelNames: ['destination', 'state'], registers: [registry],
      collect: gaugeFrom((reader) => reader.circuits(), (gauge, rows) => { for (const row of rows) gauge.set({ destination: row.destination, state: row.state }, row.count); }),
    }),
    /** Gives the backlog gauges their reader (the engine calls it once it has a database). */
    attachSyncGauges(reader: SyncGaugeReader): void {
      syncReader = reader;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
