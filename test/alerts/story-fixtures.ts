/**
 * Reworded headlines and ledes of one event from several outlets, written for these tests (not copied from any
 * outlet), plus events in the same days that share much of the vocabulary and must stay apart. `story` is the truth.
 */
export interface StoryFixture {
  story: string;
  source: string;
  title: string;
  summary: string;
}

export const STORY_FIXTURES: StoryFixture[] = [
  // China bans gallium/germanium/antimony exports to the US.
  { story: 'gage-ban', source: 'wire-a', title: 'China bans exports of gallium, germanium and antimony to the United States', summary: 'The commerce ministry said shipments of the three minerals to US buyers are prohibited with immediate effect, citing national security.' },
  { story: 'gage-ban', source: 'wire-b', title: 'Beijing halts gallium and germanium shipments to US in chip war escalation', summary: 'China barred exports of gallium, germanium and antimony to America, a day after Washington widened its chip curbs.' },
  { story: 'gage-ban', source: 'trade-press', title: 'China prohibits sales of gallium, germanium, antimony to American firms', summary: 'A Ministry of Commerce notice bans the export of dual-use gallium, germanium and antimony products to the US.' },
  { story: 'gage-ban', source: 'blog', title: "Gallium and germanium: what China's export ban to the US means for chipmakers", summary: 'China has banned gallium, germanium and antimony exports to the United States; buyers are scrambling for stock.' },
  // Same days: graphite controls (shares "China", "export", "controls").
  { story: 'graphite', source: 'wire-a', title: 'China tightens export controls on graphite used in EV batteries', summary: 'Exporters of high-purity graphite will need licences from December, the commerce ministry said.' },
  { story: 'graphite', source: 'wire-c', title: 'Beijing to require licences for graphite exports from December', summary: 'China will require export permits for some graphite products, a key material for electric-vehicle battery anodes.' },
  // Samarium magnet plant fire.
  { story: 'magnet-fire', source: 'wire-b', title: 'Fire halts production at Baotou samarium-cobalt magnet plant', summary: 'A fire at a rare earth magnet factory in Baotou has stopped output, the operator said; no injuries were reported.' },
  { story: 'magnet-fire', source: 'local-news', title: 'Baotou magnet factory shut after blaze, output suspended', summary: 'Production of samarium-cobalt magnets at the Baotou facility was stopped after a fire broke out on Tuesday night.' },
  { story: 'magnet-fire', source: 'trade-press', title: 'Blaze idles samarium cobalt magnet maker in Baotou', summary: 'The Baotou plant, a supplier of samarium-cobalt magnets to aerospace customers, is idle after a fire.' },
  // Same days: rare earth export quota (rare earth, China, magnet vocabulary).
  { story: 're-quota', source: 'wire-a', title: 'China sets first rare earth mining quota for the year at 135,000 tonnes', summary: 'The industry ministry issued the first batch of rare earth mining and smelting quotas for the year.' },
  { story: 're-quota', source: 'wire-c', title: 'China issues 135,000-tonne first batch of rare earth mining quotas', summary: 'Beijing announced its first rare earth mining quota of the year, unchanged from last year at 135,000 tonnes.' },
  // Nexperia export ban by China.
  { story: 'nexperia', source: 'wire-a', title: 'China blocks exports of Nexperia chips made in its factories', summary: 'The commerce ministry barred Nexperia China from exporting finished components, threatening supplies to carmakers.' },
  { story: 'nexperia', source: 'auto-news', title: 'Carmakers warn of shortages as China bars Nexperia chip exports', summary: 'Beijing prohibited exports of Nexperia chips produced in China; automakers say stocks of the parts last weeks.' },
  { story: 'nexperia', source: 'wire-b', title: 'Beijing bans export of Nexperia China products', summary: 'China has banned Nexperia from exporting chips assembled in China, escalating a dispute with the Netherlands.' },
  // Same days: a different chip company, a different action.
  { story: 'entity-list', source: 'wire-c', title: 'US adds 140 Chinese firms to Entity List over chipmaking tools', summary: 'The Commerce Department added 140 companies, including toolmakers, to its trade blacklist, restricting US exports to them.' },
  { story: 'entity-list', source: 'wire-a', title: 'Washington blacklists 140 Chinese companies in new chip equipment curbs', summary: 'The US placed 140 Chinese entities on the Entity List, cutting them off from American chipmaking equipment.' },
  // HBM export rule.
  { story: 'hbm-rule', source: 'wire-b', title: 'US restricts exports of high-bandwidth memory chips to China', summary: 'New Commerce rules require licences to ship HBM stacks used in AI accelerators to Chinese customers.' },
  { story: 'hbm-rule', source: 'tech-press', title: 'New US rules curb HBM memory sales to China', summary: 'High-bandwidth memory, essential for AI accelerators, now needs a US licence for export to China.' },
  // Tungsten price spike (same material family, different event type).
  { story: 'tungsten-price', source: 'trade-press', title: 'Tungsten prices hit record as Chinese supply tightens', summary: 'APT prices rose to a record this week amid thin Chinese supply and strong defence demand.' },
  { story: 'tungsten-price', source: 'wire-c', title: 'Tungsten climbs to all-time high on tight China supply', summary: 'Ammonium paratungstate prices reached a record high as Chinese output lagged demand.' },
  // Singletons that look like others.
  { story: 'gallium-price', source: 'trade-press', title: 'Gallium prices in Europe double in a month', summary: 'Gallium prices in Rotterdam doubled since last month as buyers sought supply outside China.' },
  { story: 'ge-recycling', source: 'blog', title: 'Germanium recycling plant opens in Belgium', summary: 'A new facility will recover germanium from optical fibre scrap, adding supply outside China.' },
  { story: 'antimony-mine', source: 'mining-news', title: 'Antimony mine in Idaho wins permit', summary: 'A US antimony and gold project received its final federal permit, a step toward domestic supply.' },
];

/** A later item of the gallium ban story: the suspension, which must join the story and flip its direction. */
export const SUSPENSION: StoryFixture = {
  story: 'gage-ban',
  source: 'wire-c',
  title: 'China suspends ban on gallium, germanium and antimony exports to US',
  summary: 'The commerce ministry said the ban on exports of gallium, germanium and antimony to the United States is suspended for a year.',
};
