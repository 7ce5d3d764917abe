import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The engine's Prometheus metrics; one registry per engine so tests can run several side by side. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Histogram({ name: 'continuum_http_request_duration_seconds', help: 'HTTP request duration by route and status', labelNames: ['method', 'route', 'status'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    inboxEvents: new Counter({ name: 'continuum_inbox_events_total', help: 'Inbound events by source and outcome (stored, duplicate, processed, ignored, retry, failed)', labelNames: ['source', 'outcome'], registers: [registry] }),
    outboxEvents: new Counter({ name: 'continuum_outbox_events_total', help: 'Outbound deliveries by destination and outcome (delivered, retry, dead)', labelNames: ['destination', 'outcome'], registers: [registry] }),
    exceptionsRaised: new Counter({ name: 'continuum_exceptions_raised_total', help: 'Exceptions raised for a person, by kind', labelNames: ['kind'], registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
