/**
 * Redis replies that refuse a command for a moment only: the server answers, and will take the same
 * command once a slot migration ends (ASK, TRYAGAIN, MOVED), a failover completes (READONLY from a
 * demoted master, CLUSTERDOWN, MASTERDOWN), a restarted server has loaded its data (LOADING) or a
 * script ends (BUSY). ioredis gives up on a redirection after its retries with "Too many Cluster
 * redirections", naming the last reply.
 */
const PASSING = /^(ASK \d|MOVED \d|TRYAGAIN|READONLY|CLUSTERDOWN|MASTERDOWN|LOADING|BUSY\b)/;
const REDIRECTIONS = /^Too many Cluster redirections/;

/**
 * Whether a failed command was refused by a Redis that answers, for a reason that passes on its own in
 * seconds (see {@link PASSING}). Follows `cause`, as the module's explained errors keep the reply they
 * explain there. A connection that fails, a timeout, an ACL or memory refusal: `false`.
 */
export function isPassingRefusal(error: unknown): boolean {
  // Duck-typed: errors may come from another realm (Node's own, where code runs in a VM context).
  let at = error as { message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; typeof at?.message === 'string' && depth < 8; depth += 1) {
    if (PASSING.test(at.message) || REDIRECTIONS.test(at.message)) return true;
    at = at.cause as typeof at;
  }
  return false;
}
