import { LauncherError, UsageError } from '../cli/errors';
import type { Lifecycle } from './context';
import { clearCandidate, requireVersion } from './promote';
import { findPackage, setApproval, type ModelPackage } from './registry';
import { aliasHistory, readAlias, writeAlias } from './store';

export interface RollbackResult {
  /** The version production moved away from. */
  readonly from: string;
  /** The previous production version it is back on. */
  readonly to: string;
  /** The candidate that was cleared, if one was serving. */
  readonly candidateCleared?: string;
  /** The package of `from`, now Rejected. */
  readonly rejected?: ModelPackage;
}

/**
 * Moves production back to the version it named before the current one (from the alias
 * file's S3 version history) and clears the candidate. The rolled-back version's package is
 * rejected, the restored one's approved.
 */
export async function rollback(ctx: Lifecycle, reason?: string): Promise<RollbackResult> {
  const { store, registry } = ctx;
  const production = await readAlias(store, 'production');
  if (!production.alias)
    throw new UsageError(`${store.modelName} has no production version: nothing to roll back`);
  const from = production.alias.version;
  const history = await aliasHistory(store, 'production');
  const previous = history.find((a) => a.version !== from);
  if (!previous) {
    throw new LauncherError(
      `production of ${store.modelName} has named no version but ${from} ` +
        `(${history.length} entr${history.length === 1 ? 'y' : 'ies'} in the alias history): nothing to roll back to`,
    );
  }
  const to = previous.version;
  await requireVersion(ctx, to);
  const actor = await ctx.actor();
  const why = `rollback from ${from}${reason ? `: ${reason}` : ''}`;
  await writeAlias(store, production, {
    version: to,
    updated_at: ctx.now().toISOString(),
    updated_by: actor,
    reason: why,
  });
  const candidateCleared = await clearCandidate(ctx, why);
  const [fromPackage, toPackage] = await Promise.all([
    findPackage(registry, from),
    findPackage(registry, to),
  ]);
  if (toPackage)
    await setApproval(registry, toPackage, 'Approved', `production again after ${why}`);
  const rejected =
    fromPackage && (await setApproval(registry, fromPackage, 'Rejected', `${why} (by ${actor})`));
  return { from, to, candidateCleared, rejected };
}
