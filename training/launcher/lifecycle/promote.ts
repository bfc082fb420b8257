import { VERSION_PATTERN, type AliasFile } from '../../../serving/src/store/layout';
import { UnknownVersionError, UsageError } from '../cli/errors';
import type { Lifecycle } from './context';
import { findPackage, setApproval, type ModelPackage } from './registry';
import { readAlias, readVersionManifest, writeAlias, type AliasState } from './store';

export interface PromoteOptions {
  /** Canary share 0 < p < 100: the version becomes the candidate. Unset: production. */
  readonly canaryPercent?: number;
  /** Why, recorded in the alias file. */
  readonly reason?: string;
  /**
   * Approve the version's model package on a full promotion (default true). The approval
   * Lambda passes false: the package is approved already (that is why it runs), so it makes
   * no registry call at all.
   */
  readonly approve?: boolean;
}

export interface PromoteResult {
  readonly version: string;
  readonly alias: 'production' | 'candidate';
  /** The alias pointed at this before (production: the version replaced). */
  readonly previous?: string;
  readonly trafficPercent: number;
  /** False when the alias already said exactly this (nothing was written). */
  readonly changed: boolean;
  /** A full promotion of the current candidate also clears the candidate alias. */
  readonly candidateCleared: boolean;
  readonly package?: ModelPackage;
}

/** Throws a usage error for a malformed version, and UnknownVersion when the store lacks it. */
export async function requireVersion(ctx: Lifecycle, version: string): Promise<void> {
  if (!VERSION_PATTERN.test(version))
    throw new UsageError(`'${version}' is not a model version (${VERSION_PATTERN.source})`);
  if (!(await readVersionManifest(ctx.store, version))) {
    throw new UnknownVersionError(
      `version ${version} of ${ctx.store.modelName} is not in the store: publish it first (npm run model -- list shows the versions)`,
    );
  }
}

async function stamp(ctx: Lifecycle, reason: string): Promise<Omit<AliasFile, 'version'>> {
  return { updated_at: ctx.now().toISOString(), updated_by: await ctx.actor(), reason };
}

/** Sets the candidate's share to 0 (the service then drops it), recording who and why. */
export async function clearCandidate(
  ctx: Lifecycle,
  reason: string,
  candidate?: AliasState,
): Promise<string | undefined> {
  const state = candidate ?? (await readAlias(ctx.store, 'candidate'));
  const current = state.alias;
  if (!current || !current.traffic_percent) return undefined;
  await writeAlias(ctx.store, state, {
    version: current.version,
    traffic_percent: 0,
    ...(await stamp(ctx, reason)),
  });
  return current.version;
}

/**
 * Moves an alias to `version`: the candidate with a canary share, or production. Writes are
 * conditional on what was read, so of two concurrent promotions one fails with a conflict and
 * writes nothing. A version already where it is asked to go is left alone (idempotent: the
 * approval event that a promotion causes finds nothing to do).
 *
 * A full promotion approves the version's model package; a canary does not (approval means
 * "fit for production", and approving a package promotes it, see approval.ts).
 */
export async function promote(
  ctx: Lifecycle,
  version: string,
  opts: PromoteOptions = {},
): Promise<PromoteResult> {
  await requireVersion(ctx, version);
  const { store, registry } = ctx;
  const production = await readAlias(store, 'production');
  const candidate = await readAlias(store, 'candidate');
  const percent = opts.canaryPercent;

  if (percent !== undefined) {
    if (!(percent > 0 && percent < 100))
      throw new UsageError(
        `--canary must be a share between 0 and 100 (exclusive), got ${percent}`,
      );
    if (production.alias?.version === version)
      throw new UsageError(
        `version ${version} is production already: a canary needs another version`,
      );
    if (!production.alias)
      throw new UsageError(
        `${store.modelName} has no production version yet: promote one without --canary first`,
      );
    const same =
      candidate.alias?.version === version && candidate.alias.traffic_percent === percent;
    if (!same) {
      await writeAlias(store, candidate, {
        version,
        traffic_percent: percent,
        ...(await stamp(ctx, opts.reason ?? `canary at ${percent}%`)),
      });
    }
    return {
      version,
      alias: 'candidate',
      previous: candidate.alias?.traffic_percent ? candidate.alias.version : undefined,
      trafficPercent: percent,
      changed: !same,
      candidateCleared: false,
    };
  }

  const changed = production.alias?.version !== version;
  if (changed) {
    await writeAlias(store, production, {
      version,
      ...(await stamp(ctx, opts.reason ?? 'promoted to production')),
    });
  }
  const candidateCleared =
    candidate.alias?.version === version &&
    (await clearCandidate(ctx, `${version} promoted to production`, candidate)) !== undefined;
  let pkg = opts.approve === false ? undefined : await findPackage(registry, version);
  if (pkg) {
    pkg = await setApproval(
      registry,
      pkg,
      'Approved',
      `promoted to production by ${await ctx.actor()}${opts.reason ? `: ${opts.reason}` : ''}`,
    );
  }
  return {
    version,
    alias: 'production',
    previous: production.alias?.version,
    trafficPercent: 100,
    changed,
    candidateCleared,
    package: pkg,
  };
}
