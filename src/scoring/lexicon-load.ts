import { existsSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from '../config/errors.js';
import { closest, formatPath } from '../config/errors.js';
import { displayPath, readConfigFile } from '../config/read-file.js';
import { createLocator } from './locate.js';
import {
  type ConcentrationEntry,
  concentrationFileSchema,
  type LexiconFile,
  lexiconFileSchema,
} from './lexicon-schema.js';

export const ENTRY_SECTIONS = ['materials', 'products', 'companies', 'countries', 'actors', 'signals', 'actions', 'exclusions'] as const;
export type EntrySection = (typeof ENTRY_SECTIONS)[number];
export type EntryOf<S extends EntrySection> = LexiconFile[S][number];

/** Where an entry (or its latest override) was written, so later checks can point at it. */
export interface Origin {
  file: string;
  path: (string | number)[];
}

export interface Located<T> {
  entry: T;
  origin: Origin;
}

/** The built-in lexicon with the user's files applied on top. */
export interface MergedLexicon {
  sections: { [S in EntrySection]: Map<string, Located<EntryOf<S>>> };
  cues: Map<string, string[]>;
  concentration: Array<Located<ConcentrationEntry>>;
  /** Every file read, in order. */
  files: string[];
}

export const LEXICON_FILE = /^lexicon([-_.][\w.-]+)?\.yaml$/;
export const CONCENTRATION_FILE = 'supply-concentration.yaml';

/** The lexicon files of a config directory, in the order they are read: lexicon.yaml first, then by name. */
export function lexiconFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => LEXICON_FILE.test(name))
    .sort((a, b) => (a === 'lexicon.yaml' ? -1 : b === 'lexicon.yaml' ? 1 : a.localeCompare(b)))
    .map((name) => path.join(dir, name));
}

function sameDir(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/**
 * Reads the built-in lexicon (every lexicon*.yaml and supply-concentration.yaml in the package's config directory) and
 * then the same files in the user's config directory, which extend and override it. Returns every issue found.
 */
export function loadLexicon(packageDir: string, userDir: string | undefined, env: NodeJS.ProcessEnv): { lexicon: MergedLexicon; issues: ConfigIssue[] } {
  const dirs = [packageDir];
  if (userDir && !sameDir(userDir, packageDir)) dirs.push(userDir);
  const lexicon: MergedLexicon = {
    sections: Object.fromEntries(ENTRY_SECTIONS.map((s) => [s, new Map()])) as MergedLexicon['sections'],
    cues: new Map(),
    concentration: [],
    files: [],
  };
  const issues: ConfigIssue[] = [];
  const locate = createLocator();

  dirs.forEach((dir, dirIndex) => {
    const isUser = dirIndex > 0;
    const files = lexiconFiles(dir);
    if (!isUser && files.length === 0) {
      issues.push({ file: displayPath(path.join(dir, 'lexicon.yaml')), path: '', message: 'built-in lexicon not found (is the package installed completely?)' });
    }
    for (const file of files) {
      const result = readConfigFile(file, lexiconFileSchema, env);
      issues.push(...result.issues);
      lexicon.files.push(file);
      if (result.data) mergeFile(lexicon, file, result.data, issues, locate);
    }
    const concentrationFile = path.join(dir, CONCENTRATION_FILE);
    if (existsSync(concentrationFile)) {
      const result = readConfigFile(concentrationFile, concentrationFileSchema, env);
      issues.push(...result.issues);
      lexicon.files.push(concentrationFile);
      result.data?.concentration.forEach((entry, index) => {
        // A user's row for an entity replaces the built-in rows of that entity and stage.
        lexicon.concentration = lexicon.concentration.filter(
          (row) => !(isUser && row.entry.entity === entry.entity && row.entry.stage === entry.stage),
        );
        lexicon.concentration.push({ entry, origin: { file: concentrationFile, path: ['concentration', index] } });
      });
    }
  });
  return { lexicon, issues };
}

function mergeFile(
  lexicon: MergedLexicon,
  file: string,
  data: LexiconFile,
  issues: ConfigIssue[],
  locate: ReturnType<typeof createLocator>,
): void {
  const issueAt = (p: (string | number)[], message: string) =>
    issues.push({ file: displayPath(file), path: formatPath(p), line: locate(file, p), message });
  const sectionOf = (id: string) => ENTRY_SECTIONS.find((s) => lexicon.sections[s].has(id));
  const allIds = () => ENTRY_SECTIONS.flatMap((s) => [...lexicon.sections[s].keys()]);
  const unknown = (id: string) => {
    const hint = closest(id, allIds());
    return `unknown lexicon id "${id}"${hint ? `; did you mean "${hint}"?` : ''}`;
  };

  data.remove.forEach((id, index) => {
    const section = sectionOf(id);
    if (section) lexicon.sections[section].delete(id);
    else issueAt(['remove', index], unknown(id));
  });

  for (const section of ENTRY_SECTIONS) {
    const target = lexicon.sections[section] as Map<string, Located<EntryOf<typeof section>>>;
    const seenHere = new Map<string, number>();
    (data[section] as Array<EntryOf<typeof section>>).forEach((entry, index) => {
      const at = [section, index];
      const first = seenHere.get(entry.id);
      if (first !== undefined) {
        issueAt([...at, 'id'], `duplicate id "${entry.id}" (first used at ${section}[${first}])`);
        return;
      }
      seenHere.set(entry.id, index);
      const elsewhere = sectionOf(entry.id);
      if (elsewhere && elsewhere !== section) {
        issueAt([...at, 'id'], `id "${entry.id}" is already used in ${elsewhere}; ids must be unique across sections`);
        return;
      }
      // Same id as an earlier file's entry: this one replaces it.
      target.set(entry.id, { entry, origin: { file, path: at } });
    });
  }

  for (const [id, aliases] of Object.entries(data.addAliases)) {
    const section = sectionOf(id);
    if (!section) {
      issueAt(['addAliases', id], unknown(id));
      continue;
    }
    const located = lexicon.sections[section].get(id)!;
    located.entry = { ...located.entry, aliases: [...located.entry.aliases, ...aliases] };
  }

  for (const [group, terms] of Object.entries(data.cues)) {
    lexicon.cues.set(group, [...(lexicon.cues.get(group) ?? []), ...terms]);
  }
}
