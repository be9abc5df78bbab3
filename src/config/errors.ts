import { ChokepointError } from '../errors.js';

/** One precise problem in one config file. */
export interface ConfigIssue {
  /** Path of the file as the operator would type it (relative to the working directory when possible). */
  file: string;
  /** Path inside the document, e.g. "watchlists[1].routes[0].channel"; empty for the whole file. */
  path: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line ? `${issue.file}:${issue.line}` : issue.file;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Invalid configuration: carries every issue found, not only the first. */
export class ConfigError extends ChokepointError {
  constructor(readonly issues: ConfigIssue[]) {
    super('CP_CONFIG_INVALID', `invalid configuration (${issues.length} error${issues.length === 1 ? '' : 's'}):\n${issues.map((i) => '  ' + formatIssue(i)).join('\n')}`);
  }
}

/** Renders a path array the way a person writes it: a.b[2].c */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Levenshtein distance, for "did you mean" hints on misspelt keys and ids. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
