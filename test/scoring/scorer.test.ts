import { describe, expect, it } from 'vitest';
import { createScorer } from '../../src/scoring/index.js';
import { levelRank } from '../../src/scoring/types.js';
import { assessFor, configWith, defaultScorer, item, top } from './helpers.js';

const scorer = defaultScorer();

describe('relevance: an entity and a signal about each other', () => {
  it('alerts on an export ban on gallium and names the material, the concentration and the actor', () => {
    const a = assessFor(scorer, 'critical-minerals', item('China bans exports of gallium to the US', 'The commerce ministry said the ban takes effect immediately.'));
    expect(levelRank(a.level)).toBeGreaterThanOrEqual(levelRank('high'));
    expect(a.direction).toBe('escalation');
    expect(a.entities).toContain('gallium');
    expect(a.why).toMatch(/^Export ban on gallium \(China 98% of refining\) announced by MOFCOM — title; source credibility 0\.6$/);
    expect(a.matches).toEqual(expect.arrayContaining([expect.objectContaining({ entity: 'gallium', category: 'material', field: 'title', term: 'gallium' })]));
  });

  it('stays quiet when the material and the signal are in unrelated sentences', () => {
    const a = assessFor(
      scorer,
      'critical-minerals',
      item('Museum exhibit', 'The hall shows gallium samples from the 1990s. Visitors were pleased. Separately, the city council approved a ban on leaf blowers.'),
    );
    expect(a.level).toBe('none');
    expect(a.why).toMatch(/^Mentions gallium and ban, but not about each other/);
  });

  it('counts an entity and a signal in adjacent sentences much less than in one sentence', () => {
    const together = assessFor(scorer, 'critical-minerals', item('Update', 'Beijing will ban gallium exports from May.'));
    const apart = assessFor(scorer, 'critical-minerals', item('Update', 'Beijing spoke about gallium. It will ban some exports from May.'));
    expect(apart.score).toBeLessThan(together.score / 2);
  });

  it('never alerts on a country alone', () => {
    expect(top(scorer, item('China bans imports of Japanese seafood')).level).toBe('none');
    expect(top(scorer, item('Taiwan holds military drills amid tensions')).level).toBe('none');
  });

  it('counts a US–China trade truce without a material as news for the default watchlists, but not tariffs on steel', () => {
    const truce = top(scorer, item('US and China agree to cut reciprocal tariffs for 90 days'));
    expect(truce.level).not.toBe('none');
    expect(truce.direction).toBe('de-escalation');
    expect(truce.entities).toContain('us-china');
    expect(top(scorer, item('US and China raise tariffs on steel and soybeans')).level).toBe('none');
  });

  it('reads a name marked with "™" or a footnote number as the name itself', () => {
    const marked = assessFor(scorer, 'semiconductors', item('US bans exports of Nvidia™ H20™ to China'));
    expect(marked.score).toBe(assessFor(scorer, 'semiconductors', item('US bans exports of Nvidia H20 to China')).score);
    expect(marked.entities).toContain('nvidia');
    const footnoted = assessFor(scorer, 'critical-minerals', item('China bans gallium¹ exports'));
    expect(footnoted.score).toBe(assessFor(scorer, 'critical-minerals', item('China bans gallium exports')).score);
    expect(footnoted.entities).toContain('gallium');
  });

  it('alerts in Chinese on an official notice', () => {
    const a = assessFor(scorer, 'rare-earth-magnets', item('商务部 海关总署公告：对钐、钆、铽、镝相关物项实施出口管制'));
    expect(levelRank(a.level)).toBeGreaterThanOrEqual(levelRank('medium'));
    expect(a.entities).toEqual(expect.arrayContaining(['samarium', 'gadolinium', 'terbium', 'dysprosium']));
    expect(a.why).toContain('announced by MOFCOM');
  });
});

describe('exclusions: words that mean something else', () => {
  it('reads "GaN" and "GaAs" only as written, not as the name Gan or GAN models', () => {
    expect(top(scorer, item("China's market regulator chief Gan Lin announces antitrust probe into Qualcomm deal")).level).toBe('none');
    expect(top(scorer, item('Researchers show GAN models can be trained with less compute despite export controls')).level).toBe('none');
    expect(assessFor(scorer, 'critical-minerals', item('China restricts GaN and GaAs exports')).entities).toContain('gallium');
  });

  it('keeps "CHIP" the health programme apart from chips in ordinary text, but not in a headline in capitals', () => {
    expect(top(scorer, item('States cut CHIP enrollment as budget deficit grows')).why).toMatch(/Children's Health Insurance Program/);
    const shouted = assessFor(scorer, 'semiconductors', item('US BANS AI CHIP EXPORTS TO CHINA'));
    expect(shouted.level).toBe(assessFor(scorer, 'semiconductors', item('US bans AI chip exports to China')).level);
    expect(levelRank(shouted.level)).toBeGreaterThanOrEqual(levelRank('high'));
  });

  const cases: Array<[string, string, RegExp]> = [
    ['Frito-Lay recalls potato chips in 13 states', 'Bags of tortilla chips had an undeclared allergen.', /snack food/],
    ['Poker chips shortage hits casinos', 'Casino chips are in short supply in Las Vegas.', /gambling/],
    ['Magnet school lottery opens', 'Families applied to magnet programs on Monday.', /school/],
    ['Earth Day: rare earth of a day', 'Earth Day events draw crowds.', /./],
    ['Dow soars to a record', 'Blue-chip stocks rallied as tariffs worries faded.', /figure of speech/],
    ['Hollywood strike halts production of MCU films', 'Studios paused two Marvel releases.', /Marvel Cinematic Universe/],
  ];
  for (const [title, summary, reason] of cases) {
    it(`ignores "${title}"`, () => {
      const a = top(scorer, item(title, summary));
      expect(a.level).toBe('none');
      if (!title.startsWith('Earth Day')) expect(a.why).toMatch(reason);
    });
  }

  it('reads a title of decomposed Hangul as the composed one, its clauses included', () => {
    // A chipmaker's TVs in one clause fix "Samsung" as its consumer arm there, not in the other clauses.
    const title = '한국 정부 삼성전자 반도체 수출 통제 강화 발표 이후 업계 대응 - Samsung TV sales fall; Samsung halts memory exports to China';
    const composed = top(scorer, item(title));
    const decomposed = top(scorer, item(title.normalize('NFD')));
    expect(title.normalize('NFD')).not.toBe(title);
    expect([decomposed.level, decomposed.score]).toEqual([composed.level, composed.score]);
  });

  it('still alerts on chips in the same story when they are semiconductors', () => {
    expect(top(scorer, item('Chip shortage forces automakers to halt production', 'Unlike potato chips, these are scarce.')).level).not.toBe('none');
  });
});

describe('severity and direction', () => {
  const score = (title: string, summary = '') => top(scorer, item(title, summary)).score;

  it("takes the direction from the title, and from a lede's sentence only where it reports another event", () => {
    const direction = (title: string, summary: string) => top(scorer, item(title, summary)).direction;
    const restart = 'Lynas restarts Kuantan rare earth plant ahead of schedule';
    expect(direction(restart, 'Lynas said it restarted two circuits six weeks after a fire forced a shutdown and it declared force majeure.')).toBe('de-escalation');
    expect(direction(restart, 'However, a flood has halted production at its Malaysian separation plant, and a second plant remains shut.')).toBe('escalation');
    // A state's measure in the lede is news of its own beside a plant's restart.
    expect(direction('Lynas resumes heavy rare earth production', 'China suspended exports of seven rare earth elements and magnets.')).toBe('escalation');
    // Without a direction in the title, or with only a hedged one, the lede's decides.
    expect(direction('Lynas update on Kuantan rare earth plant', 'A fire forced a complete shutdown and the company declared force majeure.')).toBe('escalation');
    expect(direction('China may ease rare earth curbs, sources say', 'The commerce ministry banned exports of rare earth magnet technology.')).toBe('escalation');
  });

  it('ranks a ban above a licence requirement above an investigation above talks', () => {
    const ban = score('China bans exports of antimony');
    const licence = score('China requires export licences for antimony');
    const probe = score('US launches anti-dumping investigation into Chinese antimony');
    const talks = score('Antimony supply on the agenda as trade talks resume');
    expect(ban).toBeGreaterThan(licence);
    expect(licence).toBeGreaterThan(probe);
    expect(probe).toBeGreaterThan(talks);
  });

  it('reads lifted, suspended and eased controls as de-escalation, scored below the controls themselves', () => {
    const imposed = top(scorer, item('China imposes export controls on rare earths'));
    for (const title of ['China suspends export controls on rare earths', 'China lifts rare earth export ban', 'Beijing eases rare earth export curbs']) {
      const eased = top(scorer, item(title));
      expect(eased.direction, title).toBe('de-escalation');
      expect(eased.level, title).not.toBe('none');
      expect(eased.score, title).toBeLessThan(imposed.score);
    }
    expect(imposed.direction).toBe('escalation');
  });

  it('reads a halt of exports as escalation and their resumption as de-escalation', () => {
    expect(top(scorer, item('DRC suspends cobalt exports for four months')).direction).toBe('escalation');
    expect(top(scorer, item('China resumes rare earth magnet exports to Europe')).direction).toBe('de-escalation');
  });

  it('lets the verb that governs a phrase decide ("suspend newly imposed controls")', () => {
    const a = top(scorer, item('China agreed to suspend newly imposed export controls on rare earth elements'));
    expect(a.direction).toBe('de-escalation');
    expect(a.why).toContain('suspended');
  });

  it('does not count a measure that is denied or ruled out, neither as news nor as a lifting', () => {
    for (const title of [
      'China will not ban gallium exports, ministry says',
      'China rules out gallium export ban',
      'Ministry denies reports of gallium export ban',
      'China has no plans to ban gallium exports',
      "Beijing won't impose new export controls on gallium",
    ]) {
      const a = assessFor(scorer, 'critical-minerals', item(title));
      expect(a.level, title).toBe('none');
      expect(a.entities, title).toContain('gallium');
    }
  });

  it('still counts a denial of export licences, which is itself a restriction', () => {
    expect(assessFor(scorer, 'critical-minerals', item('China denies export licences for gallium shipments')).level).not.toBe('none');
  });

  it('discounts a threatened measure and says so', () => {
    const threatened = top(scorer, item('China threatens export ban on gallium'));
    const done = top(scorer, item('China imposes export ban on gallium'));
    expect(threatened.score).toBeLessThan(done.score);
    expect(threatened.why).toMatch(/^Possible export ban on gallium/);
  });

  it('treats a measure named as the cause of the news as background ("since controls were introduced")', () => {
    const a = top(scorer, item('China approves first licences for gallium shipments since export controls were introduced'));
    expect(a.direction).toBe('de-escalation');
    // A bare "licences" is not assumed to be an export licence (see the lexicon's licence-other): its label says licences.
    expect(a.why).toMatch(/^Licences for gallium .* granted/);
  });

  it('counts the title more than the summary', () => {
    const inTitle = score('China bans exports of tungsten', 'Officials spoke on Tuesday.');
    const inSummary = score('Officials spoke on Tuesday', 'China bans exports of tungsten.');
    expect(inTitle).toBeGreaterThan(inSummary);
  });

  it('weighs the more concentrated material more', () => {
    expect(score('China bans exports of gallium')).toBeGreaterThan(score('China bans exports of molybdenum'));
  });
});

describe('context: credibility, corroboration and recency', () => {
  const news = item('China imposes export controls on graphite');

  it('scores an official source above an aggregator, by sources.yaml credibility or a government domain', () => {
    const aggregator = top(scorer, news, { credibility: 0.4 });
    const official = top(scorer, news, { credibility: 1 });
    expect(official.score).toBeGreaterThan(aggregator.score);
    expect(official.why).toMatch(/official source$/);
    expect(top(scorer, { ...news, sourceId: 'www.bis.gov' }).why).toMatch(/official source$/);
  });

  it('raises a story carried by several sources and lowers an old one', () => {
    const alone = top(scorer, news).score;
    expect(top(scorer, news, { corroboration: 8 }).score).toBeGreaterThan(alone);
    const old = { ...news, publishedAt: '2025-01-01T00:00:00Z' };
    const later = top(scorer, old, { now: new Date('2025-06-01T00:00:00Z') });
    expect(later.score).toBeLessThan(alone);
    expect(later.factors.find((f) => f.name === 'recency')?.detail).toMatch(/published 151 days ago/);
  });

  it('explains every factor of the score', () => {
    const a = top(scorer, news, { corroboration: 4 });
    expect(a.factors.map((f) => f.name)).toEqual(expect.arrayContaining(['signal', 'concentration', 'credibility', 'corroboration']));
    expect(a.factors.find((f) => f.name === 'concentration')?.detail).toMatch(/China 93% of processing \(IEA 2024/);
  });
});

describe('watchlists', () => {
  it('returns one assessment per enabled watchlist, level none included, and skips disabled ones', () => {
    const config = configWith(`watchlists:
  - { id: magnets, materials: [rare-earths] }
  - { id: chips, products: [semiconductors] }
  - { id: off, enabled: false, materials: [gallium] }
`);
    const assessments = createScorer(config).assess(item('China bans rare earth exports'));
    expect(assessments.map((a) => [a.watchlistId, a.level === 'none'])).toEqual([
      ['magnets', false],
      ['chips', true],
    ]);
  });

  it('counts keywords as watched entities and silences a watchlist for an item with an exclude term', () => {
    const s = createScorer(
      configWith(`watchlists:
  - { id: kw, keywords: [samarium], exclude: [museum] }
`),
    );
    expect(assessFor(s, 'kw', item('China bans exports of samarium')).entities).toEqual(['samarium']);
    const excluded = assessFor(s, 'kw', item('Museum bans samarium exhibits export'));
    expect(excluded.level).toBe('none');
    expect(excluded.why).toBe('Excluded by this watchlist\'s term "Museum"');
  });

  it('hears about members of a watched group, and about the group when a member is watched (a little less)', () => {
    const s = createScorer(
      configWith(`watchlists:
  - { id: group, materials: [rare-earths] }
  - { id: member, materials: [samarium] }
`),
    );
    const member = s.assess(item('China bans samarium exports'));
    expect(member.every((a) => a.level !== 'none')).toBe(true);
    const [groupOnGroup, memberOnGroup] = s.assess(item('China bans rare earth exports'));
    expect(memberOnGroup.level).not.toBe('none');
    expect(memberOnGroup.score).toBeLessThan(groupOnGroup.score);
  });

  it('multiplies the score by the watchlist weight and maps scores to levels with the configured thresholds', () => {
    const config = configWith(`watchlists:
  - { id: normal, materials: [gallium] }
  - { id: heavy, materials: [gallium], weight: 1.5 }
`);
    config.settings.scoring.thresholds = { info: 5, low: 10, medium: 15, high: 20, critical: 25 };
    const [normal, heavy] = createScorer(config).assess(item('Gallium prices jump as supply tightens'));
    expect(heavy.score).toBeGreaterThan(normal.score);
    expect(normal.level).toBe('critical');
    expect(heavy.factors.find((f) => f.name === 'watchlist-weight')?.value).toBe(1.5);
  });
});
