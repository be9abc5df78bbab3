import {
  federalRegisterJson,
  type FrDocument,
  gdeltArtlist,
  type GdeltArticle,
  googleNewsRss,
  type NewsEntry,
  pressPage,
  type PressRelease,
  screeningJson,
  type ScreeningFixture,
} from './shapes.js';

/**
 * The demo's content: invented headlines, rules and list entries (no real article, document or listing), written so
 * that the default watchlists raise alerts at several levels and leave the look-alikes alone (potato chips, poker
 * chips, Earth Day). Companies and outlets are fictitious; links point at the reserved `.example` domain.
 *
 * The sources "publish" in stages: the demo moves the stage forward to show what happens when a screening list gains
 * an entry, when a third outlet corroborates a story and when a ban is suspended.
 */
export const STAGES = ['initial', 'listed', 'corroborated', 'suspended'] as const;
export type Stage = (typeof STAGES)[number];

export interface Feed {
  contentType: string;
  body: string;
}

const stageIndex = (stage: Stage) => STAGES.indexOf(stage);
const hoursBefore = (now: Date, hours: number) => new Date(now.getTime() - hours * 3_600_000);
/** Items carry the stage from which they are published. */
type Staged<T> = T & { from?: Stage };
const visible = <T>(list: Array<Staged<T>>, stage: Stage): T[] => list.filter((x) => stageIndex(x.from ?? 'initial') <= stageIndex(stage));

const BIS = { name: 'Industry and Security Bureau', slug: 'industry-and-security-bureau' };
const USTR = { name: 'Trade Representative, Office of United States', slug: 'trade-representative-office-of-united-states' };
const fr = (path: string) => `https://federalregister.demo.example/documents/${path}`;

function federalRegister(now: Date): Array<Staged<FrDocument>> {
  return [
    {
      documentNumber: 'D-2041',
      title: 'Additions to the Entity List',
      type: 'Rule',
      action: 'Final rule.',
      abstract:
        'In this rule, the Bureau of Industry and Security (BIS) amends the Export Administration Regulations (EAR) by adding eleven entities under the destination of China to the Entity List, including Qianhai Lumen Semiconductor Co., Ltd., a designer of AI accelerators, for acquiring U.S.-origin items in support of military modernization.',
      agencies: [BIS],
      publicationDate: hoursBefore(now, 5),
      url: fr('d-2041/additions-to-the-entity-list'),
    },
    {
      documentNumber: 'D-2039',
      title: 'Revisions to License Requirements for Advanced Computing Items: AI Accelerators and High-Bandwidth Memory',
      type: 'Rule',
      action: 'Interim final rule.',
      abstract:
        'BIS amends the EAR to require a license for exports of advanced AI accelerators and high-bandwidth memory to China and Macau and to entities headquartered there. This interim final rule is effective immediately.',
      agencies: [BIS],
      publicationDate: hoursBefore(now, 6),
      url: fr('d-2039/revisions-to-license-requirements-for-advanced-computing-items'),
    },
    {
      documentNumber: 'D-2035',
      title: 'Information Systems Technical Advisory Committee; Notice of Partially Closed Meeting',
      type: 'Notice',
      action: 'Notice of partially closed meeting.',
      abstract: 'The Information Systems Technical Advisory Committee will meet to discuss its work plan and hear a presentation from the public.',
      agencies: [BIS],
      publicationDate: hoursBefore(now, 30),
      url: fr('d-2035/information-systems-technical-advisory-committee'),
    },
    {
      documentNumber: 'D-2036',
      title: 'Agency Information Collection Activities; Comment Request; Chemical Weapons Convention Declaration Forms',
      type: 'Notice',
      action: 'Notice of information collection; request for comment.',
      abstract: 'The Department of Commerce invites the public to comment on the renewal of an existing information collection: the forms used to file declarations under the Chemical Weapons Convention.',
      agencies: [BIS],
      publicationDate: hoursBefore(now, 28),
      url: fr('d-2036/agency-information-collection-activities'),
    },
  ];
}

function ustrDocuments(now: Date): Array<Staged<FrDocument>> {
  return [
    {
      documentNumber: 'D-2038',
      title: 'Notice of Hearing Schedule for the Annual Review of Trade Preference Programs',
      type: 'Notice',
      action: 'Notice of public hearing.',
      abstract: 'The Trade Policy Staff Committee will hold a public hearing on the annual review of trade preference programs. Requests to appear are due within 30 days.',
      agencies: [USTR],
      publicationDate: hoursBefore(now, 20),
      url: fr('d-2038/notice-of-hearing-schedule'),
    },
  ];
}

const news = (id: string, title: string, outlet: string, domain: string, hours: number, now: Date): NewsEntry => ({
  id: `demo-${id}`,
  title,
  outlet,
  url: `https://${domain}/${new Date(now.getTime() - hours * 3_600_000).toISOString().slice(0, 10)}/${id}`,
  publishedAt: hoursBefore(now, hours),
});

function newsFeeds(now: Date): Record<string, { query: string; entries: Array<Staged<NewsEntry>> }> {
  return {
    'rare-earths': {
      query: 'rare earth export',
      entries: [
        news('magnet-licence', 'Beijing adds licence requirement for rare earth magnet exports', 'Metals Wire', 'metals-wire.example', 3, now),
        news('magnet-plant', 'Rare earth magnet maker opens new plant in Texas', 'Metals Wire', 'metals-wire.example', 9, now),
        news('earth-day', 'Earth Day: volunteers plant native trees across the city', 'City Gazette', 'city-gazette.example', 4, now),
        {
          ...news('gallium-scramble', "Chipmakers scramble for gallium and germanium after China's export ban", 'Metals Wire', 'metals-wire.example', 0.2, now),
          from: 'corroborated',
        },
      ],
    },
    'critical-minerals': {
      query: 'gallium germanium antimony export',
      entries: [
        news('gallium-ban', 'China bans gallium and germanium exports to the United States', 'Asia Trade Journal', 'asia-trade-journal.example', 2, now),
        news('antimony-curbs-lifted', 'Beijing lifts antimony export curbs for a year', 'Commodities Desk', 'commodities-desk.example', 7, now),
        news('potato-chips', 'Potato chip shortage hits supermarket shelves after poor harvest', 'Food Weekly', 'food-weekly.example', 5, now),
      ],
    },
    'ai-chips': {
      query: 'AI chips export controls',
      entries: [
        news('ai-accelerators', 'US tightens license rules on AI accelerator exports to China', 'Chip Policy Daily', 'chip-policy-daily.example', 4, now),
        news('poker-chips', 'Poker chip maker expands as Las Vegas casino revenue climbs', 'Gaming Daily', 'gaming-daily.example', 6, now),
      ],
    },
  };
}

const article = (title: string, slug: string, domain: string, hours: number, now: Date, sourceCountry: string): GdeltArticle => ({
  title,
  url: `https://${domain}/world/${slug}`,
  domain,
  seenAt: hoursBefore(now, hours),
  sourceCountry,
});

function gdelt(now: Date): Record<string, Array<Staged<GdeltArticle>>> {
  return {
    minerals: [
      article('Beijing halts gallium and germanium shipments to US in chip dispute', 'beijing-halts-gallium-germanium', 'eastern-ledger.example', 1.5, now, 'Singapore'),
      article('Graphite miner in Mozambique reports record quarterly output', 'graphite-record-output', 'mining-review.example', 10, now, 'South Africa'),
      {
        ...article('China suspends gallium and germanium export ban on US for one year', 'china-suspends-gallium-germanium-ban', 'eastern-ledger.example', 0.1, now, 'Singapore'),
        from: 'suspended',
      },
    ],
    semiconductors: [
      article('Netherlands widens export controls on DUV lithography tools', 'netherlands-duv-controls', 'lowlands-business.example', 8, now, 'Netherlands'),
      article('Chip stocks little changed as investors await earnings season', 'chip-stocks-earnings', 'market-pulse.example', 3, now, 'United States'),
    ],
  };
}

function pressReleases(now: Date): Array<Staged<PressRelease>> {
  const url = (slug: string) => `https://commerce-press.demo.example/press-releases/${slug}`;
  return [
    {
      title: 'Commerce Adds Eleven Entities to the Entity List, Including an AI Chip Designer',
      url: url('commerce-adds-eleven-entities'),
      date: hoursBefore(now, 5),
      summary: 'The Bureau of Industry and Security added Qianhai Lumen Semiconductor and ten other entities in China to the Entity List for supporting military end uses.',
    },
    {
      title: 'Commerce Strengthens Export Controls on AI Accelerators and High-Bandwidth Memory',
      url: url('commerce-strengthens-controls-ai-accelerators'),
      date: hoursBefore(now, 6),
      summary: 'New license requirements for advanced AI accelerators and high-bandwidth memory bound for China take effect immediately.',
    },
    {
      title: 'Under Secretary to Deliver Keynote at Annual Update Conference',
      url: url('under-secretary-keynote-annual-update'),
      date: hoursBefore(now, 48),
      summary: 'The conference brings together exporters, compliance officers and government officials.',
    },
  ];
}

const EL = 'Entity List (EL) - Bureau of Industry and Security';
const SDN = 'Specially Designated Nationals (SDN) - Treasury Department';
const listUrl = 'https://screening.demo.example/consolidated-screening-list';

function screening(now: Date): Array<Staged<ScreeningFixture>> {
  const entry = (id: string, name: string, source: string, city: string, country: string, startDate: string, extra: Partial<ScreeningFixture> = {}) => ({
    id,
    name,
    altNames: [],
    source,
    programs: source === EL ? ['EAR'] : ['SDGT'],
    addresses: [{ address: `${10 + id.length} Harbour Road`, city, country }],
    startDate,
    sourceListUrl: listUrl,
    ...extra,
  });
  return [
    entry('demo-el-0001', 'Northwind Precision Optics Co., Ltd.', EL, 'Wuhan', 'CN', '2024-03-11'),
    entry('demo-el-0002', 'Harbor Crest Trading Limited', EL, 'Hong Kong', 'HK', '2023-11-02'),
    entry('demo-el-0003', 'Sable Ridge Aerospace Components LLC', EL, 'Moscow', 'RU', '2022-06-28'),
    entry('demo-sdn-0004', 'Blue Lantern Shipping Inc.', SDN, 'Dubai', 'AE', '2024-08-19'),
    entry('demo-sdn-0005', 'Meridian Frontier Holdings', SDN, 'Tehran', 'IR', '2021-01-15'),
    {
      ...entry('demo-el-0006', 'Qianhai Lumen Semiconductor Co., Ltd.', EL, 'Shenzhen', 'CN', now.toISOString().slice(0, 10), {
        altNames: ['Lumen Semi', 'Qianhai Lumen Microelectronics'],
        federalRegisterNotice: 'Demo FR Doc. D-2041',
      }),
      from: 'listed',
    },
  ];
}

/** Every path the demo sources poll, rendered for one stage. Dates are relative to `now` so items are always recent. */
export function renderFeeds(stage: Stage, now: Date): Map<string, Feed> {
  const feeds = new Map<string, Feed>();
  const json = (body: string): Feed => ({ contentType: 'application/json; charset=utf-8', body });
  feeds.set('/federalregister/api/v1/documents.json?agency=industry-and-security-bureau', json(federalRegisterJson('Documents from the Industry and Security Bureau', visible(federalRegister(now), stage))));
  feeds.set('/federalregister/api/v1/documents.json?agency=trade-representative-office-of-united-states', json(federalRegisterJson('Documents from the Office of the United States Trade Representative', visible(ustrDocuments(now), stage))));
  for (const [name, feed] of Object.entries(newsFeeds(now))) {
    feeds.set(`/news/rss/${name}`, { contentType: 'application/rss+xml; charset=utf-8', body: googleNewsRss(feed.query, visible(feed.entries, stage), now) });
  }
  for (const [name, articles] of Object.entries(gdelt(now))) feeds.set(`/gdelt/${name}`, json(gdeltArtlist(visible(articles, stage))));
  feeds.set('/commerce/press-releases', { contentType: 'text/html; charset=utf-8', body: pressPage('U.S. Department of Commerce (demo)', visible(pressReleases(now), stage)) });
  feeds.set('/csl/consolidated.json', json(screeningJson(visible(screening(now), stage))));
  return feeds;
}

/** Headlines that must never alert: the look-alikes the scorer has to tell apart. */
export const TRAP_TITLES = [
  'Earth Day: volunteers plant native trees across the city',
  'Potato chip shortage hits supermarket shelves after poor harvest',
  'Poker chip maker expands as Las Vegas casino revenue climbs',
] as const;

/** What each stage adds, for the terminal. */
export const STAGE_NOTES: Record<Stage, string> = {
  initial: 'the demo sources publish their first stories',
  listed: 'the screening list gains an Entity List entry (a chip designer)',
  corroborated: 'a third outlet reports the gallium and germanium ban',
  suspended: 'a wire reports that the gallium and germanium ban is suspended',
};
