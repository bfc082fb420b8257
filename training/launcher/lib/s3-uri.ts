/** Joins URI parts with single slashes; a trailing slash marks a prefix. Pure: the pipeline's job spec uses it too. */
export function s3Join(base: string, ...parts: string[]): string {
  return [base.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].join('/');
}
