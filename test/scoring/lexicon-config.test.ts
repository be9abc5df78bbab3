import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/errors.js';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';
import { createScorer } from '../../src/scoring/index.js';
import { assessFor, configWith, defaultConfig, item } from './helpers.js';

function issuesOf(build: () => unknown): string[] {
  try {
    build();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('the lexicon and watchlists are checked against each other', () => {
  it('reports every unknown material, product and country in watchlists, with its line and a suggestion', () => {
    const config = configWith(`watchlists:
  - id: magnets
    materials: [samarum, rare-earths]
    products: [gallium, hbmm]
    countries: [CN, XX, us-chna]
`);
    const issues = issuesOf(() => createScorer(config));
    expect(issues).toEqual([
      expect.stringMatching(/watchlists\.yaml:3: watchlists\[0\]\.materials\[0\]: unknown material "samarum"; did you mean "samarium"\?$/),
      expect.stringMatching(/watchlists\.yaml:4: watchlists\[0\]\.products\[0\]: "gallium" is a material: list it under materials$/),
      expect.stringMatching(/watchlists\.yaml:4: watchlists\[0\]\.products\[1\]: unknown product "hbmm"; did you mean "hbm"\?$/),
      expect.stringMatching(/watchlists\.yaml:5: watchlists\[0\]\.countries\[1\]: unknown country "XX"/),
      expect.stringMatching(/watchlists\.yaml:5: watchlists\[0\]\.countries\[2\]: unknown country "us-chna"; did you mean "us-china"\?$/),
    ]);
  });

  it('reports a malformed keyword or exclude term of a watchlist instead of failing to compile', () => {
    const config = configWith(`watchlists:
  - id: w
    keywords: ["{samarium|Sm", ok]
    exclude: ["!!!"]
`);
    expect(issuesOf(() => createScorer(config))).toEqual([
      expect.stringMatching(/watchlists\.yaml:3: watchlists\[0\]\.keywords\[0\]: "\{" without "\}" in "\{samarium\|Sm"$/),
      expect.stringMatching(/watchlists\.yaml:4: watchlists\[0\]\.exclude\[0\]: "!!!" has no letters or digits to match$/),
    ]);
  });

  it('reports a split term without two halves instead of compiling half of it', () => {
    const config = configWith(`watchlists:
  - id: w
    keywords: ["禁止…", "禁止…出口…许可", "禁止…出口"]
`);
    expect(issuesOf(() => createScorer(config))).toEqual([
      expect.stringMatching(/watchlists\.yaml:3: watchlists\[0\]\.keywords\[0\]: "…" needs words on both sides in "禁止…"$/),
      expect.stringMatching(/watchlists\.yaml:3: watchlists\[0\]\.keywords\[1\]: more than one "…" in "禁止…出口…许可"$/),
    ]);
  });

  it('reports schema errors, bad alias syntax and dangling references in a user lexicon with file, path and line', () => {
    const config = configWith('watchlists:\n  - { id: w, materials: [hafnium] }\n', {
      'lexicon.yaml': `materials:
  - id: hafnium
    aliases: [hafnium, "{hafnium|Hf metal"]
    partOf: [critical-minerls]
signals:
  - id: seizure
    class: confiscation
    weight: 40
    aliases: [seizure]
addAliases:
  galium: [Ga]
`,
    });
    const issues = issuesOf(() => createScorer(config));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/lexicon\.yaml:7: signals\[0\]\.class: "confiscation" is not allowed \(expected one of: "restriction", /),
      ]),
    );
    // Schema errors stop the file from being merged; fix them and the cross-references are checked.
    const fixed = configWith('watchlists:\n  - { id: w, materials: [hafnium] }\n', {
      'lexicon.yaml': `materials:
  - id: hafnium
    aliases: [hafnium, "{hafnium|Hf metal"]
    partOf: [critical-minerls]
addAliases:
  galium: [Ga]
`,
    });
    expect(issuesOf(() => createScorer(fixed))).toEqual([
      expect.stringMatching(/lexicon\.yaml:6: addAliases\.galium: unknown lexicon id "galium"; did you mean "gallium"\?$/),
      expect.stringMatching(/lexicon\.yaml:3: materials\[0\]\.aliases\[1\]: "\{" without "\}" in "\{hafnium\|Hf metal"$/),
      expect.stringMatching(/lexicon\.yaml:4: materials\[0\]\.partOf\[0\]: unknown material or product "critical-minerls"; did you mean "critical-minerals"\?$/),
    ]);
  });

  it('reports a duplicate id and an id reused across sections', () => {
    const config = configWith('watchlists: []\n', {
      'lexicon.yaml': `materials:
  - { id: hafnium, aliases: [hafnium] }
  - { id: hafnium, aliases: [Hf] }
products:
  - { id: gallium, aliases: [gallium wafers] }
`,
    });
    expect(issuesOf(() => createScorer(config))).toEqual([
      expect.stringMatching(/lexicon\.yaml:3: materials\[1\]\.id: duplicate id "hafnium" \(first used at materials\[0\]\)$/),
      expect.stringMatching(/lexicon\.yaml:5: products\[0\]\.id: id "gallium" is already used in materials; ids must be unique across sections$/),
    ]);
  });

  it('loads the built-in lexicon once when the config directory is the package one', () => {
    const config = defaultConfig();
    expect(config.dir).toBe(PACKAGE_CONFIG_DIR);
    expect(() => createScorer(config)).not.toThrow();
  });
});

describe('a user lexicon extends and overrides the built-in one', () => {
  it('adds entries, adds aliases to built-in ones and removes built-in ones', () => {
    const config = configWith(
      `watchlists:
  - { id: w, materials: [hafnium, gallium] }
  - { id: chips, products: [semiconductors] }
`,
      {
        'lexicon.yaml': `materials:
  - { id: hafnium, name: hafnium, partOf: [critical-minerals], aliases: [hafnium, 铪] }
addAliases:
  gallium: [liquid metal X]
remove: [tsmc]
`,
      },
    );
    const scorer = createScorer(config);
    expect(assessFor(scorer, 'w', item('China bans hafnium exports')).entities).toEqual(['hafnium']);
    expect(assessFor(scorer, 'w', item('商务部对铪实施出口管制')).level).not.toBe('none');
    expect(assessFor(scorer, 'w', item('China bans liquid metal X exports')).entities).toEqual(['gallium']);
    expect(assessFor(scorer, 'chips', item('Earthquake halts TSMC operations')).entities).not.toContain('tsmc');
  });

  it('replaces a built-in signal by id, so ops can retune its weight', () => {
    const base = configWith('watchlists:\n  - { id: w, materials: [gallium] }\n');
    const tuned = configWith('watchlists:\n  - { id: w, materials: [gallium] }\n', {
      'lexicon.yaml': `signals:
  - { id: quota, label: quota, class: restriction, weight: 90, aliases: [quota] }
`,
    });
    const news = item('China sets gallium export quota');
    expect(assessFor(createScorer(tuned), 'w', news).score).toBeGreaterThan(assessFor(createScorer(base), 'w', news).score);
  });
});
