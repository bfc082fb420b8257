import type { AliasName } from '../../../serving/src/store/layout';
import type { Lifecycle } from './context';
import { listPackages } from './registry';
import { readAlias, readVersionManifest, storeVersions } from './store';

export interface VersionListing {
  readonly version: string;
  readonly createdAt?: string;
  readonly inStore: boolean;
  /** The aliases naming it (the candidate only while it has a share). */
  readonly aliases: readonly AliasName[];
  readonly approval?: string;
  readonly packageArn?: string;
  /** The manifest's `metrics.test`. */
  readonly testMetrics: Record<string, unknown>;
}

/** The versions in the store and in the registry, with their test metrics, newest first. */
export async function list(ctx: Lifecycle): Promise<VersionListing[]> {
  const { store, registry } = ctx;
  const [versions, packages, production, candidate] = await Promise.all([
    storeVersions(store),
    listPackages(registry),
    readAlias(store, 'production'),
    readAlias(store, 'candidate'),
  ]);
  const all = new Set([...versions, ...packages.flatMap((p) => (p.version ? [p.version] : []))]);
  const rows = await Promise.all(
    [...all].map(async (version): Promise<VersionListing> => {
      const manifest = versions.includes(version)
        ? await readVersionManifest(store, version)
        : null;
      const pkg = packages.find((p) => p.version === version);
      const metrics = (manifest?.metrics ?? {}) as { test?: Record<string, unknown> };
      const aliases: AliasName[] = [];
      if (production.alias?.version === version) aliases.push('production');
      if (candidate.alias?.version === version && candidate.alias.traffic_percent)
        aliases.push('candidate');
      return {
        version,
        createdAt:
          typeof manifest?.created_at === 'string'
            ? manifest.created_at
            : pkg?.created?.toISOString(),
        inStore: manifest !== null,
        aliases,
        approval: pkg?.status,
        packageArn: pkg?.arn,
        testMetrics: metrics.test ?? {},
      };
    }),
  );
  return rows.sort(
    (a, b) =>
      (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || b.version.localeCompare(a.version),
  );
}
