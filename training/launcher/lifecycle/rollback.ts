import { LauncherError, UsageError } from '../cli/errors';
import type { Lifecycle } from './context';
import { clearCandidate, requireVersion } from './promote';
import { findPackage, setApproval, type ModelPackage } from './registry';
import { aliasHistory, readAlias, writeAlias } from './store';

export interface RollbackResult {
  /** What was rolled back: a serving canary, or production's last move. */
  readonly alias: 'candidate' | 'production';
  /** The version taken out of traffic. */
  readonly from: string;
  /** The production version that now takes all traffic. */
  readonly to: string;
  /** The package of `from`, now Rejected (undefined when it was not registered). */
  readonly rejected?: ModelPackage;
}

/**
 * Undoes the latest rollout step. While a canary serves, that is the canary: the candidate is
 * cleared and production keeps its version. Otherwise production moves back to the version
 * it named before the current one (from the alias file's S3 version history). Either way the
 * version taken out of traffic has its package rejected (the restored one's is approved).
 */
export async function rollback(ctx: Lifecycle, reason?: string): Promise<RollbackResult> {
  const { store, registry } = ctx;
  const [production, candidate] = await Promise.all([
    readAlias(store, 'production'),
    readAlias(store, 'candidate'),
  ]);
  if (!production.alias)
    throw new UsageError(`${store.modelName} has no production version: nothing to roll back`);
  const current = production.alias.version;
  const canary = candidate.alias?.traffic_percent ? candidate.alias.version : undefined;
  const actor = await ctx.actor();

  let result: Omit<RollbackResult, 'rejected'>;
  let why: string;
  if (canary && canary !== current) {
    why = `canary ${canary} rolled back${reason ? `: ${reason}` : ''}`;
    await clearCandidate(ctx, why, candidate);
    result = { alias: 'candidate', from: canary, to: current };
  } else {
    const history = await aliasHistory(store, 'production');
    const previous = history.find((a) => a.version !== current);
    if (!previous) {
      throw new LauncherError(
        `production of ${store.modelName} has named no version but ${current} ` +
          `(${history.length} entr${history.length === 1 ? 'y' : 'ies'} in its alias history) and no canary serves: nothing to roll back to`,
      );
    }
    await requireVersion(ctx, previous.version);
    why = `rollback from ${current}${reason ? `: ${reason}` : ''}`;
    await writeAlias(store, production, {
      version: previous.version,
      updated_at: ctx.now().toISOString(),
      updated_by: actor,
      reason: why,
    });
    // A candidate left at 0% stays as it is; one equal to production needs nothing either.
    result = { alias: 'production', from: current, to: previous.version };
  }
  const [fromPackage, toPackage] = await Promise.all([
    findPackage(registry, result.from),
    findPackage(registry, result.to),
  ]);
  if (toPackage && result.alias === 'production')
    await setApproval(registry, toPackage, 'Approved', `production again after ${why}`);
  const rejected =
    fromPackage && (await setApproval(registry, fromPackage, 'Rejected', `${why} (by ${actor})`));
  return { ...result, rejected };
}
