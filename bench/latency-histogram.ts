// Latencies in buckets of 10 µs up to 100 ms, then of 1 ms up to 10 s: fine enough to tell 1.21 ms
// from 1.32 ms (autocannon's own histogram keeps whole milliseconds), bounded in memory whatever
// the run length. A latency of 10 s or more (the load generator's request timeout) is counted in
// the last bucket and reported as 10 s.

const fineBucketMs = 0.01;
const fineLimitMs = 100;
const coarseBucketMs = 1;
export const latencyMsMax = 10_000;
const fineBuckets = Math.round(fineLimitMs / fineBucketMs);
const coarseBuckets = Math.round((latencyMsMax - fineLimitMs) / coarseBucketMs);

function bucketOf(latencyMs: number): number {
  if (latencyMs < fineLimitMs) return Math.floor(latencyMs / fineBucketMs);
  return Math.min(fineBuckets + coarseBuckets, fineBuckets + Math.floor((latencyMs - fineLimitMs) / coarseBucketMs));
}

function upperEdgeMs(bucket: number): number {
  if (bucket < fineBuckets) return (bucket + 1) * fineBucketMs;
  return Math.min(latencyMsMax, fineLimitMs + (bucket - fineBuckets + 1) * coarseBucketMs);
}

export class LatencyHistogram {
  private readonly buckets = new Uint32Array(fineBuckets + coarseBuckets + 1);
  count = 0;

  record(latencyMs: number): void {
    if (!(latencyMs >= 0)) throw new Error(`latency must be a non-negative number of milliseconds, got ${latencyMs}`);
    this.buckets[bucketOf(latencyMs)]! += 1;
    this.count += 1;
  }

  /** The upper edge of the bucket holding the given percentile (0-100), in milliseconds; NaN when empty. */
  percentileMs(percentile: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((percentile / 100) * this.count));
    let seen = 0;
    for (let bucket = 0; bucket < this.buckets.length; bucket += 1) {
      seen += this.buckets[bucket]!;
      if (seen >= rank) return upperEdgeMs(bucket);
    }
    return latencyMsMax;
  }
}
