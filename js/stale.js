// Stale-frame filtering. Frames of a job started before the latest change made
// in this page (meta.request below the model's request counter), or of a job
// older than one already drawn, are dropped: the canvas keeps the last good
// frame until the new job's first one arrives.

/** Whether a frame with `meta` must not be drawn. */
export function isStale(meta, { request = 0, lastJob = -Infinity } = {}) {
  if (!meta || typeof meta.job !== "number") return true;
  if ((meta.request ?? 0) < request) return true;
  return meta.job < lastJob;
}

/** A gate that remembers the newest job drawn. */
export function createFrameGate() {
  let lastJob = -Infinity;
  return {
    accept(meta, request) {
      if (isStale(meta, { request, lastJob })) return false;
      lastJob = meta.job;
      return true;
    },
    get lastJob() {
      return lastJob;
    },
  };
}
